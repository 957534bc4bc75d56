"""Derive the gateway's settings object from the typed environment config and the catalog.

The chart writes the returned dict verbatim into the ConfigMap key `gateway.json`
(docs/contracts.md), so nothing here may depend on anything but `env`, the catalog and the
primary's URL. The gateway's own model (serving/gateway/settings.py) is the schema; infra/ may
not import it, so the chart's values.schema.json keeps `gateway.settings` a free-form object and
tests validate every environment's object against the model itself
(tests/infra/test_gateway_settings.py).
"""

from __future__ import annotations

from typing import Any

from contracts import (
    GATEWAY_CLIENTS_FILE,
    GATEWAY_MANAGED_API_KEY_FILE,
    GATEWAY_METRICS_PORT,
    GATEWAY_PORT,
    NAMESPACE,
    PRIMARY_BASE_URL,
    ROUTE_OVERRIDE_CONFIGMAP,
    UPSTREAM_MANAGED,
    UPSTREAM_SELF_HOSTED,
)
from infra.capacity import capacity_for, replica_sizing
from infra.catalog import load_catalog
from infra.config.models import EnvironmentConfig
from infra.models.routes import add_served_routes

# A non-streaming answer arrives in one piece, so its timeout bounds the whole generation: a
# long reasoning answer at high effort takes minutes. A hung engine is caught by the prober
# instead (docs/gateway.md "Slow or hung"), which then cuts every waiting request onto the fallback.
SELF_HOSTED_RESPONSE_TIMEOUT_S = 300.0
PROBE_INTERVAL_S = 2.0
# The generation probe's own timeout: one token for a five-word prompt. On a working engine it is
# one prefill and one decode step (well under a second even with a full batch, since vLLM schedules
# new prefills between decode steps); a probe that waits longer while this pod sees progress is
# "busy", not failed (serving/gateway/health.py). The hung verdict comes about
# PROBE_INTERVAL_S + PROBE_FAILURES_TO_UNREADY x PROBE_TIMEOUT_S after the engine's last byte
# (2 + 3 x 5 = 17 s), inside the 20 s goal of issue #16 (measured: bench/results/hang.md).
PROBE_TIMEOUT_S = 5.0
# Ray Serve's default downscale delay before scaling a deployment to zero is 600 s; after that
# much silence a pool with min_replicas 0 is presumed cold.
SCALE_TO_ZERO_IDLE_S = 600.0
# The cold-start budget of a pool scaled to zero: how long the gateway's one wake request stays
# open (serving/gateway/health.py "Waking a pool scaled to zero"; a probe cut at PROBE_TIMEOUT_S
# leaves Ray Serve no demand to scale up on). A GPU node from Karpenter, the image pull and the
# weight load: 1.5 x the 10-minute cold-start estimate of infra/cost/capacity.py.
COLD_START_BUDGET_S = 900.0
# The managed API is the last resort: nothing is behind it, so its timeouts only bound how
# long a client waits for an error. o-series models think before their first streamed token.
MANAGED_FIRST_BYTE_TIMEOUT_S = 120.0
MANAGED_RESPONSE_TIMEOUT_S = 600.0
# How often each gateway pod checks the managed API key with GET /models (free; docs/alerts.md:
# GptOssGatewayManagedAuthFailing fires within a few of these after a revocation). Per pod: at
# 2-4 pods that is a handful of calls a minute, far below any rate limit.
MANAGED_CREDENTIAL_CHECK_S = 30.0
# Consecutive failed probes (with no progress in between) before the primary is marked not ready:
# one slow probe queued behind user traffic must not move a pod's traffic to the paid API.
PROBE_FAILURES_TO_UNREADY = 3
# Ray Serve LLM's OpenAI ingress serves these (ray 2.58: ray/llm/_internal/serve/core/ingress/
# ingress.py DEFAULT_ENDPOINTS has chat and completions, no /v1/responses).
RAY_SERVE_LLM_ENDPOINTS = ["chat", "completions"]
# The environment variable the chart fills with the Redis address (charts/gpt-oss-serving/templates/gateway.yaml).
SHARED_STORE_ADDRESS_ENV = "GATEWAY_SHARED_STORE_ADDRESS"
# Keys the gateway writes into a Redis it shares (the Ray GCS store): distinct from Ray's own.
SHARED_STORE_KEY_PREFIX = "gpt-oss-gateway:"


