"""The values table of charts/gpt-oss-serving/README.md (the `values-table` block), generated from
the values model in helm-docs' layout: key, type, default, description."""

from __future__ import annotations

import json
from typing import Any

from infra.chart_values.documented import documented_keys


def _type(value: Any) -> str:
    """helm-docs' names of YAML types."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def values_table() -> str:
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for key in documented_keys():
        if key.section:
            continue
        default = json.dumps(key.default, ensure_ascii=False)
        rows.append(f"| `{key.dotted}` | {_type(key.default)} | `{_cell(default)}` | {_cell(key.description)} |")
    return "\n".join(rows)
