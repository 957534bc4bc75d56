"""The pods a set of manifests would run: every pod template, Ray's included, with the labels the
pods will actually carry.

Workloads (Deployment, StatefulSet, DaemonSet, Job, CronJob) run their template as written. A
RayService's head and worker templates become pods through KubeRay, which adds its own labels and
lets the template's labels win except `ray.io/node-type`, `ray.io/group` and `ray.io/cluster`
(ray-project/kuberay v1.7 ray-operator/controllers/ray/common/pod.go `labelPod`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

WORKLOAD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
# Labels KubeRay puts on every Ray pod (utils.RayNodeLabelKey, KubernetesApplicationNameLabelKey,
# KubernetesCreatedByLabelKey); node type, group and cluster are set per pod below.
KUBERAY_POD_LABELS = {
    "ray.io/is-ray-node": "yes",
    "app.kubernetes.io/name": "kuberay",
    "app.kubernetes.io/created-by": "kuberay-operator",
}
KUBERAY_FIXED_KEYS = ("ray.io/node-type", "ray.io/group", "ray.io/cluster")


@dataclass(frozen=True)
class PodTemplate:
    owner: str  # "<Kind> <namespace>/<name>"
    path: str  # where the template sits in its object
    namespace: str
    labels: dict[str, str]
    spec: dict[str, Any]
    daemon: bool = False

    def matches(self, selector: dict[str, Any] | None) -> bool:
        return selector_matches(selector, self.labels)


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; an empty selector
    matches everything (kubernetes.io/docs "Labels and Selectors")."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _at(document: dict, path: tuple[str, ...]) -> Any:
    node: Any = document
    for part in path:
        node = (node or {}).get(part) if isinstance(node, dict) else None
    return node


def _ray_templates(document: dict) -> list[tuple[str, str, str, dict]]:
    """(path, node type, group, template) of a RayService's or RayCluster's pods."""
    spec = document.get("spec") or {}
    cluster = spec.get("rayClusterConfig", {}) if document.get("kind") == "RayService" else spec
    base = "spec.rayClusterConfig" if document.get("kind") == "RayService" else "spec"
    found = []
    head = (cluster.get("headGroupSpec") or {}).get("template")
    if head:
        found.append((f"{base}.headGroupSpec.template", "head", "headgroup", head))
    for index, group in enumerate(cluster.get("workerGroupSpecs") or []):
        if group.get("template"):
            found.append((f"{base}.workerGroupSpecs[{index}].template", "worker", group.get("groupName", ""), group["template"]))
    return found


def pod_templates(document: dict) -> list[PodTemplate]:
    kind = str(document.get("kind", ""))
    metadata = document.get("metadata") or {}
    namespace = str(metadata.get("namespace", ""))
    owner = f"{kind} {namespace}/{metadata.get('name', '')}"
    found = []
    if kind in WORKLOAD_TEMPLATE_PATHS:
        path = WORKLOAD_TEMPLATE_PATHS[kind]
        template = _at(document, path)
        if isinstance(template, dict):
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            found.append(PodTemplate(owner, ".".join(path), namespace, labels, template.get("spec") or {}, kind == "DaemonSet"))
    elif kind in ("RayService", "RayCluster"):
        # KubeRay names the RayCluster after the RayService plus a suffix it generates.
        cluster = f"{metadata.get('name', '')}-generated" if kind == "RayService" else str(metadata.get("name", ""))
        for path, node_type, group, template in _ray_templates(document):
            labels = dict(KUBERAY_POD_LABELS)
            labels.update((template.get("metadata") or {}).get("labels") or {})
            labels.update({"ray.io/node-type": node_type, "ray.io/group": group, "ray.io/cluster": cluster})
            found.append(PodTemplate(owner, path, namespace, labels, template.get("spec") or {}))
    return found


def synthetic_pods(documents: list[dict]) -> list[dict]:
    """The Ray pods as Pod objects (before KubeRay's own injections), so that schema validation and
    security scans, which know no RayService, see them too."""
    pods = []
    for document in documents:
        if document.get("kind") not in ("RayService", "RayCluster"):
            continue
        for template in pod_templates(document):
            role = template.path.rsplit(".", 2)[-2].replace("[", "-").replace("]", "")
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{document['metadata']['name']}-{role}".lower(),
                        "namespace": template.namespace,
                        "labels": template.labels,
                    },
                    "spec": copy.deepcopy(template.spec),
                }
            )
    return pods
