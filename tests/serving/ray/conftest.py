"""One Ray 2.58 cluster per test session (per xdist worker; the `ray` xdist group keeps these
tests on one), running dev's serve application as the chart renders it; gateways in front of it.

The cluster is always shut down at the end of the session, also when a test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.gateway_settings import COLD_START_BUDGET_S, PROBE_TIMEOUT_S
from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import MANAGED_API_KEY, RunningGateway, free_port, settings_for_test, wait_until, write_secrets
from tests.support import chart_kit
from tests.support.ray_serve_cluster import RayServeCluster, serve_config

# The environment whose render is deployed: dev scales its model to zero (min_replicas 0).
ENVIRONMENT = "dev"
APP = "gpt-oss"


def rendered_rayservice() -> dict[str, Any]:
    return chart_kit.one(chart_kit.rendered_docs(ENVIRONMENT), "RayService")


@pytest.fixture(scope="session")
def rayservice() -> dict[str, Any]:
    return rendered_rayservice()


@pytest.fixture(scope="session")
def model_id(rayservice: dict[str, Any]) -> str:
    env, _ = chart_kit.environment(ENVIRONMENT)
    return env.model.name


@pytest.fixture(scope="session")
def ray_serve(rayservice: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServeCluster]:
    """dev's serveConfigV2, deployed unchanged but for the swaps documented in
    tests/support/ray_serve_cluster.py, on a cluster shaped from the same render."""
    cluster = RayServeCluster(rayservice, tmp_path_factory.mktemp("ray"), free_port())
    try:
        cluster.start()
        cluster.deploy(serve_config(rayservice))
        wait_until(lambda: cluster.app_status(APP) == "RUNNING", timeout=180, interval=0.5)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def managed_api() -> Iterator[FakeOpenAI]:
    """The managed API: a fake (Ray cannot play a third party)."""
    fake = FakeOpenAI("managed", api_key=MANAGED_API_KEY, usage_null_in_chunks=True).start()
    yield fake
    fake.stop()


# Ray on two busy cores answers in tens to hundreds of milliseconds; these timeouts leave room
# for that while keeping a dead or full primary quick to leave. The probe's own timeout and the
# wake request's cold-start budget are dev's, as rendered (infra/gateway_settings.py).
RAY_PRIMARY = {
    "connect_timeout_s": 2,
    "first_byte_timeout_s": 10,
    "response_timeout_s": 30,
    "stream_idle_timeout_s": 10,
    "readiness": {
        "probe": "generation",
        "interval_s": 1,
        "recovery_interval_s": 1,
        "timeout_s": PROBE_TIMEOUT_S,
        "failures_to_unready": 1,
        "wake_timeout_s": COLD_START_BUDGET_S,
    },
}


@pytest.fixture
def ray_gateway(
    ray_serve: RayServeCluster, managed_api: FakeOpenAI, model_id: str, tmp_path: Path
) -> Iterator[Callable[..., RunningGateway]]:
    """Start a gateway whose primary is Ray Serve's HTTP proxy and whose fallback is the fake
    managed API, routing the model id the chart serves; `primary` overrides merge into the primary."""
    secrets = write_secrets(tmp_path)
    running: list[RunningGateway] = []

    def start(primary: dict[str, Any] | None = None, wait_for_probe: bool = True) -> RunningGateway:
        settings = settings_for_test(
            ray_serve.base_url + "/v1",
            managed_api.base_url,
            *secrets,
            primary={**RAY_PRIMARY, "model": model_id, **(primary or {})},
            routes=[{"model": model_id, "primary": "self-hosted", "fallback": "managed"}],
        )
        gateway = RunningGateway(settings).start()
        running.append(gateway)
        if wait_for_probe:
            wait_until(lambda: gateway.upstream("self-hosted").health.probes >= 1, timeout=30)
        return gateway

    yield start
    for gateway in running:
        gateway.stop()
