"""What differs between two environments: resolved config key by key, resources in their
offline plans, monthly cost floor and max, release pins. Plain data; the CLI prints it as a
table or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.config.overlays import resolve
from infra.environments.pins import ReleasePins, load_pins
from infra.environments.snapshot import Snapshot, take_snapshot

# Per resource, at most this many changed input paths are listed (the count is always given).
MAX_PATHS = 6


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested mappings and lists as `a.b[0].c` -> value."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out |= flatten(item, f"{prefix}[{index}]")
        return out or {prefix: []}
    return {prefix: value}


_ABSENT = "(absent)"


def leaf_diff(left: Any, right: Any) -> list[dict[str, Any]]:
    a, b = flatten(left), flatten(right)
    rows = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, _ABSENT) != b.get(key, _ABSENT):
            rows.append({"key": key, "a": a.get(key, _ABSENT), "b": b.get(key, _ABSENT)})
    return rows


def pins_diff(a: ReleasePins, b: ReleasePins) -> list[dict[str, Any]]:
    fa, fb = a.flat(), b.flat()
    return [{"pin": k, "a": fa.get(k), "b": fb.get(k)} for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def resources_diff(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    added = sorted(set(b.resources) - set(a.resources))
    removed = sorted(set(a.resources) - set(b.resources))
    changed = []
    for key in sorted(set(a.resources) & set(b.resources)):
        paths = [row["key"] for row in leaf_diff(a.resources[key], b.resources[key])]
        if paths:
            changed.append({"resource": key, "changed_inputs": len(paths), "paths": paths[:MAX_PATHS]})
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "unchanged": len(set(a.resources) & set(b.resources)) - len(changed),
    }


def cost_diff(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    return {
        "floor": {"a": a.cost_floor, "b": b.cost_floor, "delta": round(b.cost_floor - a.cost_floor, 2)},
        "max": {"a": a.cost_max, "b": b.cost_max, "delta": round(b.cost_max - a.cost_max, 2)},
    }


def diff_environments(a: str, a_root: Path, b: str, b_root: Path, with_plan: bool = True) -> dict[str, Any]:
    """The full comparison of environment `a` (under `a_root`) with `b` (under `b_root`)."""
    pins_a, pins_b = load_pins(a, a_root), load_pins(b, b_root)
    out: dict[str, Any] = {
        "a": a,
        "b": b,
        "config": leaf_diff(resolve(a, a_root), resolve(b, b_root)),
        "pins": {"a_release": pins_a.release_id, "b_release": pins_b.release_id, "differences": pins_diff(pins_a, pins_b)},
    }
    if with_plan:
        snap_a, snap_b = take_snapshot(a, a_root), take_snapshot(b, b_root)
        out["resources"] = resources_diff(snap_a, snap_b)
        out["monthly_cost_usd"] = cost_diff(snap_a, snap_b)
    return out


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 48 else text[:45] + "..."


def render_table(result: dict[str, Any]) -> str:
    a, b = result["a"], result["b"]
    lines = [f"Differences between {a} (a) and {b} (b)", ""]
    rows = result["config"]
    lines.append(f"Resolved config: {len(rows)} key(s) differ")
    if rows:
        width = max(len(r["key"]) for r in rows)
        lines.append(f"  {'key':<{width}}  {a:<30} {b}")
        lines += [f"  {r['key']:<{width}}  {_cell(r['a']):<30} {_cell(r['b'])}" for r in rows]
    lines.append("")
    pins = result["pins"]
    lines.append(f"Release pins: {a} {pins['a_release']}, {b} {pins['b_release']}")
    for row in pins["differences"]:
        lines.append(f"  {row['pin']:<22} {_cell(row['a'] or '(none)'):<44} {_cell(row['b'] or '(none)')}")
    if not pins["differences"]:
        lines.append("  identical")
    if "resources" in result:
        res = result["resources"]
        lines += [
            "",
            f"Offline plan resources: {len(res['added'])} only in {b}, {len(res['removed'])} only in {a}, "
            f"{len(res['changed'])} with different inputs, {res['unchanged']} the same",
        ]
        lines += [f"  + {key}" for key in res["added"]]
        lines += [f"  - {key}" for key in res["removed"]]
        for row in res["changed"]:
            more = f" (+{row['changed_inputs'] - len(row['paths'])} more)" if row["changed_inputs"] > len(row["paths"]) else ""
            lines.append(f"  ~ {row['resource']}: {', '.join(row['paths'])}{more}")
        money = result["monthly_cost_usd"]
        lines += ["", "Monthly cost estimate, USD (infra/plan/cost.py)"]
        lines.append(f"  {'':<6} {a:>14} {b:>14} {'delta':>14}")
        for key in ("floor", "max"):
            m = money[key]
            lines.append(f"  {key:<6} {m['a']:>14,.2f} {m['b']:>14,.2f} {m['delta']:>+14,.2f}")
    return "\n".join(lines)
