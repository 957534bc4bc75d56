"""The on-call engineer's Kubernetes permissions: exactly what the rendered runbooks do.

An IAM role listed in `cluster.oncall_role_arns` gets an EKS access entry with the Kubernetes
group ONCALL_GROUP and no EKS access policy (infra/components/cluster.py); these Roles and
ClusterRole, bound to that group, are all it may do. Each rule names the runbook step that needs
it; tests/runbooks/test_runbook_execution.py and test_runbook_promql.py run every runbook command
as this group with the fake API enforcing the rules, so a step the rules do not allow fails there,
and a rule no step needs is a rule to remove.

Kept out: Secrets other than the managed API key (rotate-managed-api-key), `create` of anything
but Evictions and exec sessions, any write to Deployments, RayServices or RBAC (fixes go through
`pulumi up`, never `kubectl edit`), and cluster-wide reads of pod logs (the three namespaces whose
logs the runbooks read each get a Role). RBAC cannot restrict `list` or `create` of a new object
by name (kubernetes.io, "Using RBAC Authorization", "Referring to resources"); every other rule on
one object names it.
"""

from __future__ import annotations

from typing import Any

from contracts import CLIENT_KEYS_SECRET, MANAGED_API_KEY_SECRET, NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP
from infra.runbooks.context import MONITORING_NAMESPACE, PROMETHEUS_PORT, PROMETHEUS_SERVICE

#: The Kubernetes group the on-call roles' EKS access entries carry.
ONCALL_GROUP = "gpt-oss:oncall"
ONCALL_NAME = "gpt-oss-oncall"
READ = ["get", "list", "watch"]
# Namespaces of the add-ons whose logs the runbooks read (node autoscalers, the KubeRay operator).
ADDON_LOG_NAMESPACES = ("kube-system", "kuberay-system")


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def serving_namespace_rules() -> list[dict[str, Any]]:
    """In the serving namespace: read what the runbooks read, and their few writes."""
    return [
        # Diagnosis: pods and their logs, events, Services, Endpoints, the RayService and its
        # clusters, the gateway and governor Deployments, PDB, monitors and rules.
        _rule([""], ["pods", "pods/log", "events", "services", "endpoints", "configmaps"], READ),
        _rule(["apps"], ["deployments", "replicasets"], READ),
        _rule(["ray.io"], ["rayservices", "rayclusters"], READ),
        _rule(["policy"], ["poddisruptionbudgets"], READ),
        _rule(["monitoring.coreos.com"], ["servicemonitors", "podmonitors", "prometheusrules"], READ),
        # Restart a hung or broken replica / gateway pod (its controller recreates it); drain a node.
        _rule([""], ["pods"], ["delete"]),
        _rule([""], ["pods/eviction"], ["create"]),
        # The steps that must run inside a container (serve status, ray status, one token from a
        # gateway pod, the shared store's reachability, nvidia-smi): no API equivalent.
        _rule([""], ["pods/exec"], ["create"]),
        # `gpt-oss-platform drain --status`: each gateway pod's /metrics through the pod proxy.
        _rule([""], ["pods/proxy"], ["get"]),
        # The smoke test after a rollback, a drain, a wake-up, a key rotation or a model upgrade
        # reaches the gateway through `kubectl port-forward svc/<gateway>` (the procedures). It gives
        # nothing exec above does not: a session inside a pod reaches the same ports.
        _rule([""], ["pods/portforward"], ["create"]),
        # The drain switch: `gpt-oss-platform drain` reads and replaces its one ConfigMap.
        _rule([""], ["configmaps"], ["update", "patch"], [ROUTE_OVERRIDE_CONFIGMAP]),
        # rotate-managed-api-key replaces the managed API key; the rate-limit and spend runbooks
        # read the client keys' policy (hashes only, never a key).
        _rule([""], ["secrets"], ["get"], [MANAGED_API_KEY_SECRET, CLIENT_KEYS_SECRET]),
        _rule([""], ["secrets"], ["update"], [MANAGED_API_KEY_SECRET]),
    ]


def cluster_rules() -> list[dict[str, Any]]:
    """Cluster-scoped: nodes (cordon, drain) and the Karpenter objects the runbooks read or patch."""
    return [
        _rule([""], ["nodes"], [*READ, "patch"]),
        # The node pool runbooks read the events of every namespace (`kubectl get events -A`).
        _rule([""], ["events"], ["list"]),
        # `kubectl drain` lists the node's pods in every namespace and reads each DaemonSet pod's
        # DaemonSet (k8s.io/kubectl/pkg/drain); evictions stay limited to the serving namespace.
        _rule([""], ["pods"], ["list"]),
        _rule(["apps"], ["daemonsets"], ["get"]),
        _rule(["karpenter.sh"], ["nodepools", "nodeclaims"], READ),
        _rule(["karpenter.sh"], ["nodepools"], ["patch"]),
    ]


def addon_log_rules() -> list[dict[str, Any]]:
    return [_rule([""], ["pods", "pods/log"], READ), _rule(["apps"], ["deployments"], READ)]


def monitoring_rules(service: str, port: int) -> list[dict[str, Any]]:
    """GETs through the API server's service proxy to Prometheus (the runbooks' `promql`). The
    API server authorizes `services/proxy` with the path segment as the name, `<service>:<port>`
    (k8s.io/apiserver RequestInfoFactory); the bare name covers a proxy path without the port."""
    return [
        _rule([""], ["services/proxy"], ["get"], [f"{service}:{port}", service]),
        # Grafana, where the environment has no dashboard URL: the runbooks' header forwards to it
        # (`kubectl port-forward svc/<grafana> 3000:80`, infra/runbooks/context.py).
        _rule([""], ["pods", "services"], ["get", "list"]),
        _rule([""], ["pods/portforward"], ["create"]),
        # GptOssMonitoringInputsMissing reads kube-state-metrics' arguments (its label allow-list).
        _rule(["apps"], ["deployments"], ["get", "list"]),
    ]


def oncall_rbac_documents(
    monitoring_namespace: str = MONITORING_NAMESPACE,
    prometheus_service: str = PROMETHEUS_SERVICE,
    prometheus_port: int = PROMETHEUS_PORT,
) -> list[dict[str, Any]]:
    """The Roles, ClusterRole and their bindings to ONCALL_GROUP, as Kubernetes objects (the
    Prometheus the runbooks' `promql` reads, by default)."""
    labels = {"app.kubernetes.io/name": ONCALL_NAME, "app.kubernetes.io/part-of": "gpt-oss-platform"}
    subject = [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": ONCALL_GROUP}]
    roles = {NAMESPACE: serving_namespace_rules(), monitoring_namespace: monitoring_rules(prometheus_service, prometheus_port)}
    for namespace in ADDON_LOG_NAMESPACES:
        roles[namespace] = addon_log_rules()
    docs: list[dict[str, Any]] = []
    for namespace, rules in roles.items():
        meta = {"name": ONCALL_NAME, "namespace": namespace, "labels": labels}
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules})
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ONCALL_NAME},
            }
        )
    meta = {"name": ONCALL_NAME, "labels": labels}
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta, "rules": cluster_rules()})
    docs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "subjects": subject,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ONCALL_NAME},
        }
    )
    return docs
