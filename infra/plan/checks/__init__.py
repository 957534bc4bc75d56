"""Checks that model the systems the stack configures, run over everything the offline plan saw.

Each check is a module with one function, `check(stack: PlannedStack) -> list[Finding]`, and
cites in its docstring the upstream rule it applies (the kubelet, Helm, the Kubernetes API,
Pulumi's engine, cluster-autoscaler, EKS, IAM). A finding fails the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.config.models import EnvironmentConfig
from infra.plan.manifests import RenderedRelease
from infra.plan.mocks import Registration
from infra.plan.third_party import UpstreamRelease


@dataclass(frozen=True)
class Finding:
    check: str  # module name, e.g. "node_labels"
    subject: str  # what is wrong, e.g. "aws:eks/nodeGroup:NodeGroup dev-system"
    message: str  # why, and what to do

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object the stack would create, and who creates it."""

    document: dict
    source: str  # "release <name>", "pulumi <type> <name>"
    registration: Registration  # the Pulumi resource that creates it (a Helm release or the object itself)

    @property
    def kind(self) -> str:
        return str(self.document.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.document.get("apiVersion", ""))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def name(self) -> str:
        return str((self.document.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.document.get("metadata") or {}).get("namespace", ""))

    def describe(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name} ({self.source})"


@dataclass
class PlannedStack:
    env: EnvironmentConfig
    registrations: list[Registration]
    local: list[RenderedRelease]
    upstream: list[UpstreamRelease]
    workdir: Path
    manifests: list[Manifest] = field(default_factory=list)
    crds: list[Manifest] = field(default_factory=list)  # CRDs the stack installs (charts' crds/ and templates)

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations if r.urn}

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]


Check = Callable[[PlannedStack], list[Finding]]


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
