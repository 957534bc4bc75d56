"""Every third-party release is checked against its upstream chart at the version it pins.

A release whose chart has no pinned upstream copy, or whose pinned version differs from the copy
the plan renders, cannot be checked, so the plan fails (infra/upstream/lock.json; the chart is
rendered by infra/plan/third_party.py with Helm's engine and the exact values the program passes).
"""

from __future__ import annotations

from infra.plan.checks import Finding, PlannedStack


def check(stack: PlannedStack) -> list[Finding]:
    return [
        Finding("upstream_charts", f"Helm release {release.name} ({release.chart} {release.version})", problem)
        for release in stack.upstream
        for problem in release.problems
    ]
