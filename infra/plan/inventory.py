"""Everything the stack would create, with the tags or labels each thing would carry.

Three sources: resources the program registers (AWS tags = provider default tags + own
tags; Kubernetes labels from metadata), resources AWS launches on our behalf (instances,
volumes and ENIs from launch templates and Karpenter node classes, the node groups' Auto
Scaling groups), and the objects of this repository's chart as Helm renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.node_pool_shape import LAUNCHED_RESOURCE_TYPES
from infra.plan.mocks import Registration, asg_name
from infra.policy.rules import effective_tags, provider_default_tags
from infra.policy.taggable import is_taggable
from infra.tags import missing_tag_keys

LAUNCHED_TYPES = {"instance": "aws:ec2:Instance", "volume": "aws:ec2:Volume", "network-interface": "aws:ec2:NetworkInterface"}
ASG_TYPE = "aws:autoscaling:Group"
NOT_KUBERNETES_OBJECTS = ("kubernetes:helm.sh/v3:Release", "pulumi:providers:kubernetes")
# Kinds whose pod template must carry the labels too (OpenCost allocates pods, not Deployments).
POD_TEMPLATE_PATHS = {
    "Deployment": [("spec", "template")],
    "StatefulSet": [("spec", "template")],
    "DaemonSet": [("spec", "template")],
    "Job": [("spec", "template")],
    "CronJob": [("spec", "jobTemplate", "spec", "template")],
}


@dataclass
class Item:
    type: str
    name: str
    kind: str  # "aws" or "kubernetes"
    taggable: bool
    tags: dict[str, str] | None = None
    via: str | None = None
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "name": self.name}
        out["tags" if self.kind == "aws" else "labels"] = self.tags
        if self.via:
            out["via"] = self.via
        if not self.taggable:
            out["taggable"] = False
        return out


def _aws_provider_tags(registrations: list[Registration]) -> dict[str, dict[str, str]]:
    return {r.name: provider_default_tags(r.inputs) for r in registrations if r.type == "pulumi:providers:aws"}


def _pod_templates(document: dict) -> list[tuple[str, dict]]:
    """(path, template) of every pod template in a rendered document, RayService included."""
    kind = document.get("kind", "")
    found = []
    for path in POD_TEMPLATE_PATHS.get(kind, []):
        node: Any = document
        for part in path:
            node = (node or {}).get(part)
        if isinstance(node, dict):
            found.append((".".join(path), node))
    if kind in ("RayService", "RayCluster"):
        spec = document.get("spec", {})
        cluster = spec.get("rayClusterConfig", spec) if kind == "RayService" else spec
        base = "spec.rayClusterConfig" if kind == "RayService" else "spec"
        head = (cluster.get("headGroupSpec") or {}).get("template")
        if head:
            found.append((f"{base}.headGroupSpec.template", head))
        for index, group in enumerate(cluster.get("workerGroupSpecs") or []):
            if group.get("template"):
                found.append((f"{base}.workerGroupSpecs[{index}].template", group["template"]))
    return found


def kubernetes_items(kind: str, name: str, document: dict, via: str | None = None) -> list[Item]:
    """The object itself and each of its pod templates, with their labels."""
    labels = (document.get("metadata") or {}).get("labels") or {}
    items = [Item(kind, name, "kubernetes", True, dict(labels), via, missing_tag_keys(labels))]
    for path, template in _pod_templates(document):
        template_labels = (template.get("metadata") or {}).get("labels") or {}
        items.append(
            Item(
                f"{kind} pod template",
                f"{name} ({path})",
                "kubernetes",
                True,
                dict(template_labels),
                via,
                missing_tag_keys(template_labels),
            )
        )
    return items


def registered_items(registrations: list[Registration]) -> list[Item]:
    provider_tags = _aws_provider_tags(registrations)
    items: list[Item] = []
    for r in registrations:
        if not r.custom or r.type.startswith("pulumi:providers:"):
            continue
        if r.type.startswith("aws:"):
            taggable = is_taggable(r.type)
            defaults = provider_tags.get(r.provider_name or "", {})
            tags = effective_tags(r.inputs, defaults) if taggable else None
            items.append(Item(r.type, r.name, "aws", taggable, tags, None, missing_tag_keys(tags) if taggable else []))
        elif r.type.startswith("kubernetes:") and r.type not in NOT_KUBERNETES_OBJECTS:
            kind = r.inputs.get("kind") or r.type.rsplit(":", 1)[-1]
            items += kubernetes_items(kind, r.name, r.inputs)
    return items


LOAD_BALANCER_TYPE = "aws:elasticloadbalancingv2:LoadBalancer"
LB_TAGS_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"


def _annotation_tags(value: str) -> dict[str, str]:
    """`k1=v1,k2=v2` (the cloud provider's tag annotation) as a map."""
    pairs = (item.partition("=") for item in value.split(",") if item)
    return {key: tag_value for key, _, tag_value in pairs}


def launched_items(registrations: list[Registration], manifests: Sequence[Any] = ()) -> list[Item]:
    """What AWS launches for us, tagged only if the program propagated the tags explicitly: the
    nodes, volumes and ENIs of node groups and Karpenter, the groups' ASGs, and the load balancer
    a Service of type LoadBalancer makes the cloud provider create."""
    items: list[Item] = []
    for manifest in manifests:
        document = manifest.document
        if document.get("kind") == "Service" and (document.get("spec") or {}).get("type") == "LoadBalancer":
            annotations = (document.get("metadata") or {}).get("annotations") or {}
            tags = _annotation_tags(str(annotations.get(LB_TAGS_ANNOTATION, "")))
            items.append(
                Item(
                    LOAD_BALANCER_TYPE,
                    f"{manifest.namespace}/{manifest.name}",
                    "aws",
                    True,
                    tags,
                    f"Service {manifest.name} (type LoadBalancer)",
                    missing_tag_keys(tags),
                )
            )
    templates = {r.resource_id: r for r in registrations if r.type == "aws:ec2/launchTemplate:LaunchTemplate"}
    asg_tags: dict[str, dict[str, str]] = {}
    for r in registrations:
        if r.type == "aws:autoscaling/tag:Tag":
            # Any: engine inputs are untyped (aws.autoscaling.Tag requires the key and value here).
            tag: Any = r.inputs.get("tag") or {}
            asg_tags.setdefault(r.inputs.get("autoscalingGroupName", ""), {})[tag.get("key")] = tag.get("value")
    for r in registrations:
        if r.type == "aws:eks/nodeGroup:NodeGroup":
            template_id = (r.inputs.get("launchTemplate") or {}).get("id")
            template = templates.get(template_id) if template_id is not None else None
            specs = {}
            if template is not None:
                specs = {s.get("resourceType"): s.get("tags") or {} for s in template.inputs.get("tagSpecifications") or []}
            for kind in LAUNCHED_RESOURCE_TYPES:
                tags = dict(specs.get(kind) or {})
                items.append(
                    Item(
                        LAUNCHED_TYPES[kind],
                        f"{r.name} nodes",
                        "aws",
                        True,
                        tags,
                        f"launch template of {r.name}",
                        missing_tag_keys(tags),
                    )
                )
            asg = asg_name(r.name)
            tags = dict(asg_tags.get(asg, {}))
            items.append(Item(ASG_TYPE, asg, "aws", True, tags, f"node group {r.name}", missing_tag_keys(tags)))
        elif r.type == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass":
            tags = dict((r.inputs.get("spec") or {}).get("tags") or {})
            for kind in LAUNCHED_RESOURCE_TYPES:
                items.append(
                    Item(
                        LAUNCHED_TYPES[kind],
                        f"{r.name} nodes",
                        "aws",
                        True,
                        dict(tags),
                        f"Karpenter EC2NodeClass {r.name}",
                        missing_tag_keys(tags),
                    )
                )
    return items


def coverage(items: list[Item]) -> dict[str, Any]:
    taggable = [i for i in items if i.taggable]
    missing = [{"type": i.type, "name": i.name, "missing_keys": i.missing} for i in taggable if i.missing]
    return {"taggable": len(taggable), "fully_tagged": len(taggable) - len(missing), "missing": missing}
