"""Falling back before the first byte: every trigger, over real HTTP, with the official SDK and httpx.

The primary is a fault-injecting fake of the self-hosted vLLM endpoint, the fallback a fake of the
managed API that insists on the managed key. Each test switches the primary's fault and checks
what a client sees: served by whom, why, at what cost, and that the managed API got the request
with the gateway's own key.
"""

from __future__ import annotations

import threading
import time

import openai
import pytest

from tests.serving.harness import (
    KEYS,
    MANAGED_API_KEY,
    MANAGED_MODEL,
    ONE_FAILED_PROBE_UNREADIES,
    PUBLIC_MODEL,
    sse_data,
    stream_content,
    wait_until,
)

pytestmark = pytest.mark.slow


def sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["app"], max_retries=0, timeout=10)


def assert_served_by_managed(response, reason: str, managed) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "managed"
    assert response.headers["x-gateway-model"] == MANAGED_MODEL
    assert response.headers["x-gateway-fallback-reason"] == reason
    calls = managed.chat_requests()
    assert calls, "the managed API was not called"
    assert calls[-1].headers["authorization"] == f"Bearer {MANAGED_API_KEY}"
    assert calls[-1].body["model"] == MANAGED_MODEL


# -- the happy path -------------------------------------------------------------------------------


def test_a_healthy_primary_serves_and_the_response_says_so(gateway, primary, managed):
    raw = sdk(gateway).chat.completions.with_raw_response.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "Hi"}])
    completion = raw.parse()
    assert completion.model == PUBLIC_MODEL
    assert completion.choices[0].message.content.startswith("Hello from self-hosted")
    assert raw.headers["x-gateway-served-by"] == "self-hosted"
    assert raw.headers["x-gateway-model"] == PUBLIC_MODEL
    assert "x-gateway-fallback-reason" not in raw.headers
    assert float(raw.headers["x-gateway-cost-usd"]) > 0
    assert managed.chat_requests() == []


def test_gpt_oss_parameters_pass_through_and_tool_calls_come_back(gateway, primary):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]
    completion = sdk(gateway).chat.completions.create(
        model=PUBLIC_MODEL,
        messages=[{"role": "user", "content": "Weather?"}],
        reasoning_effort="high",
        tools=tools,
        tool_choice="auto",
    )
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"
    sent = primary.chat_requests()[-1].body
    assert (sent["reasoning_effort"], sent["tools"], sent["tool_choice"]) == ("high", tools, "auto")


def test_client_credentials_never_reach_an_upstream(gateway, primary, managed):
    gateway.chat()
    primary.set("refuse")
    gateway.chat()
    assert primary.requests[-1].headers.get("authorization") is None
    assert managed.chat_requests()[-1].headers["authorization"] == f"Bearer {MANAGED_API_KEY}"
    everything = str([r.headers for r in primary.requests + managed.requests])
    assert not any(key in everything for key in KEYS.values())


# -- every trigger, non-streaming and streaming ------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    "fault, behaviour, reason",
    [
        ("refuse", {}, "connect_failed"),
        ("status", {"status": 500}, "upstream_5xx"),
        ("status", {"status": 502}, "upstream_5xx"),
        ("status", {"status": 429, "retry_after": "3"}, "backpressure"),
        ("status", {"status": 503}, "backpressure"),
    ],
)
def test_primary_failures_fall_back_before_the_first_byte(gateway, primary, managed, stream, fault, behaviour, reason):
    primary.set(fault, **behaviour)
    response = gateway.chat(stream=stream)
    assert_served_by_managed(response, reason, managed)
    if stream:
        assert stream_content(response.text).startswith("Hello from managed")
        assert sse_data(response.text)[-1] == "[DONE]"
    else:
        assert response.json()["model"] == MANAGED_MODEL
        assert float(response.headers["x-gateway-cost-usd"]) > 0


def test_after_a_refused_connection_later_requests_skip_the_primary_at_once(gateway, primary, managed):
    primary.set("refuse")
    assert gateway.chat().headers["x-gateway-fallback-reason"] == "connect_failed"
    started = time.monotonic()
    second = gateway.chat()
    assert second.headers["x-gateway-fallback-reason"] == "not_ready"
    assert time.monotonic() - started < 0.5


