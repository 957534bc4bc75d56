"""The OpenAI-compatible gateway: `gateway` values (image, scaling, settings, secrets, policy)."""

from __future__ import annotations

from typing import Any

from contracts import CLIENT_KEYS_SECRET, GATEWAY_PORT, MANAGED_API_KEY_SECRET, NODE_POOL_LABEL, SYSTEM_POOL
from infra.chart_values.network import INTERNET
from infra.config.models import EnvironmentConfig
from infra.gateway_settings import settings_for_environment

GATEWAY_IMAGE_REPOSITORY = "ghcr.io/example/gpt-oss-gateway"
GATEWAY_IMAGE_TAG = "0.1.0"


def gateway_values(env: EnvironmentConfig) -> dict[str, Any]:
    return {
        "enabled": True,
        "image": {
            "repository": GATEWAY_IMAGE_REPOSITORY,
            "tag": GATEWAY_IMAGE_TAG,
            "digest": "",
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
        "nodeSelector": {NODE_POOL_LABEL: SYSTEM_POOL},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "networkPolicy": {
            "ingressFrom": [{"namespaceSelector": {}}],
            "managedApiEgress": INTERNET,
        },
        "serviceMonitor": {"enabled": True, "interval": "30s", "labels": {}},
    }
