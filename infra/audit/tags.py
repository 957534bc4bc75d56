"""Tag gaps of the resources found: missing keys, keys in another spelling, other values.

Cost allocation tags are case-sensitive (AWS Billing user guide, "Using user-defined cost
allocation tags"): `Environment=dev` next to `environment=dev` splits a bill in two, so a key
that equals a required key but for case or separators (`Cost-Center`, `cost_center`,
`CostCenter`) is a gap, reported with the spelling found.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

from infra.audit.inventory import Found

Problem = Literal["missing", "wrong-case", "wrong-value"]


@dataclass(frozen=True)
class TagGap:
    resource: str
    kind: str
    via: str
    problem: Problem
    key: str
    expected: str
    found_key: str | None = None
    found_value: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.problem == "missing":
            return f"missing {self.key}={self.expected}"
        if self.problem == "wrong-case":
            return f"{self.found_key}={self.found_value}: key must be spelled {self.key!r}"
        return f"{self.key}={self.found_value}: expected {self.expected!r}"


def _folded(key: str) -> str:
    return re.sub(r"[-_ .:]", "", key).lower()


def tag_gaps(found: list[Found], expected: dict[str, str]) -> list[TagGap]:
    """Every gap of every resource against `expected` (the environment's cost tags)."""
    gaps = []
    for item in found:
        for key, value in expected.items():
            if key in item.tags:
                if item.tags[key] != value:
                    gaps.append(TagGap(item.id, item.kind, item.via, "wrong-value", key, value, key, item.tags[key]))
                continue
            near = next((k for k in item.tags if _folded(k) == _folded(key)), None)
            if near is not None:
                gaps.append(TagGap(item.id, item.kind, item.via, "wrong-case", key, value, near, item.tags[near]))
            else:
                gaps.append(TagGap(item.id, item.kind, item.via, "missing", key, value))
    return gaps