def test_a_hung_engine_falls_back_after_the_first_byte_timeout_for_streams(gateway, primary, managed):
    primary.set("hang")  # headers sent at once, then nothing: vLLM with a stuck engine
    started = time.monotonic()
    response = gateway.chat(stream=True)
    elapsed = time.monotonic() - started
    assert_served_by_managed(response, "first_byte_timeout", managed)
    assert 0.55 <= elapsed < 2.0  # first_byte_timeout_s is 0.6 in the test settings


def test_a_hung_engine_falls_back_after_the_response_timeout_for_json(gateway, primary, managed):
    primary.set("hang")
    started = time.monotonic()
    response = gateway.chat()
    assert_served_by_managed(response, "first_byte_timeout", managed)
    assert 1.4 <= time.monotonic() - started < 3.0  # response_timeout_s is 1.5


def test_a_slow_first_token_beyond_the_timeout_falls_back(gateway, primary, managed):
    primary.set("slow_first_byte", delay_s=1.5)
    assert_served_by_managed(gateway.chat(stream=True), "first_byte_timeout", managed)


def test_a_slow_first_token_within_the_timeout_is_waited_for(gateway, primary, managed):
    primary.set("slow_first_byte", delay_s=0.3)
    response = gateway.chat(stream=True)
    assert response.headers["x-gateway-served-by"] == "self-hosted"
    assert managed.chat_requests() == []


def test_a_stream_that_opens_with_an_error_event_falls_back(gateway, primary, managed):
    primary.set("error_event")
    response = gateway.chat(stream=True)
    assert_served_by_managed(response, "stream_error_event", managed)
    assert "engine failed" not in response.text  # nothing of the failed attempt reached the client


def test_a_json_answer_cut_in_the_middle_falls_back(gateway, primary, managed):
    primary.set("cut_mid_stream")
    assert_served_by_managed(gateway.chat(), "connection_reset", managed)


def test_a_primary_that_is_not_ready_is_skipped_without_an_attempt(start_gateway, primary, managed):
    primary.set("status", status=500)  # the start-up probe fails: not ready
    gateway = start_gateway(primary={"readiness": ONE_FAILED_PROBE_UNREADIES})
    # The start-up probe runs beside the server's start; on a loaded machine its answer can land
    # after the server listens (ready is None, unknown, until then).
    deadline = time.monotonic() + 10
    while gateway.upstream("self-hosted").health.ready is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.upstream("self-hosted").health.ready is False
    response = gateway.chat()
    assert_served_by_managed(response, "not_ready", managed)
    assert primary.chat_requests() == []


def test_a_saturated_primary_is_skipped_for_the_request_above_the_ceiling(start_gateway, primary, managed):
    gateway = start_gateway(primary={"max_in_flight": 1})
    primary.set("slow_first_byte", delay_s=0.4)
    first: list = []
    worker = threading.Thread(target=lambda: first.append(gateway.chat()))
    worker.start()
    wait_until(lambda: gateway.upstream("self-hosted").health.in_flight == 1)
    second = gateway.chat()
    worker.join()
    assert first[0].headers["x-gateway-served-by"] == "self-hosted"
    assert_served_by_managed(second, "saturated", managed)


def test_a_pool_idle_long_enough_to_scale_to_zero_is_presumed_cold_and_woken(start_gateway, primary, managed):
    gateway = start_gateway(
        primary={
            "readiness": {
                "probe": "generation",
                "interval_s": 30,
                "timeout_s": 0.6,
                "recovery_interval_s": 0.1,
                "idle_after_s": 0.3,
            }
        }
    )
    time.sleep(0.4)
    response = gateway.chat()
    assert_served_by_managed(response, "not_ready", managed)
    # The request woke the prober; the pool answers its probe, so traffic returns.
    wait_until(
        lambda: gateway.upstream("self-hosted").health.ready is True, timeout=10
    )  # well under the 30 s interval: only the wake-up can make it
    assert gateway.chat().headers["x-gateway-served-by"] == "self-hosted"


