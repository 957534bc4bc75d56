"""Cluster add-ons as pinned Helm releases: KubeRay operator, NVIDIA device plugin,
cluster-autoscaler and Karpenter (each only where the environment needs it), with the IAM
their controllers assume through EKS Pod Identity.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from infra import iam_policies
from infra.alert_routing import alertmanager_config, alertmanager_secret_names
from infra.components.cluster import ClusterHandle
from infra.components.pod_identity import pod_identity_role
from infra.config.models import EnvironmentConfig
from contracts import NODE_GPU_LABEL, NODE_POOL_LABEL, SYSTEM_POOL
from infra.node_pool_shape import GPU_TOLERATION
from infra.versions import (
    CLUSTER_AUTOSCALER,
    KUBE_PROMETHEUS_STACK,
    CLUSTER_AUTOSCALER_IMAGE_TAGS,
    KARPENTER,
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


def kuberay_values(labels: dict[str, str]) -> dict:
    return {
        # kuberay_service_condition_* feed the RayService alerts; honorLabels (the chart's
        # default) keeps the RayService's own namespace on the series.
        "metrics": {"serviceMonitor": {"enabled": True}},
        "labels": labels,
        "podLabels": labels,
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


def cluster_autoscaler_values(env: EnvironmentConfig, cluster_name: str, labels: dict[str, str]) -> dict:
    return {
        "autoDiscovery": {"clusterName": cluster_name},
        "awsRegion": env.region,
        "image": {"tag": CLUSTER_AUTOSCALER_IMAGE_TAGS[env.cluster.kubernetes_version]},
        "nodeSelector": SYSTEM_NODES,
        "podLabels": labels,
        "rbac": {"serviceAccount": {"name": "cluster-autoscaler"}},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            # GPU nodes are expensive idle; model weights in emptyDir must not pin a node.
            "skip-nodes-with-local-storage": False,
            "scale-down-unneeded-time": "10m",
        },
    }


def karpenter_values(cluster_name: str, queue_name: str, labels: dict[str, str]) -> dict:
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "nodeSelector": SYSTEM_NODES,
        "podLabels": labels,
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


def prometheus_stack_values(env: EnvironmentConfig, labels: dict[str, str]) -> dict:
    """kube-prometheus-stack: select every ServiceMonitor, PodMonitor and PrometheusRule in
    the cluster (the serving chart's live in namespace gpt-oss), load dashboards from
    ConfigMaps labelled grafana_dashboard=1 in any namespace, route alerts to the environment's
    receivers, run on the system nodes."""
    system = {"nodeSelector": SYSTEM_NODES}
    return {
        "commonLabels": labels,
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
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL"}},
        },
    }


def helm_release(name: str, pin: ChartPin, values: pulumi.Input[dict], parent: pulumi.Resource, **extra) -> k8s.helm.v3.Release:
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
        opts=pulumi.ResourceOptions(parent=parent, **extra),
    )


class ClusterAddons(pulumi.ComponentResource):
    """Operators and node autoscaling. `ready` lists what workloads must wait for."""

    def __init__(
        self,
        name: str,
        env: EnvironmentConfig,
        cluster: ClusterHandle,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:k8s:ClusterAddons", name, None, opts)
        self.releases: list[k8s.helm.v3.Release] = []
        self.kuberay = helm_release(f"{name}-kuberay", KUBERAY_OPERATOR, kuberay_values(labels), self)
        self.releases.append(self.kuberay)
        if needs_device_plugin(env):
            self.releases.append(helm_release(f"{name}-nvidia-device-plugin", NVIDIA_DEVICE_PLUGIN, device_plugin_values(), self))
        if needs_cluster_autoscaler(env):
            self._cluster_autoscaler(name, env, cluster, labels)
        self.karpenter: k8s.helm.v3.Release | None = None
        if needs_karpenter(env):
            self.karpenter = self._karpenter(name, env, cluster, labels)
        if env.observability.install_prometheus_stack:
            self._prometheus_stack(name, env, labels)
        self.register_outputs({"releases": [r.name for r in self.releases]})

    def _prometheus_stack(self, name: str, env: EnvironmentConfig, labels: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-monitoring", metadata={"name": KUBE_PROMETHEUS_STACK.namespace, "labels": labels}, opts=child
        )
        password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": KUBE_PROMETHEUS_STACK.namespace, "labels": labels},
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(password.result)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
        self.releases.append(
            helm_release(
                f"{name}-kube-prometheus-stack",
                KUBE_PROMETHEUS_STACK,
                prometheus_stack_values(env, labels),
                self,
                depends_on=[secret],
            )
        )

    def _cluster_autoscaler(self, name: str, env: EnvironmentConfig, cluster: ClusterHandle, labels: dict[str, str]) -> None:
        identity = pod_identity_role(
            f"{name}-cluster-autoscaler",
            cluster,
            CLUSTER_AUTOSCALER.namespace,
            "cluster-autoscaler",
            cluster.name.apply(lambda n: iam_policies.dumps(iam_policies.cluster_autoscaler(n))),
            self,
        )
        values = cluster.name.apply(lambda n: cluster_autoscaler_values(env, n, labels))
        self.releases.append(helm_release(f"{name}-cluster-autoscaler", CLUSTER_AUTOSCALER, values, self, depends_on=[identity]))

    def _karpenter(self, name: str, env: EnvironmentConfig, cluster: ClusterHandle, labels: dict[str, str]) -> k8s.helm.v3.Release:
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
        # Nodes Karpenter launches join with the shared node role; API-mode clusters need an
        # access entry for it (managed node groups get theirs from EKS).
        aws.eks.AccessEntry(
            f"{name}-karpenter-nodes",
            cluster_name=cluster.name,
            principal_arn=cluster.node_role_arn,
            type="EC2_LINUX",
            opts=child,
        )
        policy = pulumi.Output.all(cluster.name, cluster.node_role_arn, queue.arn, cluster.arn).apply(
            lambda a: iam_policies.dumps(iam_policies.karpenter_controller(a[0], env.region, a[1], a[2], a[3]))
        )
        identity = pod_identity_role(f"{name}-karpenter", cluster, KARPENTER.namespace, "karpenter", policy, self)
        values = pulumi.Output.all(cluster.name, queue.name).apply(lambda a: karpenter_values(a[0], a[1], labels))
        release = helm_release(f"{name}-karpenter", KARPENTER, values, self, depends_on=[identity])
        self.releases.append(release)
        return release
