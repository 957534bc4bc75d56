"""Circuit breaker, readiness and the return to the primary, seen from the outside."""

from __future__ import annotations

import threading
import time

import pytest

from tests.serving.harness import wait_until

pytestmark = pytest.mark.slow

FAST_RECOVERY = {"probe": "generation", "interval_s": 30, "timeout_s": 0.3, "recovery_interval_s": 0.1}


def circuit_state(gateway) -> float:
    return gateway.metric("gateway_circuit_state", upstream="self-hosted")


def test_the_circuit_opens_after_consecutive_failures_and_says_so_in_metrics(gateway, primary, managed):
    primary.set("status", status=500)
    reasons = [gateway.chat().headers["x-gateway-fallback-reason"] for _ in range(4)]
    assert reasons == ["upstream_5xx"] * 3 + ["circuit_open"]
    assert circuit_state(gateway) == 2
    assert gateway.metric("gateway_circuit_transitions_total", upstream="self-hosted", state="open") == 1
    assert len(primary.chat_requests()) == 3  # the fourth never reached it


def test_half_open_lets_one_probe_through_and_closes_on_its_success(gateway, primary, managed):
    primary.set("status", status=500)
    for _ in range(3):
        gateway.chat()
    primary.set("ok")
    time.sleep(0.65)  # open_s is 0.6
    response = gateway.chat()
    assert response.headers["x-gateway-served-by"] == "self-hosted"
    assert circuit_state(gateway) == 0
    for state in ("half_open", "closed"):
        assert gateway.metric("gateway_circuit_transitions_total", upstream="self-hosted", state=state) == 1


def test_half_open_admits_one_probe_at_a_time(gateway, primary, managed):
    primary.set("status", status=500)
    for _ in range(3):
        gateway.chat()
    primary.set("slow_first_byte", delay_s=0.4)
    time.sleep(0.65)
    probe: list = []
    worker = threading.Thread(target=lambda: probe.append(gateway.chat()))
    worker.start()
    wait_until(lambda: gateway.upstream("self-hosted").health.in_flight == 1)
    other = gateway.chat()
    worker.join()
    assert other.headers["x-gateway-fallback-reason"] == "circuit_open"
    assert probe[0].headers["x-gateway-served-by"] == "self-hosted"
    assert circuit_state(gateway) == 0


def test_a_failed_half_open_probe_opens_the_circuit_again(gateway, primary, managed):
    primary.set("status", status=500)
    for _ in range(3):
        gateway.chat()
    time.sleep(0.65)
    assert gateway.chat().headers["x-gateway-fallback-reason"] == "upstream_5xx"  # the probe, failed
    assert circuit_state(gateway) == 2
    assert gateway.chat().headers["x-gateway-fallback-reason"] == "circuit_open"


def test_traffic_returns_to_the_primary_as_soon_as_it_answers_again(start_gateway, primary, managed):
    gateway = start_gateway(primary={"readiness": FAST_RECOVERY})
    primary.set("refuse")
    assert gateway.chat().headers["x-gateway-served-by"] == "managed"
    assert gateway.metric("gateway_upstream_ready", upstream="self-hosted") == 0
    primary.set("ok")
    recovered = time.monotonic()
    wait_until(lambda: gateway.chat().headers["x-gateway-served-by"] == "self-hosted", timeout=2)
    assert time.monotonic() - recovered < 1.0
    assert gateway.metric("gateway_upstream_ready", upstream="self-hosted") == 1


def test_a_probe_that_finds_the_engine_hung_cuts_waiting_requests_short(start_gateway, primary, managed):
    # Non-streaming answers may legitimately take long (response_timeout_s 10 s here); a hung
    # engine must not hold them that long: the prober notices and they fall back.
    gateway = start_gateway(primary={"response_timeout_s": 10, "readiness": {**FAST_RECOVERY, "interval_s": 0.2}})
    primary.set("hang")
    started = time.monotonic()
    response = gateway.chat()
    assert time.monotonic() - started < 2.0
    assert response.headers["x-gateway-served-by"] == "managed"
    assert response.headers["x-gateway-fallback-reason"] == "first_byte_timeout"
    assert gateway.chat().headers["x-gateway-fallback-reason"] == "not_ready"


def test_readiness_of_the_gateway_does_not_depend_on_the_primary(gateway, primary):
    primary.set("refuse")
    gateway.chat()
    assert gateway.http.get("/readyz").status_code == 200
    assert gateway.http.get("/healthz").status_code == 200


def test_a_busy_probe_answer_does_not_mark_the_primary_unready(start_gateway, primary, managed):
    gateway = start_gateway(primary={"readiness": {**FAST_RECOVERY, "interval_s": 0.1}})
    primary.set("status", status=429)
    time.sleep(0.3)
    assert gateway.upstream("self-hosted").health.ready is True
