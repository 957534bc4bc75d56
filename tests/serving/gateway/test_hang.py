"""No request is stranded on a hung engine (issue #16 "A hung engine strands JSON requests", #19
drill 1), with prod's own gateway settings scaled down tenfold (tests/serving/hang.py): the
upstream accepts every request and never answers, /health stays up.

Scaled, prod's figures read: first-byte timeout 1.5 s, probe timeout 0.5 s, probe interval 0.2 s,
three failed probes to "not ready", JSON response timeout 30 s. The speed itself (hang to fallback
answer, recovery) is measured with unscaled settings by `gpt-oss-platform bench hang`; these tests
prove the behaviour: who answers, and that nobody waits for the 30 s response timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.fake_openai import FakeOpenAI
from tests.serving.hang import environment_gateway_settings, primary_settings
from tests.serving.harness import KEYS, PUBLIC_MODEL, RunningGateway, wait_until

pytestmark = pytest.mark.slow

SCALE = 0.1
# Scaled: +25 s after the hang began, the instant the JSON request waited 300 s from.
LATE_REQUEST_S = 25 * SCALE


@pytest.fixture
def prod_gateway(primary: FakeOpenAI, managed: FakeOpenAI, secrets: tuple[Path, Path]) -> Iterator[Callable[..., RunningGateway]]:
    running: list[RunningGateway] = []

    def start(replay_maybe_processed: bool | None = None) -> RunningGateway:
        settings = environment_gateway_settings("prod", primary.base_url, managed.base_url, *secrets, scale=SCALE)
        if replay_maybe_processed is not None:
            settings["retry"] = {"replay_maybe_processed": replay_maybe_processed}
        gateway = RunningGateway(settings).start()
        running.append(gateway)
        wait_until(lambda: gateway.upstream("self-hosted").health.ready is True)
        return gateway

    yield start
    for gateway in running:
        gateway.stop()


def send_later(
    gateway: RunningGateway, delay: float, results: dict[str, Any], name: str, stream: bool = False
) -> threading.Thread:
    """Send a chat request after `delay` seconds on its own connection; record (response, seconds)."""

    def run() -> None:
        time.sleep(delay)
        payload: dict[str, Any] = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "Say hello."}]}
        if stream:
            payload["stream"] = True
        started = time.monotonic()
        with httpx.Client(base_url=gateway.base_url, timeout=60) as client:
            response = client.post("/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {KEYS['app']}"})
        results[name] = (response, time.monotonic() - started)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_the_prod_settings_give_the_probe_its_own_timeout_below_the_first_byte_timeout(prod_gateway, primary):
    settings = primary_settings(environment_gateway_settings("prod", primary.base_url, primary.base_url, Path("c"), Path("k")))
    assert settings["readiness"]["timeout_s"] < settings["first_byte_timeout_s"]
    assert settings["readiness"]["timeout_s"] * settings["readiness"]["failures_to_unready"] < settings["response_timeout_s"]


def test_every_request_waiting_on_a_hung_primary_falls_back_whenever_it_arrived(prod_gateway, primary, managed):
    """JSON requests sent at the hang, after the first probe failed, and at +25 s (scaled), and a
    stream: all answered by the fallback long before the JSON response timeout."""
    gateway = prod_gateway()
    response_timeout = gateway.upstream("self-hosted").settings.response_timeout_s
    primary.set("hang")
    hang_began = time.monotonic()
    results: dict[str, Any] = {}
    threads = [
        send_later(gateway, 0.0, results, "json-at-hang"),
        # After the first probe went out and before the verdict: the old code left these waiting.
        send_later(gateway, 0.7, results, "json-during-probes"),
        send_later(gateway, 0.0, results, "stream-at-hang", stream=True),
        send_later(gateway, LATE_REQUEST_S, results, "json-at-+25s"),
    ]
    for thread in threads:
        thread.join(response_timeout)
    assert set(results) == {"json-at-hang", "json-during-probes", "stream-at-hang", "json-at-+25s"}
    for name, (response, elapsed) in results.items():
        assert response.status_code == 200, (name, response.text)
        assert response.headers["x-gateway-served-by"] == "managed", name
        assert elapsed < response_timeout / 3, (name, elapsed)
    assert results["json-at-hang"][0].headers["x-gateway-fallback-reason"] == "first_byte_timeout"
    assert results["json-during-probes"][0].headers["x-gateway-fallback-reason"] == "first_byte_timeout"
    # By +25 s (scaled) the primary is known hung: the late request goes straight to the fallback.
    assert results["json-at-+25s"][0].headers["x-gateway-fallback-reason"] == "not_ready"
    assert gateway.upstream("self-hosted").health.ready is False
    assert time.monotonic() - hang_began < response_timeout / 3


def test_requests_in_flight_do_not_postpone_the_probe_of_a_hung_primary(prod_gateway, primary, managed):
    """Requests in flight made progress just before the hang (their last bytes): the prober may
    skip one interval for them, not until the hang is over."""
    gateway = prod_gateway()
    health = gateway.upstream("self-hosted").health
    primary.set("hang")
    results: dict[str, Any] = {}
    threads = [send_later(gateway, 0.0, results, f"json-{i}") for i in range(4)]
    wait_until(lambda: health.in_flight == 4, timeout=2)
    wait_until(lambda: health.ready is False, timeout=30 * SCALE)
    for thread in threads:
        thread.join(10)
    assert {r.headers["x-gateway-served-by"] for r, _ in results.values()} == {"managed"}


def test_without_replay_a_cut_request_is_answered_502_at_the_verdict_not_after_the_response_timeout(
    prod_gateway, primary, managed
):
    """The maybe-processed rule stays: a request the hung engine accepted may have been processed,
    so with replay_maybe_processed false it is not sent to the paid API, but it is not left
    waiting either."""
    gateway = prod_gateway(replay_maybe_processed=False)
    response_timeout = gateway.upstream("self-hosted").settings.response_timeout_s
    primary.set("hang")
    started = time.monotonic()
    response = gateway.chat()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_failed_not_replayed"
    assert time.monotonic() - started < response_timeout / 3
    assert managed.chat_requests() == []
    # Requests that arrive once the primary is not ready were never sent to it: they fall back.
    later = gateway.chat()
    assert later.headers["x-gateway-served-by"] == "managed"
    assert later.headers["x-gateway-fallback-reason"] == "not_ready"


def test_traffic_returns_when_the_hung_engine_is_restarted(prod_gateway, primary, managed):
    gateway = prod_gateway()
    health = gateway.upstream("self-hosted").health
    primary.set("hang")
    assert gateway.chat().headers["x-gateway-served-by"] == "managed"
    wait_until(lambda: health.ready is False, timeout=30 * SCALE)
    # The engine restarts: its stuck connections drop, the new process answers.
    primary.set("refuse")
    primary.set("ok")
    wait_until(lambda: gateway.chat().headers["x-gateway-served-by"] == "self-hosted", timeout=10 * SCALE)
