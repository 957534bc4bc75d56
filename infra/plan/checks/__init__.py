"""Checks that model the systems the stack configures, run over everything the offline plan saw.

Each check is a module with one function, `check(stack: PlannedStack) -> list[Finding]`, and
cites in its docstring the upstream rule it applies (the kubelet, Helm, the Kubernetes API,
Pulumi's engine, cluster-autoscaler, EKS, IAM). A finding fails the plan.
"""

from __future__ import annotations

# The types live in infra/plan/planned.py (no circle through the checks that use them); every
# check imports them from here, as before.
from infra.plan.planned import Check, Finding, Manifest, PlannedStack

__all__ = ["Check", "Finding", "Manifest", "PlannedStack", "all_checks", "run_checks"]


def all_checks() -> dict[str, Check]:
    from infra.plan.checks import (
        access_entries,
        iam,
        node_images,
        node_labels,
        ordering,
        scale_from_zero,
        schemas,
        selectors,
        upstream_charts,
    )

    modules = (upstream_charts, schemas, selectors, node_labels, ordering, scale_from_zero, access_entries, iam, node_images)
    return {module.__name__.rsplit(".", 1)[-1]: module.check for module in modules}


def run_checks(stack: PlannedStack) -> list[Finding]:
    findings: list[Finding] = []
    for check in all_checks().values():
        findings += check(stack)
    return findings
