"""The OpenAI-compatible gateway: `gateway` values (image, scaling, settings, secrets, policy)."""

from __future__ import annotations

from typing import Any

from contracts import CLIENT_KEYS_SECRET, GATEWAY_PORT, MANAGED_API_KEY_SECRET, NODE_POOL_LABEL, SYSTEM_POOL
from infra.chart_values.network import INTERNET
from infra.config.models import EnvironmentConfig
from infra.gateway_settings import settings_for_environment

# The load balancer listens for TLS here and forwards plain HTTP to the gateway's port inside the VPC.
INGRESS_PORT = 443


def split_image(reference: str) -> tuple[str, str]:
    """(repository, digest) of `repository@sha256:...`; the chart pulls by digest only."""
    repository, _, digest = reference.partition("@")
    if not digest.startswith("sha256:"):
        raise ValueError(f"gateway image {reference!r} is not pinned by digest (repository@sha256:...)")
    return repository, digest


def ingress_values(env: EnvironmentConfig, vpc_cidrs: list[str], cost_tags: dict[str, str]) -> dict[str, Any]:
    ingress = env.gateway.ingress
    return {
        "enabled": ingress.enabled,
        "scheme": ingress.scheme,
        "certificateArn": ingress.certificate_arn or "",
        "port": INGRESS_PORT,
        # Default: the VPC (internal clients); the load balancer and the NetworkPolicy admit the same list.
        "sourceCidrs": list(ingress.source_cidrs) or list(vpc_cidrs),
        # The load balancer is created by the cloud provider's service controller, not by Pulumi:
        # it gets the cost tags only through this annotation.
        "tags": dict(cost_tags),
    }


def gateway_values(env: EnvironmentConfig, image: str, vpc_cidrs: list[str], cost_tags: dict[str, str]) -> dict[str, Any]:
    repository, digest = split_image(image)
    return {
        "enabled": True,
        "image": {
            "repository": repository,
            "tag": "",
            "digest": digest,
            "pullPolicy": "IfNotPresent",
        },
        "replicas": env.gateway.min_replicas,
        "autoscaling": {
            "enabled": True,
            "minReplicas": env.gateway.min_replicas,
            "maxReplicas": env.gateway.max_replicas,
            "targetCPUUtilizationPercentage": 70,
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        # The chart writes the object verbatim into the ConfigMap the gateway loads.
        "settings": settings_for_environment(env),
        "clientKeysSecret": CLIENT_KEYS_SECRET,
        "managedApiKeySecret": MANAGED_API_KEY_SECRET,
        # Without fallback no key is created; the pod must still start.
        "managedApiKeyOptional": not env.fallback.allowed,
        "service": {"port": GATEWAY_PORT},
        "ingress": ingress_values(env, vpc_cidrs, cost_tags),
        "nodeSelector": {NODE_POOL_LABEL: SYSTEM_POOL},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "networkPolicy": {
            "ingressFrom": [{"namespaceSelector": {}}],
            "managedApiEgress": INTERNET,
        },
        "serviceMonitor": {"enabled": True, "interval": "30s", "labels": {}},
    }
