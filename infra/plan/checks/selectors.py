"""Selectors select what they are meant to, as the controllers evaluate them.

- A Deployment, StatefulSet, DaemonSet or ReplicaSet whose selector does not match its own pod
  template is refused by the API server (apps/v1 validation: "selector does not match template
  labels").
- A Service with a selector, a PodDisruptionBudget and a PodMonitor that select no pod of the
  stack route, protect or scrape nothing; a ServiceMonitor that selects no Service scrapes
  nothing. Charts merge extra labels into their pods after their own selector labels, which is
  how a wrong `podLabels` breaks them (infra/components/addons.py).
Pods include the Ray pods KubeRay creates from RayService templates (infra/plan/pods.py) and what
the cluster and its operators provide at run time (infra/plan/cluster_objects.py).
"""

from __future__ import annotations

from infra.plan.checks import Finding, Manifest, PlannedStack
from infra.plan.cluster_objects import provided_pods, provided_services
from infra.plan.pods import PodTemplate, pod_templates, selector_matches

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


def _in_namespaces(namespace: str, selector: dict | None, own: str) -> bool:
    """A monitor's namespaceSelector: `any: true`, `matchNames`, or (default) its own namespace."""
    if not selector:
        return namespace == own
    if selector.get("any"):
        return True
    return namespace in (selector.get("matchNames") or [])


def check(stack: PlannedStack) -> list[Finding]:
    findings: list[Finding] = []
    pods: list[PodTemplate] = [t for m in stack.manifests for t in pod_templates(m.document)]
    pods += provided_pods(stack.manifests)
    services = [m.document for m in stack.manifests if m.kind == "Service"] + provided_services(stack.manifests)

    def finding(manifest: Manifest, message: str) -> None:
        findings.append(Finding("selectors", manifest.describe(), message))

    for manifest in stack.manifests:
        spec = manifest.document.get("spec") or {}
        if manifest.kind in WORKLOADS:
            templates = pod_templates(manifest.document)
            if templates and not templates[0].matches(spec.get("selector")):
                finding(
                    manifest,
                    f"spec.selector {spec.get('selector')} does not match its pod template's labels "
                    f"{templates[0].labels}: the API server refuses it",
                )
        elif manifest.kind == "Service" and spec.get("selector"):
            selector = {"matchLabels": spec["selector"]}
            if not any(p.namespace == manifest.namespace and p.matches(selector) for p in pods):
                finding(manifest, f"selector {spec['selector']} matches no pod in namespace {manifest.namespace}: no endpoints")
        elif manifest.kind == "PodDisruptionBudget":
            if not any(p.namespace == manifest.namespace and p.matches(spec.get("selector")) for p in pods):
                finding(
                    manifest,
                    f"selector {spec.get('selector')} matches no pod in namespace {manifest.namespace}: it protects nothing",
                )
        elif manifest.kind == "PodMonitor":
            if not any(
                _in_namespaces(p.namespace, spec.get("namespaceSelector"), manifest.namespace) and p.matches(spec.get("selector"))
                for p in pods
            ):
                finding(manifest, f"selector {spec.get('selector')} matches no pod: nothing is scraped")
        elif manifest.kind == "ServiceMonitor" and not any(
            _in_namespaces((s.get("metadata") or {}).get("namespace", ""), spec.get("namespaceSelector"), manifest.namespace)
            and selector_matches(spec.get("selector"), (s.get("metadata") or {}).get("labels") or {})
            for s in services
        ):
            finding(manifest, f"selector {spec.get('selector')} matches no Service: nothing is scraped")
    return findings
