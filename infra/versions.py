"""Every pinned version the stack deploys that does not come from the Python lock file.

One place, so an upgrade is one reviewed diff that goes dev -> staging -> prod. Sources are
the projects' release pages and chart repositories as read on 2026-11-21.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPin:
    release: str
    namespace: str
    repository: str
    chart: str
    version: str


KUBERAY_OPERATOR = ChartPin(
    release="kuberay-operator",
    namespace="kuberay-system",
    repository="https://ray-project.github.io/kuberay-helm/",
    chart="kuberay-operator",
    version="1.7.0",
)
NVIDIA_DEVICE_PLUGIN = ChartPin(
    release="nvidia-device-plugin",
    namespace="kube-system",
    repository="https://nvidia.github.io/k8s-device-plugin",
    chart="nvidia-device-plugin",
    version="0.20.1",
)
CLUSTER_AUTOSCALER = ChartPin(
    release="cluster-autoscaler",
    namespace="kube-system",
    repository="https://kubernetes.github.io/autoscaler",
    chart="cluster-autoscaler",
    version="9.59.0",
)
KARPENTER = ChartPin(
    release="karpenter",
    namespace="kube-system",
    repository="oci://public.ecr.aws/karpenter",
    chart="karpenter",
    version="1.14.0",
)
KUBE_PROMETHEUS_STACK = ChartPin(
    release="kube-prometheus-stack",
    namespace="monitoring",
    repository="https://prometheus-community.github.io/helm-charts",
    chart="kube-prometheus-stack",
    version="79.12.0",
)
# cluster-autoscaler's minor version must match the Kubernetes minor version.
CLUSTER_AUTOSCALER_IMAGE_TAGS = {"1.32": "v1.32.1", "1.33": "v1.33.0", "1.34": "v1.34.0"}
# Karpenter AMI aliases, pinned so that a new AMI reaches nodes through a reviewed change.
KARPENTER_AMI_ALIAS_VERSIONS = {"al2023": "v20251110", "bottlerocket": "v1.63.0"}
