"""charts/gpt-oss-serving/values.schema.json, generated from the values model's JSON schema.

Helm validates the merged values of every install, upgrade, template and lint against it
(https://helm.sh/docs/topics/charts/#schema-files), so a typo fails at render time, not in the
cluster. pydantic's schema is reshaped into a self-contained draft-07 document:
- `$ref`s into `$defs` are inlined (one readable tree; no reference resolution needed);
- every key of a section is required: Helm validates values after merging them with values.yaml,
  where every key has its default, so a missing key means a null or a broken override;
- optional keys of Kubernetes shapes (an ipBlock's `except`) are optional, not nullable: the
  model never emits null (see infra/chart_values/model/base.py);
- constrained map keys (`patternProperties`, which would let other keys through) become
  `propertyNames` with the value schema as `additionalProperties`;
- titles and defaults are dropped (values.yaml shows the defaults).
Objects that list properties forbid others (`additionalProperties: false`, from `extra="forbid"`).
"""

from __future__ import annotations

import json
from typing import Any

from infra.chart_values.model import ChartValues

DRAFT = "http://json-schema.org/draft-07/schema#"
# An umbrella chart that depends on this one passes its `global` values down to it
# (https://helm.sh/docs/chart_template_guide/subcharts_and_globals/#global-chart-values), so the strict
# root must accept the key; this chart reads nothing from it.
GLOBAL = {"description": "Helm's global values, passed down by a parent chart (unused by this chart).", "type": "object"}
DROPPED = ("title", "default")
FIRST = ("description", "type")
LAST = ("properties", "required", "additionalProperties", "propertyNames", "items")
# Conditions written by hand in the model (json_schema_extra): constraints on an object, not its shape.
CONDITIONS = ("if", "then", "else", "not")


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].removeprefix("#/$defs/")]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return _inline({**target, **siblings}, defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def _nullable(node: dict[str, Any]) -> bool:
    return any(branch == {"type": "null"} for branch in node.get("anyOf", []))


def _not_null(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` as X (with the outer description)."""
    if not _nullable(node):
        return node
    (kept,) = [branch for branch in node["anyOf"] if branch != {"type": "null"}]
    return {**{k: v for k, v in node.items() if k != "anyOf"}, **kept}


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    def rank(key: str) -> tuple[int, int]:
        if key in FIRST:
            return (0, FIRST.index(key))
        if key in LAST:
            return (2, LAST.index(key))
        return (1, 0)

    return {key: node[key] for key in sorted(node, key=rank)}


def _tidy(node: Any) -> Any:
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: v for k, v in _not_null(node).items() if k not in DROPPED}
    out = {
        k: v if k in CONDITIONS else _tidy(v) for k, v in node.items() if k not in ("properties", "required", "patternProperties")
    }
    if "properties" in node:
        out["properties"] = {name: _tidy(child) for name, child in node["properties"].items()}
        required = [name for name, child in node["properties"].items() if not _nullable(child)]
        if required:
            out["required"] = required
        out["additionalProperties"] = False
    if "patternProperties" in node:
        ((pattern, values),) = node["patternProperties"].items()
        out["propertyNames"] = {**out.get("propertyNames", {}), "pattern": pattern}
        out["additionalProperties"] = _tidy(values)
    return _ordered(out)


def values_schema() -> dict[str, Any]:
    raw = ChartValues.model_json_schema(by_alias=True, mode="validation")
    schema = _tidy(_inline({k: v for k, v in raw.items() if k != "$defs"}, raw.get("$defs", {})))
    schema["properties"] = {"global": GLOBAL, **schema["properties"]}
    return {
        "$schema": DRAFT,
        "title": "gpt-oss-serving values",
        "description": "GENERATED from infra/chart_values/model/ by `gpt-oss-platform reference --write`; do not edit. "
        "Strict: every object that lists its keys forbids others; free-form maps are labels, selectors, annotations, "
        "vLLM's extraArgs and the gateway's settings.",
        **schema,
    }


def values_schema_text() -> str:
    return json.dumps(values_schema(), indent=2, ensure_ascii=False) + "\n"
