"""Tiers (dev, staging, prod) and their guardrails, read from tiers.yaml next to this module.

Rules are data so that a reviewer sees every guardrail of a tier in one file, and a new rule is
a data change with a test, not code scattered through validators. Each violated rule is one
`Problem(path, message, value)` in the same `ConfigError` as every other config problem.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from infra.config.errors import Problem, problem

TIERS_FILE = Path(__file__).resolve().parent / "tiers.yaml"
_MISSING = object()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Check(_Strict):
    """One condition on one key path: exactly one of min, equals, present."""

    key: str
    min: float | None = None
    equals: Any = None
    present: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Check:
        kinds = [k for k in ("min", "equals", "present") if k in self.model_fields_set]
        if len(kinds) != 1:
            raise ValueError(f"rule on {self.key} needs exactly one of min, equals, present; got {kinds}")
        # `min: null` counts as the kind `min` but has no bound: holds() and wanted() would fail
        # with a TypeError when an environment is validated, not here where the rule is read.
        if kinds == ["min"] and self.min is None:
            raise ValueError(f"rule on {self.key}: min must be a number, not null")
        return self

    def holds(self, value: Any) -> bool:
        if "present" in self.model_fields_set:
            return (value is not _MISSING and value is not None) == self.present
        if value is _MISSING:
            return False
        if "min" in self.model_fields_set:
            assert self.min is not None, "_one_kind refuses a null min"
            return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= self.min
        return value == self.equals

    def wanted(self) -> str:
        """What the rule wants, as the user writes it in YAML."""
        if "present" in self.model_fields_set:
            return "set" if self.present else "unset"
        if "min" in self.model_fields_set:
            return f">= {self.min:g}"
        return json.dumps(self.equals)

    def fix(self, path: str) -> str:
        if "present" in self.model_fields_set:
            return f"{'set' if self.present else 'remove'} {path}"
        if "min" in self.model_fields_set:
            return f"set {path} {self.wanted()}"
        return f"set {path} to {self.wanted()}"


class Guardrail(_Strict):
    key: str | None = None
    min: float | None = None
    equals: Any = None
    present: bool | None = None
    any_of: list[Check] | None = None
    why: str = Field(description="Shown with the fix: what breaks without the rule.")

    @model_validator(mode="after")
    def _shape(self) -> Guardrail:
        if (self.any_of is None) == (self.key is None):
            raise ValueError("a guardrail has either `key` (with min/equals/present) or `any_of`")
        if self.key is not None:
            self.checks()  # validates the single check
        return self

    def checks(self) -> list[Check]:
        if self.any_of is not None:
            return list(self.any_of)
        fields = {k: getattr(self, k) for k in ("min", "equals", "present") if k in self.model_fields_set}
        assert self.key is not None, "_shape: a guardrail has either any_of or a key"
        return [Check(key=self.key, **fields)]


class Tier(_Strict):
    rank: int = Field(ge=0)
    soak_hours: float = Field(ge=0)
    require_image_digests: bool
    refuse_placeholders: bool = Field(
        False,
        description="`pulumi up` refuses documentation CIDRs, example domains and placeholder accounts "
        "(infra/config/placeholders.py); the offline plan only warns, `plan --strict` fails.",
    )
    guardrails: list[Guardrail]


class Tiers(_Strict):
    tiers: dict[str, Tier]

    def ordered(self) -> list[str]:
        return sorted(self.tiers, key=lambda name: self.tiers[name].rank)


@lru_cache(maxsize=1)
def load_tiers(path: Path = TIERS_FILE) -> Tiers:
    return Tiers.model_validate(yaml.safe_load(path.read_text()))


def _serving_pool_index(env: dict) -> int | None:
    pools = env.get("node_pools")
    if not isinstance(pools, list) or not pools:
        return None
    wanted = (env.get("serving") or {}).get("node_pool") if isinstance(env.get("serving"), dict) else None
    if wanted is None:
        return 0 if len(pools) == 1 else None
    return next((i for i, p in enumerate(pools) if isinstance(p, dict) and p.get("name") == wanted), None)


def _on_demand_nodes(env: dict) -> tuple[str, Any]:
    """Nodes of the serving pool that are never preempted: all of them with on-demand capacity,
    `on_demand_floor` with spot (infra/node_pool_shape.py splits the pool the same way)."""
    index = _serving_pool_index(env)
    if index is None:
        return "serving.node_pool", _MISSING
    pool = env["node_pools"][index]
    if pool.get("capacity_type") == "on_demand":
        return f"node_pools[{index}].min_nodes", pool.get("min_nodes", _MISSING)
    return f"node_pools[{index}].on_demand_floor", pool.get("on_demand_floor", 0)


# Facts derived from several keys; a rule names them like a key path.
DERIVED = {"serving_pool.on_demand_nodes": _on_demand_nodes}


def lookup(env: dict, key: str) -> tuple[str, Any]:
    """(the key path a user edits, its value or _MISSING)."""
    if key in DERIVED:
        return DERIVED[key](env)
    node: Any = env
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return key, _MISSING
        node = node[part]
    return key, node


def guardrail_problems(tier_name: Any, env: dict, tiers: Tiers | None = None) -> list[Problem]:
    """Every guardrail of `tier_name` that `env` (the environment as a dict, defaults applied
    where it parsed) violates; an unknown tier is itself a problem."""
    tiers = tiers or load_tiers()
    if not isinstance(tier_name, str) or tier_name not in tiers.tiers:
        known = ", ".join(tiers.ordered())
        return [problem("tier", f"must be one of {known} (infra/config/tiers.yaml)", tier_name)]
    found = []
    for rule in tiers.tiers[tier_name].guardrails:
        checks = rule.checks()
        results = [(check, *lookup(env, check.key)) for check in checks]
        if any(check.holds(value) for check, _, value in results):
            continue
        check, path, value = results[0]
        fix = " or ".join(c.fix(p) for c, p, _ in results)
        wanted = " or ".join(f"{p} {c.wanted()}" for c, p, _ in results) if len(results) > 1 else check.wanted()
        message = f"{tier_name} tier requires {wanted}: {rule.why}; {fix}"
        if value is _MISSING:
            found.append(problem(path, message))
        else:
            found.append(problem(path, message, value))
    return found
