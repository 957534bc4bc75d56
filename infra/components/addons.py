"""Cluster add-ons as pinned Helm releases: KubeRay operator, NVIDIA device plugin,
cluster-autoscaler, Karpenter and kube-prometheus-stack (each only where the environment needs
it), with the IAM their controllers assume through EKS Pod Identity.

Labels: these charts build their selectors from `app.kubernetes.io/name` and `.../instance`;
extra labels given through `labels`/`podLabels`/`customLabels` are merged into the pod template
after them, so passing our own `app.kubernetes.io/*` values would break every selector. They get
the cost labels only (plain keys); the offline plan renders each chart at its pinned version with
these values and checks that selectors still match (infra/plan/checks/selectors.py).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from contracts import NODE_GPU_LABEL, NODE_POOL_LABEL, SYSTEM_POOL
from infra import iam_policies
from infra.alert_routing import alertmanager_config, alertmanager_secret_names
from infra.components.cluster import ClusterHandle
from infra.components.options import child_options
from infra.components.pod_identity import pod_identity_role
from infra.config.models import EnvironmentConfig
from infra.node_pool_shape import GPU_TOLERATION
from infra.versions import (
    CLUSTER_AUTOSCALER,
    CLUSTER_AUTOSCALER_IMAGE_TAGS,
    KARPENTER,
    KUBE_PROMETHEUS_STACK,
    KUBERAY_OPERATOR,
    NVIDIA_DEVICE_PLUGIN,
    ChartPin,
)

SYSTEM_NODES = {NODE_POOL_LABEL: SYSTEM_POOL}


def needs_device_plugin(env: EnvironmentConfig) -> bool:
    """Bottlerocket NVIDIA AMIs ship the device plugin; AL2023 NVIDIA AMIs do not."""
    return any(pool.ami_family == "al2023" for pool in env.node_pools)


def needs_cluster_autoscaler(env: EnvironmentConfig) -> bool:
    # A new cluster's system node group is a managed node group too.
    return env.cluster.mode == "create" or any(p.provisioner == "managed_node_group" for p in env.node_pools)


def needs_karpenter(env: EnvironmentConfig) -> bool:
    return any(pool.provisioner == "karpenter" for pool in env.node_pools)


def kuberay_values(cost_labels: dict[str, str]) -> dict:
    return {
        # kuberay_service_condition_* feed the RayService alerts; honorLabels (the chart's
        # default) keeps the RayService's own namespace on the series.
        "metrics": {"serviceMonitor": {"enabled": True}},
        "labels": cost_labels,
        "podLabels": cost_labels,
        "nodeSelector": SYSTEM_NODES,
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    }


def device_plugin_values() -> dict:
    return {
        # Only GPU nodes, and it must tolerate their taint to land there.
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": NODE_GPU_LABEL, "operator": "Exists"}]}]
                }
            }
        },
        "tolerations": [GPU_TOLERATION],
        "priorityClassName": "system-node-critical",
    }


def cluster_autoscaler_values(env: EnvironmentConfig, cluster_name: str, cost_labels: dict[str, str]) -> dict:
    return {
        "autoDiscovery": {"clusterName": cluster_name},
        "awsRegion": env.region,
        "image": {"tag": CLUSTER_AUTOSCALER_IMAGE_TAGS[env.cluster.kubernetes_version]},
        "nodeSelector": SYSTEM_NODES,
        "podLabels": cost_labels,
        "rbac": {"serviceAccount": {"name": "cluster-autoscaler"}},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            # GPU nodes are expensive idle; model weights in emptyDir must not pin a node.
            "skip-nodes-with-local-storage": False,
            "scale-down-unneeded-time": "10m",
        },
    }


def karpenter_values(cluster_name: str, queue_name: str, cost_labels: dict[str, str]) -> dict:
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "nodeSelector": SYSTEM_NODES,
        "podLabels": cost_labels,
        "serviceAccount": {"name": "karpenter"},
        "controller": {"resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}},
    }


GRAFANA_ADMIN_SECRET = "grafana-admin"
# Node labels kube-state-metrics exports on kube_node_labels / kube_pod_labels, so alerts can
# count nodes per pool and find the Ray pods (it exports no label unless allow-listed).
# `environment` scopes the alerts when several environments share one Prometheus.
KUBE_STATE_METRICS_LABELS = [
    "nodes=[environment,gpt-oss.platform/node-pool,gpt-oss.platform/gpu,gpt-oss.platform/capacity,"
    "karpenter.sh/capacity-type,eks.amazonaws.com/capacityType]",
    "pods=[environment,app.kubernetes.io/name,app.kubernetes.io/component,ray.io/node-type,ray.io/group]",
]


def prometheus_stack_values(env: EnvironmentConfig, cost_labels: dict[str, str]) -> dict:
    """kube-prometheus-stack: select every ServiceMonitor, PodMonitor and PrometheusRule in
    the cluster (the serving chart's live in namespace gpt-oss), load dashboards from
    ConfigMaps labelled grafana_dashboard=1 in any namespace, route alerts to the environment's
    receivers, run on the system nodes."""
    system = {"nodeSelector": SYSTEM_NODES}
    labels = cost_labels
    return {
        "commonLabels": labels,
        # EKS runs etcd, the scheduler and the controller manager in its managed control plane, not
        # as pods: their Services would select nothing and their alerts (KubeSchedulerDown, ...)
        # would fire forever (infra/plan/checks/selectors.py finds such Services).
        "kubeEtcd": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeControllerManager": {"enabled": False},
        "prometheus": {
            "prometheusSpec": {
                **system,
                "retention": env.observability.retention,
                "ruleSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "podMetadata": {"labels": labels},
            }
        },
        # Receivers, severity routing and inhibitions from the environment's `alerting` section
        # (infra/alert_routing.py); receiver secrets are Secrets the pods mount, never values here.
        "alertmanager": {
            "config": alertmanager_config(env.alerting),
            "alertmanagerSpec": {
                **system,
                "podMetadata": {"labels": labels},
                "secrets": alertmanager_secret_names(env.alerting),
            },
        },
        "prometheusOperator": {**system, "podLabels": labels},
        "kube-state-metrics": {**system, "customLabels": labels, "metricLabelsAllowlist": KUBE_STATE_METRICS_LABELS},
        "grafana": {
            **system,
            "podLabels": labels,
            # The admin password comes from a Secret Pulumi generates; never the chart's default.
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "sidecar": {
                "dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL"}
            },
        },
    }


def helm_release(
    name: str,
    pin: ChartPin,
    values: pulumi.Input[dict],
    parent: pulumi.Resource,
    component_opts: pulumi.ResourceOptions | None,
    depends_on: list[pulumi.Resource] | None = None,
) -> k8s.helm.v3.Release:
    """A pinned chart as a Helm release. Helm installs the chart's crds/ before its templates, so a
    release may create custom resources of its own CRDs; anything else it creates needs the release
    that installs the CRD in `depends_on` (infra/plan/checks/ordering.py)."""
    oci = pin.repository.startswith("oci://")
    return k8s.helm.v3.Release(
        name,
        name=pin.release,
        namespace=pin.namespace,
        create_namespace=True,
        chart=f"{pin.repository}/{pin.chart}" if oci else pin.chart,
        repository_opts=None if oci else {"repo": pin.repository},
        version=pin.version,
        values=values,
        opts=child_options(parent, component_opts, depends_on=depends_on or ()),
    )


class ClusterAddons(pulumi.ComponentResource):
    """Operators, node autoscaling and monitoring. `crd_installers` maps each custom resource kind
    the stack creates to the release that installs its CRD, so that what creates such objects
    can depend on exactly that release."""

    def __init__(
        self,
        name: str,
        env: EnvironmentConfig,
        cluster: ClusterHandle,
        cost_labels: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:k8s:ClusterAddons", name, None, opts)
        self._opts = opts
        self.releases: list[k8s.helm.v3.Release] = []
        # Installed first: its CRDs (ServiceMonitor, PodMonitor, PrometheusRule) are used by the
        # KubeRay release below and by the serving chart.
        self.prometheus_stack = (
            self._prometheus_stack(name, env, cost_labels) if env.observability.install_prometheus_stack else None
        )
        monitoring: list[pulumi.Resource] = [self.prometheus_stack] if self.prometheus_stack else []
        # KubeRay's chart creates a ServiceMonitor for the operator's metrics.
        self.kuberay = self._release(f"{name}-kuberay", KUBERAY_OPERATOR, kuberay_values(cost_labels), monitoring)
        if needs_device_plugin(env):
            self._release(f"{name}-nvidia-device-plugin", NVIDIA_DEVICE_PLUGIN, device_plugin_values(), [])
        if needs_cluster_autoscaler(env):
            self._cluster_autoscaler(name, env, cluster, cost_labels)
        self.karpenter = self._karpenter(name, env, cluster, cost_labels) if needs_karpenter(env) else None
        self.register_outputs({"releases": [r.name for r in self.releases]})

    def _release(
        self, name: str, pin: ChartPin, values: pulumi.Input[dict], depends_on: list[pulumi.Resource]
    ) -> k8s.helm.v3.Release:
        release = helm_release(name, pin, values, self, self._opts, depends_on)
        self.releases.append(release)
        return release

    def _prometheus_stack(self, name: str, env: EnvironmentConfig, cost_labels: dict[str, str]) -> k8s.helm.v3.Release:
        child = child_options(self, self._opts)
        namespace = k8s.core.v1.Namespace(
            f"{name}-monitoring", metadata={"name": KUBE_PROMETHEUS_STACK.namespace, "labels": cost_labels}, opts=child
        )
        password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": KUBE_PROMETHEUS_STACK.namespace, "labels": cost_labels},
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(password.result)},
            opts=child_options(self, self._opts, depends_on=[namespace]),
        )
        return self._release(
            f"{name}-kube-prometheus-stack", KUBE_PROMETHEUS_STACK, prometheus_stack_values(env, cost_labels), [secret]
        )

    def _cluster_autoscaler(self, name: str, env: EnvironmentConfig, cluster: ClusterHandle, cost_labels: dict[str, str]) -> None:
        identity = pod_identity_role(
            f"{name}-cluster-autoscaler",
            cluster,
            CLUSTER_AUTOSCALER.namespace,
            "cluster-autoscaler",
            cluster.name.apply(lambda n: iam_policies.dumps(iam_policies.cluster_autoscaler(n))),
            self,
        )
        values = cluster.name.apply(lambda n: cluster_autoscaler_values(env, n, cost_labels))
        self._release(f"{name}-cluster-autoscaler", CLUSTER_AUTOSCALER, values, [identity])

    def _karpenter(
        self, name: str, env: EnvironmentConfig, cluster: ClusterHandle, cost_labels: dict[str, str]
    ) -> k8s.helm.v3.Release:
        if cluster.karpenter_node_role_arn is None:
            raise ValueError("the cluster component was built without a Karpenter node role (karpenter_nodes=False)")
        child = pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            f"{name}-karpenter-interruptions",
            message_retention_seconds=300,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-karpenter-interruptions",
            queue_url=queue.url,
            policy=queue.arn.apply(lambda arn: iam_policies.dumps(iam_policies.interruption_queue_policy(arn))),
            opts=child,
        )
        for event, pattern in iam_policies.INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-karpenter-{event}", event_pattern=json.dumps(pattern, sort_keys=True), opts=child
            )
            aws.cloudwatch.EventTarget(f"{name}-karpenter-{event}", rule=rule.name, arn=queue.arn, opts=child)
        # The nodes' own role and its EC2_LINUX access entry come from the cluster component.
        policy = pulumi.Output.all(cluster.name, cluster.karpenter_node_role_arn, queue.arn, cluster.arn).apply(
            lambda a: iam_policies.dumps(iam_policies.karpenter_controller(a[0], env.region, a[1], a[2], a[3]))
        )
        identity = pod_identity_role(f"{name}-karpenter", cluster, KARPENTER.namespace, "karpenter", policy, self)
        values = pulumi.Output.all(cluster.name, queue.name).apply(lambda a: karpenter_values(a[0], a[1], cost_labels))
        return self._release(f"{name}-karpenter", KARPENTER, values, [identity])