@pytest.mark.parametrize("wake_timeout_s", [None, 5.0])
def test_a_cold_pool_that_answers_only_a_held_request_is_woken_by_one_wake_request(
    start_gateway, primary, managed, wake_timeout_s
):
    # A pool scaled to zero, as Ray Serve behaves: it answers only a request that stays open
    # through its cold start (1.5 s here); probes cut at their own 0.3 s timeout never wake it.
    readiness = {"probe": "generation", "interval_s": 30, "timeout_s": 0.3, "recovery_interval_s": 0.1, "idle_after_s": 1.0}
    gateway = start_gateway(primary={"readiness": {**readiness, "wake_timeout_s": wake_timeout_s}})
    primary.set("cold", delay_s=1.5)
    time.sleep(1.1)
    started = time.monotonic()
    response = gateway.chat()
    assert_served_by_managed(response, "not_ready", managed)
    assert time.monotonic() - started < 1.0  # the client does not wait for the cold start
    health = gateway.upstream("self-hosted").health
    served_by: list[str] = []

    def served_by_primary() -> bool:
        # Clients keep asking (so the pool is not idle) and are answered by the fallback meanwhile.
        served_by.append(gateway.chat().headers["x-gateway-served-by"])
        return served_by[-1] == "self-hosted"

    if wake_timeout_s is None:
        # Without a wake request the probes keep being cut and the pool never comes up.
        with pytest.raises(AssertionError):
            wait_until(served_by_primary, timeout=3, interval=0.1)
        assert health.ready is False and health.probes >= 3 and set(served_by) == {"managed"}
        return
    # The one wake request stays open beside the probes and its answer makes the pool ready.
    wait_until(served_by_primary, timeout=5, interval=0.1)
    assert not health.waking and "managed" in served_by
    assert len(primary.chat_requests(include_probes=True)) >= 3  # probes went on beside the wake request


# -- the duplicate-processing rule and the retry budget -------------------------------------------


def test_without_replay_a_request_the_primary_may_have_processed_is_not_sent_again(start_gateway, primary, managed):
    gateway = start_gateway(retry={"replay_maybe_processed": False})
    primary.set("status", status=500)
    response = gateway.chat()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_failed_not_replayed"
    assert managed.chat_requests() == []


def test_without_replay_known_unprocessed_failures_still_fall_back(start_gateway, primary, managed):
    gateway = start_gateway(retry={"replay_maybe_processed": False})
    primary.set("status", status=429)
    assert_served_by_managed(gateway.chat(), "backpressure", managed)


def test_replayed_requests_are_counted(gateway, primary, managed):
    primary.set("status", status=500)
    gateway.chat()
    assert gateway.metric("gateway_replays_total", reason="upstream_5xx") == 1
    assert gateway.metric("gateway_fallbacks_total", reason="upstream_5xx") == 1


def test_second_attempts_stop_when_the_retry_budget_is_spent(start_gateway, primary, managed):
    gateway = start_gateway(retry={"budget_ratio": 0, "budget_min_per_s": 0, "budget_burst": 1})
    primary.set("status", status=500)
    assert gateway.chat().headers["x-gateway-served-by"] == "managed"
    refused = gateway.chat()
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "retry_budget_exhausted"
    assert int(refused.headers["retry-after"]) >= 1
    assert len(managed.chat_requests()) == 1


def test_an_upstream_request_error_goes_back_to_the_client_without_fallback(gateway, primary, managed):
    primary.set("status", status=400)
    with pytest.raises(openai.BadRequestError) as error:
        sdk(gateway).chat.completions.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "x"}])
    assert error.value.response.headers["x-gateway-served-by"] == "self-hosted"
    assert managed.chat_requests() == []


def test_a_managed_api_that_rejects_the_gateway_key_yields_502_without_echoing_it(start_gateway, primary, managed, secrets):
    _, key_file = secrets
    wrong = "sk-managed-WRONG-0000111122223333"
    key_file.write_text(wrong)
    gateway = start_gateway()
    primary.set("refuse")
    response = gateway.chat()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert wrong not in response.text and wrong[-12:] not in response.text
