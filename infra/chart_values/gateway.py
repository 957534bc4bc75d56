"""The OpenAI-compatible gateway: `gateway` values (image, scaling, settings, secrets, ingress,
node placement). Keys, defaults and descriptions live in infra/chart_values/model/gateway.py."""

from __future__ import annotations

from contracts import NODE_POOL_LABEL, SYSTEM_POOL
from infra.chart_values.model.gateway import Gateway, GatewayAutoscaling, GatewayImage, GatewayIngress, ServiceMonitor
from infra.config.models import EnvironmentConfig
from infra.gateway_settings import settings_for_environment


def split_image(reference: str) -> tuple[str, str]:
    """(repository, digest) of `repository@sha256:...`; the chart pulls by digest only."""
    repository, _, digest = reference.partition("@")
    if not digest.startswith("sha256:"):
        raise ValueError(f"gateway image {reference!r} is not pinned by digest (repository@sha256:...)")
    return repository, digest


def ingress_values(env: EnvironmentConfig, vpc_cidrs: list[str], cost_tags: dict[str, str]) -> GatewayIngress:
    ingress = env.gateway.ingress
    return GatewayIngress(
        enabled=ingress.enabled,
        scheme=ingress.scheme,
        certificateArn=ingress.certificate_arn or "",
        # Default: the VPC (internal clients); the load balancer and the NetworkPolicy admit the same list.
        sourceCidrs=list(ingress.source_cidrs) or list(vpc_cidrs),
        # The load balancer is created by the cloud provider's service controller, not by Pulumi:
        # it gets the cost tags only through this annotation.
        tags=dict(cost_tags),
    )


def gateway_values(env: EnvironmentConfig, image: str, vpc_cidrs: list[str], cost_tags: dict[str, str]) -> Gateway:
    """Resources, secrets' names, port, disruption budget and network policy keep the chart's defaults."""
    repository, digest = split_image(image)
    return Gateway(
        enabled=True,
        image=GatewayImage(repository=repository, digest=digest),
        replicas=env.gateway.min_replicas,
        autoscaling=GatewayAutoscaling(minReplicas=env.gateway.min_replicas, maxReplicas=env.gateway.max_replicas),
        # The chart writes the object verbatim into the ConfigMap the gateway loads.
        settings=settings_for_environment(env),
        # Without fallback no key is created; the pod must still start.
        managedApiKeyOptional=not env.fallback.allowed,
        ingress=ingress_values(env, vpc_cidrs, cost_tags),
        nodeSelector={NODE_POOL_LABEL: SYSTEM_POOL},
        serviceMonitor=ServiceMonitor(enabled=True),
    )
