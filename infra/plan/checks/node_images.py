"""Every GPU node image the stack pins exists upstream and its NVIDIA driver runs the Ray image.

Karpenter resolves an alias `al2023@vYYYYMMDD` / `bottlerocket@vX.Y.Z` to the SSM parameter of
that release for the cluster's Kubernetes version (karpenter pkg/providers/amifamily); a release
that does not exist leaves the EC2NodeClass unready and launches no node. A managed node group's
`releaseVersion` that EKS does not know fails CreateNodegroup. Either image must ship an NVIDIA
driver at least the minimum of the CUDA the Ray image is built on (CUDA toolkit release notes,
Table 3). Checked against infra/catalog/eks_amis.yaml, read from the upstream release notes:
the aliases the EC2NodeClasses carry, every default alias in infra/versions.py (a pool may
take it tomorrow) and every managed node group's release version.
"""

from __future__ import annotations

from infra.catalog.node_images import alias_problems, load_node_images, release_version_problems
from infra.plan.checks import Finding, PlannedStack
from infra.versions import KARPENTER_AMI_ALIAS_VERSIONS, ray_image_tag

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_CLASS = "EC2NodeClass"
# EKS AMI types -> the config's ami_family (infra/components/node_pools/eks_managed.py AMI_TYPES).
AMI_FAMILIES = {"AL2023_x86_64_NVIDIA": "al2023", "BOTTLEROCKET_x86_64_NVIDIA": "bottlerocket"}


def check(stack: PlannedStack) -> list[Finding]:
    kubernetes = stack.env.cluster.kubernetes_version
    images = load_node_images()
    findings = []
    if images.ray_image.tag != ray_image_tag():
        findings.append(
            Finding(
                "node_images",
                "infra/catalog/eks_amis.yaml ray_image",
                f"records the CUDA of {images.ray_image.tag}, but the chart pins {ray_image_tag()}: record the new tag's CUDA",
            )
        )
    for family, version in sorted(KARPENTER_AMI_ALIAS_VERSIONS.items()):
        for message in alias_problems(family, version, kubernetes, images):
            findings.append(Finding("node_images", f"infra/versions.py KARPENTER_AMI_ALIAS_VERSIONS[{family!r}]", message))
    for manifest in stack.manifests:
        if manifest.kind != NODE_CLASS:
            continue
        for term in (manifest.document.get("spec") or {}).get("amiSelectorTerms") or []:
            alias = term.get("alias")
            if not alias:
                continue
            family, _, version = str(alias).partition("@")
            if family not in AMI_FAMILIES.values() or version == "latest":
                message = f"alias {alias} is not a pinned {'/'.join(AMI_FAMILIES.values())} release: pin one (infra/versions.py)"
                findings.append(Finding("node_images", manifest.describe(), message))
                continue
            findings += [
                Finding("node_images", manifest.describe(), m) for m in alias_problems(family, version, kubernetes, images)
            ]
    for group in stack.of_type(NODE_GROUP):
        release = group.inputs.get("releaseVersion")
        family = AMI_FAMILIES.get(str(group.inputs.get("amiType")))
        if release and family:
            for message in release_version_problems(family, str(release), kubernetes, images):
                findings.append(Finding("node_images", f"{NODE_GROUP} {group.name}", message))
    return findings
