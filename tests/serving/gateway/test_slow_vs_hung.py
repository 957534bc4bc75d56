"""Slow is not hung. A primary that is busy (it generates tokens, its engine metrics say so) keeps
its JSON requests and its readiness; a primary that makes no progress at all is declared hung
only after consecutive failed probes, and then its waiting requests fall back."""

from __future__ import annotations

import threading
import time

import pytest

from serving.gateway.health import ProbeResult, UpstreamHealth
from serving.gateway.routing import Retryable, Terminal
from serving.gateway.settings import UpstreamSettings
from tests.serving.harness import wait_until

pytestmark = pytest.mark.slow


def readiness(primary, **overrides) -> dict:
    return {
        "probe": "generation",
        "interval_s": 0.2,
        "recovery_interval_s": 0.1,
        "timeout_s": 0.5,
        "failures_to_unready": 3,
        "engine_metrics_url": primary.base_url.removesuffix("/v1") + "/metrics",
        **overrides,
    }


def chat_in_background(gateway, results: list, n: int) -> list[threading.Thread]:
    threads = [threading.Thread(target=lambda: results.append(gateway.chat())) for _ in range(n)]
    for thread in threads:
        thread.start()
    return threads


def test_json_requests_on_a_busy_primary_are_waited_for_not_replayed(start_gateway, primary, managed):
    """The issue's case scaled down: every answer takes longer than the probe timeout (1.2 s vs
    0.5 s) while the engine is busy generating; nothing may be cut and replayed on the paid API."""
    gateway = start_gateway(primary={"response_timeout_s": 5, "readiness": readiness(primary)})
    primary.set("busy", delay_s=1.2)
    results: list = []
    threads = chat_in_background(gateway, results, 4)
    for thread in threads:
        thread.join(10)
    assert [r.status_code for r in results] == [200] * 4
    assert {r.headers["x-gateway-served-by"] for r in results} == {"self-hosted"}
    assert managed.chat_requests() == []
    assert gateway.upstream("self-hosted").health.ready is True
    assert gateway.metric("gateway_replays_total", reason="first_byte_timeout") == 0


def test_the_probe_does_not_queue_behind_requests_that_make_progress(start_gateway, primary, managed):
    gateway = start_gateway(primary={"response_timeout_s": 5, "readiness": readiness(primary)})
    primary.set("busy", delay_s=1.5)
    probes_before = len(primary.chat_requests(include_probes=True)) - len(primary.chat_requests())
    results: list = []
    threads = chat_in_background(gateway, results, 2)
    for thread in threads:
        thread.join(10)
    probes_during = len(primary.chat_requests(include_probes=True)) - len(primary.chat_requests()) - probes_before
    # 1.5 s of traffic with a 0.2 s interval would be ~7 probes; progressing traffic replaces them.
    assert probes_during <= 1


def test_a_json_request_past_its_timeout_on_a_busy_primary_is_504_and_not_replayed(start_gateway, primary, managed):
    gateway = start_gateway(primary={"response_timeout_s": 0.8, "readiness": readiness(primary)})
    primary.set("busy", delay_s=3)
    response = gateway.chat()
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert response.headers["x-gateway-served-by"] == "self-hosted"
    assert managed.chat_requests() == []
    assert gateway.upstream("self-hosted").health.circuit.state.name == "CLOSED"


def test_a_hung_primary_is_declared_so_only_after_consecutive_failed_probes_then_requests_fall_back(
    start_gateway, primary, managed
):
    gateway = start_gateway(primary={"response_timeout_s": 30, "readiness": readiness(primary)})
    primary.set("hang")  # /metrics: a request running, no token generated
    started = time.monotonic()
    response = gateway.chat()  # waits: three probes of 0.5 s must fail first
    elapsed = time.monotonic() - started
    assert response.headers["x-gateway-served-by"] == "managed"
    assert response.headers["x-gateway-fallback-reason"] == "first_byte_timeout"
    assert 1.0 <= elapsed < 5.0
    assert gateway.upstream("self-hosted").health.ready is False
    assert gateway.metric("gateway_replays_total", reason="first_byte_timeout") == 1  # counted, and alerted on


def test_one_failed_probe_does_not_mark_the_primary_unready(start_gateway, primary, managed):
    gateway = start_gateway(primary={"readiness": readiness(primary, engine_metrics_url=None, interval_s=0.3)})
    primary.set("status", status=500)
    wait_until(lambda: gateway.upstream("self-hosted").health.probes >= 2, timeout=3)
    primary.set("ok")
    wait_until(lambda: gateway.upstream("self-hosted").health.probes >= 4, timeout=3)
    assert gateway.upstream("self-hosted").health.ready is True


# -- the rules, with a hand-held clock -------------------------------------------------------------


class Progress:
    last_progress = 0.0