def settings_for_environment(env: EnvironmentConfig, *, primary_base_url: str = PRIMARY_BASE_URL) -> dict[str, Any]:
    """The JSON-ready gateway settings for `env`, with the RayService reachable at `primary_base_url`."""
    catalog = load_catalog()
    gateway = env.gateway
    sizing = replica_sizing(env)
    floor_replicas = max(1, env.serving.min_replicas)
    capacity = capacity_for(env)
    circuit = {
        "failure_threshold": gateway.circuit_failure_threshold,
        "open_s": gateway.circuit_open_seconds,
    }
    primary = {
        "name": UPSTREAM_SELF_HOSTED,
        "adapter": "self_hosted",
        "base_url": primary_base_url,
        "model": env.model.name,
        "first_byte_timeout_s": gateway.first_byte_timeout_s,
        "stream_idle_timeout_s": gateway.first_byte_timeout_s,
        "response_timeout_s": max(SELF_HOSTED_RESPONSE_TIMEOUT_S, gateway.first_byte_timeout_s),
        # Derived with every other capacity limit (infra/sizing.py serving_capacity): the gateway's
        # minimum pods admit what the replicas take, so nothing goes to the paid API early.
        "max_in_flight": capacity.gateway_max_in_flight,
        "endpoints": RAY_SERVE_LLM_ENDPOINTS,
        "circuit": circuit,
        "readiness": {
            "probe": "generation",
            "interval_s": PROBE_INTERVAL_S,
            "timeout_s": PROBE_TIMEOUT_S,
            "failures_to_unready": PROBE_FAILURES_TO_UNREADY,
            # Probing keeps a replica busy enough that Ray Serve never scales to zero; only a
            # pool allowed to reach zero stops probing when idle.
            "idle_after_s": SCALE_TO_ZERO_IDLE_S if env.serving.min_replicas == 0 else None,
            "wake_timeout_s": COLD_START_BUDGET_S if env.serving.min_replicas == 0 else None,
        },
        "cost": {
            "kind": "amortised_fleet",
            # Node-true: the floor's replicas cost the nodes they occupy, whole (infra/sizing.py).
            "fleet_usd_per_hour": sizing.usd_per_hour(floor_replicas),
            "gateway_pods": gateway.min_replicas,
        },
    }
    upstreams: list[dict[str, Any]] = [primary]
    route: dict[str, Any] = {"model": env.model.name, "primary": UPSTREAM_SELF_HOSTED, "fallback": None}
    if env.fallback.allowed:
        price = catalog.managed_api[env.fallback.model]
        upstreams.append(
            {
                "name": UPSTREAM_MANAGED,
                "adapter": "managed_openai",
                "base_url": env.fallback.base_url,
                "model": env.fallback.model,
                "api_key_file": GATEWAY_MANAGED_API_KEY_FILE,
                "first_byte_timeout_s": MANAGED_FIRST_BYTE_TIMEOUT_S,
                "stream_idle_timeout_s": MANAGED_FIRST_BYTE_TIMEOUT_S,
                "response_timeout_s": MANAGED_RESPONSE_TIMEOUT_S,
                "circuit": circuit,
                "readiness": {"probe": "none"},
                "credential_check_interval_s": MANAGED_CREDENTIAL_CHECK_S,
                "cost": {
                    "kind": "token_price",
                    "input_usd_per_mtok": price.input_per_mtok,
                    "output_usd_per_mtok": price.output_per_mtok,
                },
            }
        )
        route["fallback"] = UPSTREAM_MANAGED
    settings = {
        "environment": env.name,
        "team": env.tags.team,
        "port": GATEWAY_PORT,
        # /metrics on a port of its own, for Prometheus only (the chart's NetworkPolicy and ServiceMonitor).
        "metrics": {"port": GATEWAY_METRICS_PORT},
        "clients_file": GATEWAY_CLIENTS_FILE,
        "routes": [route],
        "upstreams": upstreams,
        # Bodies larger than the context cannot be served; connections as many as the pod's memory
        # holds with their bodies (the plan checks both against the in-flight limit).
        "limits": {"max_n": gateway.max_n, "max_request_bytes": capacity.max_request_bytes},
        "server": {"max_connections": capacity.gateway_max_connections},
        "shared_store": shared_store(env),
        # The drain switch (serving/gateway/route_override.py): the API server's address, token and
        # CA come from the pod's service account (the chart's gateway-route-override.yaml).
        "route_override": {"configmap": ROUTE_OVERRIDE_CONFIGMAP, "namespace": NAMESPACE},
    }
    return add_served_routes(
        settings, env, SCALE_TO_ZERO_IDLE_S, COLD_START_BUDGET_S
    )  # further models and adapters (docs/models.md)


def shared_store(env: EnvironmentConfig) -> dict[str, Any] | None:
    """The Redis the gateway pods share limits and spend through: the environment's Ray GCS store
    when it has one (prod: ElastiCache, reachable from the cluster security group, no TLS/AUTH,
    infra/components/gcs_redis.py) and no password is needed; else none (dev, staging: per pod).

    The address reaches the pod as an environment variable the chart sets from the same value the
    RayService gets (`rayService.gcsFaultTolerance.redisAddress`): for a managed store it is known
    only once Pulumi created it.
    """
    ft = env.serving.gcs_fault_tolerance
    if not env.gateway.shared_limits or not ft.enabled or ft.redis_password_secret:
        return None
    return {"address_env": SHARED_STORE_ADDRESS_ENV, "key_prefix": SHARED_STORE_KEY_PREFIX}
