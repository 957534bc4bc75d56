"""A hung engine with an environment's own gateway settings, shared by the hang tests
(tests/serving/gateway/test_hang.py) and `gpt-oss-platform bench hang` (bench/hang.py).

The settings are those the chart writes for the environment (infra/gateway_settings.py), pointed
at two fake upstreams on 127.0.0.1. The tests scale every duration by the same factor (0.1: the
prod hang plays out in seconds with the same logic and the same ratios); the benchmark runs them
unscaled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.config import environment_from_stack_file
from infra.gateway_settings import settings_for_environment
from tests.serving.harness import free_port

# Every duration of an upstream's settings (the probe's and the circuit's included).
_UPSTREAM_DURATIONS = ("connect_timeout_s", "first_byte_timeout_s", "response_timeout_s", "stream_idle_timeout_s")
_READINESS_DURATIONS = ("interval_s", "recovery_interval_s", "timeout_s", "idle_after_s")
# ReadinessSettings' default, which the environment's settings leave to the gateway.
_RECOVERY_INTERVAL_S = 0.25


def environment_gateway_settings(
    env: str, primary_url: str, managed_url: str, clients_file: Path, key_file: Path, scale: float = 1.0
) -> dict[str, Any]:
    """The gateway settings of `env`, with every duration multiplied by `scale`, for a local run."""
    settings = settings_for_environment(environment_from_stack_file(env), primary_base_url=primary_url)
    settings.update(
        host="127.0.0.1",
        port=free_port(),
        # /metrics has a port of its own (serving/gateway/metrics_http.py): a free one, never the chart's.
        metrics={**settings.get("metrics", {}), "port": free_port()},
        clients_file=str(clients_file),
        # Neither is on the request path (background exchanges), and neither exists here.
        shared_store=None,
        route_override=None,
        reload_interval_s=0.2,
    )
    for upstream in settings["upstreams"]:
        if upstream["name"] == "managed":
            upstream.update(base_url=managed_url, api_key_file=str(key_file))
        for key in _UPSTREAM_DURATIONS:
            if upstream.get(key) is not None:
                upstream[key] = upstream[key] * scale
        readiness = upstream["readiness"]
        if readiness.get("probe") != "none":
            readiness.setdefault("recovery_interval_s", _RECOVERY_INTERVAL_S)
            for key in _READINESS_DURATIONS:
                if readiness.get(key) is not None:
                    readiness[key] = readiness[key] * scale
        circuit = upstream.get("circuit") or {}
        if "open_s" in circuit:
            circuit["open_s"] = circuit["open_s"] * scale
    return settings


def primary_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return next(u for u in settings["upstreams"] if u["name"] == "self-hosted")