def health(
    failures: int = 3, timeout: float = 1.0, interval: float = 2.0, recovery: float = 0.25
) -> tuple[UpstreamHealth, Progress]:
    settings = UpstreamSettings(
        name="self-hosted",
        adapter="self_hosted",
        base_url="http://127.0.0.1:1/v1",
        model="m",
        readiness={
            "failures_to_unready": failures,
            "timeout_s": timeout,
            "interval_s": interval,
            "recovery_interval_s": recovery,
        },
        cost={"kind": "amortised_fleet", "fleet_usd_per_hour": 1.0},
    )
    h = UpstreamHealth(settings, 0.0, on_ready=lambda ready: None, on_circuit=lambda state: None)
    progress = Progress()
    h.progress_source = progress
    return h, progress


def test_readiness_falls_after_the_configured_consecutive_failures_and_a_healthy_probe_resets_them():
    h, _ = health(failures=3)
    h.probed_result(ProbeResult.OK, 0.0, 0.1)
    h.probed_result(ProbeResult.FAILED, 1.0, 1.1)
    h.probed_result(ProbeResult.HUNG, 2.0, 3.0)
    h.probed_result(ProbeResult.OK, 4.0, 4.1)  # resets
    h.probed_result(ProbeResult.FAILED, 5.0, 5.1)
    h.probed_result(ProbeResult.FAILED, 6.0, 6.1)
    assert h.ready is True
    h.probed_result(ProbeResult.FAILED, 7.0, 7.1)
    assert h.ready is False


def test_a_probe_that_timed_out_while_the_upstream_made_progress_is_busy_not_a_failure():
    h, progress = health(failures=1)
    progress.last_progress = 5.5  # an answer arrived during the probe (5.0 .. 6.0)
    h.probed_result(ProbeResult.HUNG, 5.0, 6.0)
    assert h.ready is None  # unchanged: not a failure


def test_engine_metrics_with_rising_tokens_count_as_progress():
    h, _ = health()
    h.engine_counters(100.0, 1.0)
    assert not h.progress_since(0.5)  # the first reading is a baseline
    h.engine_counters(100.0, 2.0)
    assert not h.progress_since(0.5)  # flat: no progress
    h.engine_counters(140.0, 3.0)
    assert h.progress_since(2.5)


def test_no_generation_probe_while_own_requests_progress_but_one_interval_without_progress_probes():
    h, progress = health(timeout=10.0, interval=1.0)
    h.in_flight = 3
    progress.last_progress = 9.5
    assert h.should_probe(10.0) is False
    # No progress for a whole interval: ask, however long the probe timeout and however many
    # requests are in flight (a hung engine's requests stay in flight).
    assert h.should_probe(10.6) is True
    h.in_flight = 0
    assert h.should_probe(10.0) is True


def test_a_failed_probe_is_confirmed_at_the_recovery_interval():
    h, _ = health(interval=2.0, recovery=0.25)
    h.probed_result(ProbeResult.OK, 0.0, 0.1)
    assert h.probe_interval(0.1) == 2.0
    h.probed_result(ProbeResult.HUNG, 1.0, 2.0)
    assert h.ready is True and h.probe_interval(2.0) == 0.25
    h.probed_result(ProbeResult.OK, 2.0, 2.1)
    assert h.probe_interval(2.1) == 2.0


def test_after_a_probe_skipped_for_progress_the_next_one_is_due_one_interval_after_that_progress():
    h, progress = health(interval=2.0, recovery=0.25)
    h.probed_result(ProbeResult.OK, 0.0, 0.1)
    progress.last_progress = 9.9
    h.in_flight = 1
    assert not h.should_probe(10.0)
    h.probed_result(ProbeResult.PROGRESSING, 10.0, 10.0)
    assert h.probe_interval(10.0) == pytest.approx(1.9)
    assert h.should_probe(11.9)


def test_a_cut_attempt_is_a_replayable_failure_even_when_the_upstream_progressed_since_it_began():
    h, progress = health()
    progress.last_progress = 12.0
    cut = h.classify_failure(TimeoutError(), started=10.0, stream=False, cut=True)
    assert isinstance(cut, Retryable) and cut.processed and not cut.slow


def test_a_timeout_with_progress_since_the_attempt_began_is_slowness():
    h, progress = health()
    progress.last_progress = 12.0
    json_answer = h.classify_failure(TimeoutError(), started=10.0, stream=False)
    assert isinstance(json_answer, Terminal) and json_answer.status == 504
    stream = h.classify_failure(TimeoutError(), started=10.0, stream=True)
    assert isinstance(stream, Retryable) and stream.slow and not stream.processed
    hung = h.classify_failure(TimeoutError(), started=13.0, stream=False)
    assert isinstance(hung, Retryable) and hung.processed and not hung.slow
