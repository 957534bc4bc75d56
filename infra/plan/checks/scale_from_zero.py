"""A node group that can be at zero nodes is one cluster-autoscaler can scale up from zero.

With no node to copy, cluster-autoscaler builds a template node for an Auto Scaling group from
the instance type (CPU, memory, GPU count, 110 pods) and from the group's
`k8s.io/cluster-autoscaler/node-template/{label,taint,resources}/...` tags
(cluster-autoscaler/cloudprovider/aws/aws_manager.go buildNodeFromTemplate; AWS README,
"Auto-Discovery Setup"). A pending pod is placed on that template node in simulation; when a
label it selects, a taint it must tolerate or a resource it requests is missing from the
template, the group is never chosen and the pod stays Pending. The pods meant for a group are
taken from the rendered manifests (those whose nodeSelector the group's nodes satisfy), never
from a list kept by hand.
"""

from __future__ import annotations

import re
from typing import Any

from contracts import GPU_RESOURCE
from infra.catalog import load_catalog
from infra.node_pool_shape import CA_TAG_PREFIX
from infra.plan.checks import Finding, PlannedStack
from infra.plan.mocks import asg_name
from infra.plan.pods import PodTemplate, pod_templates

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG_TAG = "aws:autoscaling/tag:Tag"
TEMPLATE_PODS = 110  # aws_manager.go: node.Status.Capacity[pods] = 110
_SUFFIXES = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "m": 1e-3,
}  # fmt: skip


def quantity(value: Any) -> float:
    """A Kubernetes resource quantity as a number ("500m" -> 0.5, "41Gi" -> 41 * 2**30)."""
    text = str(value).strip()
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if not match or (match.group(2) and match.group(2) not in _SUFFIXES):
        raise ValueError(f"not a resource quantity: {value!r}")
    return float(match.group(1)) * _SUFFIXES.get(match.group(2), 1)


def pod_requests(spec: dict[str, Any]) -> dict[str, float]:
    """Effective requests of a pod: the sum over its containers, or the largest init container if
    that is more (kubernetes.io/docs, "Resource sharing within containers")."""
    total: dict[str, float] = {}
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] = total.get(name, 0.0) + quantity(value)
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] = max(total.get(name, 0.0), quantity(value))
    return total


def template_node(instance_type: str, tags: dict[str, str]) -> tuple[dict[str, float], dict[str, str], list[dict[str, str]]]:
    """(capacity, labels, taints) of cluster-autoscaler's template node for an ASG."""
    spec = load_catalog().instances[instance_type]
    capacity = {
        "cpu": float(spec.vcpu),
        "memory": spec.memory_gib * 2**30,
        GPU_RESOURCE: float(spec.gpu_count),
        "pods": TEMPLATE_PODS,
    }
    labels, taints = {}, []
    for key, value in tags.items():
        if key.startswith(f"{CA_TAG_PREFIX}/resources/"):
            capacity[key.removeprefix(f"{CA_TAG_PREFIX}/resources/")] = quantity(value)
        elif key.startswith(f"{CA_TAG_PREFIX}/label/"):
            labels[key.removeprefix(f"{CA_TAG_PREFIX}/label/")] = value
        elif key.startswith(f"{CA_TAG_PREFIX}/taint/"):
            taint_value, _, effect = value.partition(":")
            taints.append({"key": key.removeprefix(f"{CA_TAG_PREFIX}/taint/"), "value": taint_value, "effect": effect})
    return capacity, labels, taints


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, str]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", taint["effect"]):
            continue
        if toleration.get("operator") == "Exists" and toleration.get("key") in (None, "", taint["key"]):
            return True
        if toleration.get("key") == taint["key"] and toleration.get("value") == taint["value"]:
            return True
    return False


def pods_for(labels: dict[str, str], pods: list[PodTemplate]) -> list[PodTemplate]:
    """Pods whose nodeSelector the group's nodes satisfy (and that select on something)."""
    return [
        pod for pod in pods if (selector := pod.spec.get("nodeSelector")) and all(labels.get(k) == v for k, v in selector.items())
    ]


def check(stack: PlannedStack) -> list[Finding]:
    pods = [t for m in stack.manifests for t in pod_templates(m.document) if not t.daemon]
    asg_tags: dict[str, dict[str, str]] = {}
    for tag in stack.of_type(ASG_TAG):
        # Any: engine inputs are untyped (aws.autoscaling.Tag requires the key and value here).
        pair: Any = tag.inputs.get("tag") or {}
        asg_tags.setdefault(tag.inputs.get("autoscalingGroupName", ""), {})[pair.get("key")] = pair.get("value")
    findings = []
    for group in stack.of_type(NODE_GROUP):
        if (group.inputs.get("scalingConfig") or {}).get("minSize", 1) != 0:
            continue
        subject = f"{NODE_GROUP} {group.name} (min 0)"
        instance_type = (group.inputs.get("instanceTypes") or [""])[0]
        capacity, template_labels, taints = template_node(instance_type, asg_tags.get(asg_name(group.name), {}))
        node_labels = group.inputs.get("labels") or {}
        for pod in pods_for(node_labels, pods):
            for key, value in pod.spec["nodeSelector"].items():
                if template_labels.get(key) != value:
                    findings.append(
                        Finding(
                            "scale_from_zero",
                            subject,
                            f"{pod.owner} selects {key}={value}, which no node-template label tag carries",
                        )
                    )
            for taint in taints:
                if not tolerates(pod.spec.get("tolerations") or [], taint):
                    findings.append(
                        Finding("scale_from_zero", subject, f"{pod.owner} does not tolerate the taint {taint['key']}")
                    )
            for resource, amount in sorted(pod_requests(pod.spec).items()):
                offered = capacity.get(resource)
                if offered is None:
                    findings.append(
                        Finding(
                            "scale_from_zero",
                            subject,
                            f"{pod.owner} requests {resource} but the group's ASG has no "
                            f"{CA_TAG_PREFIX}/resources/{resource} tag: cluster-autoscaler's template node offers none, "
                            "so the group is never scaled up for it",
                        )
                    )
                elif amount > offered:
                    findings.append(
                        Finding(
                            "scale_from_zero",
                            subject,
                            f"{pod.owner} requests {resource} {amount:g}, more than a template node offers ({offered:g})",
                        )
                    )
    return findings
