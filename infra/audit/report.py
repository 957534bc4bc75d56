"""The audit's findings for people."""

from __future__ import annotations

from infra.audit.audit import AuditResult


def render_audit(result: AuditResult) -> str:
    lines = [
        f"Tag audit of {result.environment!r} in account {result.account}, {result.region}: "
        f"{len(result.resources)} resources checked"
    ]
    if result.tag_gaps:
        lines += ["", f"  {'resource':<44} {'kind':<24} gap (found via)"]
        for gap in result.tag_gaps:
            lines.append(f"  {gap.resource[:44]:<44} {gap.kind:<24} {gap.describe()} ({gap.via})")
    for gap in result.budget_gaps:
        lines.append(f"  BUDGET {gap.budget}: {gap.problem}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    if result.clean:
        lines.append(f"CLEAN: every resource carries the required tags and budget {result.budget['BudgetName']!r} filters on the environment")
    else:
        lines.append(f"GAPS: {len(result.tag_gaps)} tag gap(s) on {len({g.resource for g in result.tag_gaps})} resource(s), {len(result.budget_gaps)} budget gap(s)")
    return "\n".join(lines)
