"""Node labels only in domains the kubelet and Karpenter accept.

- EKS managed node groups pass their labels to the kubelet's --node-labels. The kubelet refuses
  to start with a label in the `kubernetes.io` or `k8s.io` domains (or their subdomains) unless it
  is one of the labels a kubelet may set on its own Node or lies in `kubelet.kubernetes.io` /
  `node.kubernetes.io` (kubernetes/kubernetes cmd/kubelet/app/options/options.go, and
  staging/src/k8s.io/kubelet/pkg/apis/well_known_labels.go IsKubeletLabel): the node never joins
  and the node group fails with NodeCreationFailure.
- Karpenter NodePool template labels: the NodePool CRD's validation rules (karpenter.sh_nodepools
  v1.14, spec.template.metadata.labels x-kubernetes-validations) and Karpenter's restricted
  domains (kubernetes-sigs/karpenter pkg/apis/v1/labels.go: RestrictedLabelDomains,
  LabelDomainExceptions, WellKnownLabels).
"""

from __future__ import annotations

from infra.plan.checks import Finding, PlannedStack

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
# What a kubelet may set on its own Node (well_known_labels.go kubeletLabels).
KUBELET_LABELS = {
    "kubernetes.io/hostname",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
}
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
KUBERNETES_DOMAINS = ("kubernetes.io", "k8s.io")
# Karpenter: restricted domains, the exceptions inside them, and the well-known labels allowed.
KARPENTER_RESTRICTED_DOMAINS = ("kubernetes.io", "k8s.io", "karpenter.sh")
KARPENTER_DOMAIN_EXCEPTIONS = ("kops.k8s.io", "node.kubernetes.io", "node-restriction.kubernetes.io")
KARPENTER_WELL_KNOWN = {
    "karpenter.sh/nodepool",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "karpenter.sh/capacity-type",
    "node.kubernetes.io/windows-build",
}
# The NodePool CRD's own rules on template labels (karpenter.sh_nodepools.yaml).
KARPENTER_CRD_FORBIDDEN = {"karpenter.sh/nodepool", "kubernetes.io/hostname"}
KARPENTER_AWS_DOMAIN = "karpenter.k8s.aws"


def _domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _in(domain: str, parents: tuple[str, ...]) -> bool:
    return any(domain == parent or domain.endswith("." + parent) for parent in parents)


def kubelet_refuses(key: str) -> bool:
    """True when the kubelet refuses `key` in --node-labels."""
    if key in KUBELET_LABELS:
        return False
    domain = _domain(key)
    return _in(domain, KUBERNETES_DOMAINS) and not _in(domain, KUBELET_LABEL_NAMESPACES)


def karpenter_refuses(key: str) -> bool:
    """True when a NodePool may not set `key` on its nodes."""
    if key in KARPENTER_CRD_FORBIDDEN:
        return True
    domain = _domain(key)
    if _in(domain, (KARPENTER_AWS_DOMAIN,)):
        return True  # only Karpenter's own well-known karpenter.k8s.aws/* requirement labels
    if key in KARPENTER_WELL_KNOWN:
        return False
    return _in(domain, KARPENTER_RESTRICTED_DOMAINS) and not _in(domain, KARPENTER_DOMAIN_EXCEPTIONS)


def check(stack: PlannedStack) -> list[Finding]:
    findings = []
    for group in stack.of_type(NODE_GROUP):
        for key in sorted(group.inputs.get("labels") or {}):
            if kubelet_refuses(key):
                findings.append(
                    Finding(
                        "node_labels",
                        f"{NODE_GROUP} {group.name}",
                        f"label {key!r} is in a domain the kubelet refuses in --node-labels: the nodes never join "
                        "(NodeCreationFailure); use a key outside kubernetes.io and k8s.io",
                    )
                )
    for manifest in stack.manifests:
        if manifest.kind != "NodePool" or not manifest.api_version.startswith("karpenter.sh/"):
            continue
        labels = (((manifest.document.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        for key in sorted(labels):
            if karpenter_refuses(key):
                findings.append(
                    Finding(
                        "node_labels",
                        manifest.describe(),
                        f"template label {key!r} is restricted by Karpenter (NodePool validation): the NodePool is refused",
                    )
                )
    return findings
