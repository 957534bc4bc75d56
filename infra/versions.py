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
    # 0.20.0: the release whose chart the offline plan renders and checks (infra/upstream/lock.json).
    version="0.20.0",
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
# 1.35: kubernetes/autoscaler tag cluster-autoscaler-1.35.2 (2026-07-22, the newest 1.35 patch;
# cluster-autoscaler/version/version.go "1.35.2"); the pinned chart 9.59.0 has appVersion 1.35.0
# (tag cluster-autoscaler-chart-9.59.0, charts/cluster-autoscaler/Chart.yaml), so it is made for it.
CLUSTER_AUTOSCALER_IMAGE_TAGS = {"1.32": "v1.32.1", "1.33": "v1.33.0", "1.34": "v1.34.0", "1.35": "v1.35.2"}
# Karpenter AMI aliases, pinned so that a new AMI reaches nodes through a reviewed change.
# Each must be a release in infra/catalog/eks_amis.yaml (the plan checks it): v20260714 is a tag of
# awslabs/amazon-eks-ami (2026-07-13) whose CHANGELOG lists amazon-eks-node-al2023-x86_64-nvidia
# AMIs for 1.32 to 1.35 (1.35.6-20260714) with NVIDIA driver 580.159.03, above CUDA 13.0's
# minimum 580.65.06. The earlier pin v20251112 had no 1.35 AMI. There is no v20251110.
KARPENTER_AMI_ALIAS_VERSIONS = {"al2023": "v20260714", "bottlerocket": "v1.63.0"}

# Ray and its image are pinned together: the image tag is "<RAY_VERSION>-<RAY_IMAGE_VARIANT>".
# RAY_VERSION must equal the `ray` version in uv.lock and the chart's appVersion (tested).
RAY_VERSION = "2.58.0"
RAY_IMAGE_REPOSITORY = "rayproject/ray-llm"
RAY_IMAGE_VARIANT = "py312-cu130"  # Python 3.12, CUDA 13.0; bundles vLLM 0.26.0
# The rayproject images run as user `ray` (uid 1000, gid 100) and own /home/ray.
RAY_UID = 1000
RAY_GID = 100

# Harmony (gpt-oss's chat format) loads these tiktoken files at start-up; they are staged
# by an init container and verified against the digests tiktoken itself pins
# (tiktoken_ext/openai_public.py). o200k_base is the one gpt-oss needs.
TIKTOKEN_PUBLIC_BASE = "https://openaipublic.blob.core.windows.net/encodings"
TIKTOKEN_FILES = {
    "o200k_base.tiktoken": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base.tiktoken": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}


def ray_image_tag(version: str = RAY_VERSION, variant: str = RAY_IMAGE_VARIANT) -> str:
    return f"{version}-{variant}"
