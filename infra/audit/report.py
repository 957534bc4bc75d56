"""The audit's findings for people: one line per resource with a gap."""

from __future__ import annotations

from itertools import groupby

from infra.audit.audit import AuditResult


def render_audit(result: AuditResult) -> str:
    lines = [
        f"Tag audit of {result.environment!r} in account {result.account}, {result.region}: "
        f"{len(result.resources)} resources checked"
    ]
    if result.tag_gaps:
        lines += ["", f"  {'resource':<34} {'kind':<22} gaps"]
        for (resource, kind, via), gaps in groupby(result.tag_gaps, key=lambda g: (g.resource, g.kind, g.via)):
            gaps = list(gaps)
            missing = [g.key for g in gaps if g.problem == "missing"]
            parts = [f"missing {', '.join(missing)}"] if missing else []
            parts += [g.describe() for g in gaps if g.problem != "missing"]
            lines.append(f"  {resource[-34:]:<34} {kind:<22} {'; '.join(parts)} [{via}]")
    for gap in result.budget_gaps:
        lines.append(f"  BUDGET {gap.budget}: {gap.problem}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    if result.clean:
        assert result.budget is not None, "budget_gaps reports a gap when there is no budget, so a clean result has one"
        lines.append(
            f"CLEAN: every resource carries the required tags and budget {result.budget['BudgetName']!r} filters on the environment"
        )
    else:
        resources = len({g.resource for g in result.tag_gaps})
        lines.append(
            f"GAPS: {len(result.tag_gaps)} tag gap(s) on {resources} resource(s), {len(result.budget_gaps)} budget gap(s)"
        )
    return "\n".join(lines)
