"""Every custom resource waits for what installs its CRD.

Applying an object whose CRD does not exist yet fails ("no matches for kind ServiceMonitor in
version monitoring.coreos.com/v1"). Helm installs a chart's crds/ folders (its subcharts' too)
before its templates, so a release may create objects of its own CRDs; anything else must be
created after the release that installs the CRD. Pulumi orders steps only by each resource's own
dependencies (its `depends_on` and the outputs its inputs use), not by those of the component it
sits in (pulumi/pulumi#8721), so the check reads each resource's own recorded dependencies,
transitively (infra/plan/mocks.py records them from the engine's RegisterResource requests).
"""

from __future__ import annotations

from infra.plan.checks import Finding, Manifest, PlannedStack
from infra.plan.checks.schemas import PROMETHEUS_OPERATOR_GROUP
from infra.plan.mocks import Registration


def installers(crds: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    """(group, kind) -> the CRD manifest (and so the registration that installs it)."""
    index = {}
    for crd in crds:
        spec = crd.document.get("spec") or {}
        index[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))] = crd
    return index


def waits_for(registration: Registration, target: Registration, by_urn: dict[str, Registration]) -> bool:
    """Whether `registration` depends, directly or through other resources, on `target`."""
    seen: set[str] = set()
    frontier = list(registration.dependencies)
    while frontier:
        urn = frontier.pop()
        if urn == target.urn:
            return True
        if urn in seen:
            continue
        seen.add(urn)
        dependency = by_urn.get(urn)
        if dependency is not None:
            frontier.extend(dependency.dependencies)
    return False


def check(stack: PlannedStack) -> list[Finding]:
    index = installers(stack.crds)
    by_urn = stack.by_urn()
    findings = []
    reported: set[tuple[str, str, str]] = set()
    for manifest in stack.manifests:
        crd = index.get((manifest.group, manifest.kind))
        if crd is None:
            if manifest.group == PROMETHEUS_OPERATOR_GROUP and not stack.env.observability.install_prometheus_stack:
                continue  # documented precondition: the cluster already runs the Prometheus Operator
            continue  # no CRD at all: the schemas check reports it
        installer, creator = crd.registration, manifest.registration
        if creator.urn == installer.urn or waits_for(creator, installer, by_urn):
            continue
        key = (creator.urn, manifest.group, manifest.kind)
        if key in reported:
            continue
        reported.add(key)
        findings.append(
            Finding(
                "ordering",
                f"{creator.type} {creator.name}",
                f"creates {manifest.kind} ({manifest.describe()}) but does not wait for {installer.type} "
                f"{installer.name}, which installs its CRD: the first `pulumi up` fails with "
                f"`no matches for kind {manifest.kind}`; add it to depends_on",
            )
        )
    return findings
