"""Streaming pass-through, and what a client sees when a stream fails after its first byte:
an explicit error event in the OpenAI stream format, never a silent truncation, never a splice."""

from __future__ import annotations

import time

import openai
import pytest

from tests.serving.harness import KEYS, PUBLIC_MODEL, sse_data, stream_content

pytestmark = pytest.mark.slow


def sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["app"], max_retries=0, timeout=10)


def test_the_sdk_streams_the_primarys_events_through(gateway, primary):
    chunks = list(
        sdk(gateway).chat.completions.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Hello from self-hosted word word "
    assert all(c.choices for c in chunks)  # the usage chunk the gateway asked for is not passed on
    assert all(c.model == PUBLIC_MODEL for c in chunks)


def test_usage_reaches_clients_that_ask_for_it(gateway, primary):
    chunks = list(
        sdk(gateway).chat.completions.create(
            model=PUBLIC_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5


def test_events_are_passed_through_byte_for_byte(gateway, primary):
    response = gateway.chat(stream=True, stream_options={"include_usage": True})
    upstream_events = list(sse_data(response.text))
    assert upstream_events[-1] == "[DONE]"
    # vLLM's own serialisation (spaces after separators) survives: the gateway does not re-encode.
    assert upstream_events[0].startswith('{"id": "chatcmpl-self-hosted-')


def test_the_cost_of_a_stream_arrives_in_a_comment_before_done(gateway, primary):
    response = gateway.chat(stream=True)
    lines = [line for line in response.text.splitlines() if line]
    assert lines[-1] == "data: [DONE]"
    assert lines[-2].startswith(": x-gateway-cost-usd=")
    cost = float(lines[-2].split()[1].split("=")[1])
    assert cost > 0
    assert "served_by=self-hosted" in lines[-2] and "usage=reported" in lines[-2]


def test_a_stream_cut_mid_answer_ends_with_an_error_event_the_sdk_raises(gateway, primary, managed):
    primary.set("cut_mid_stream", cut_after=3)
    received = []
    with pytest.raises(openai.APIError) as error:
        for chunk in sdk(gateway).chat.completions.create(
            model=PUBLIC_MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            received.append(chunk.choices[0].delta.content or "")  # kept up to the error
    assert "broke in the middle" in error.value.message
    assert "".join(received) == "Hello from "  # what the primary sent before dying, and nothing else
    assert managed.requests == []  # no splice from another model


def test_a_cut_stream_has_no_done_marker_and_its_last_event_is_the_error(gateway, primary):
    primary.set("cut_mid_stream", cut_after=2)
    response = gateway.chat(stream=True)
    assert response.headers["x-gateway-served-by"] == "self-hosted"
    events = sse_data(response.text)
    assert "[DONE]" not in events
    assert '"code": "stream_interrupted"' in events[-1] and events[-1].startswith('{"error"')
    assert gateway.metric("gateway_stream_failures_total", reason="stream_interrupted") == 1


def test_a_stream_that_stalls_mid_answer_ends_with_an_error_event_after_the_idle_timeout(gateway, primary, managed):
    primary.set("stall_mid_stream", cut_after=3)
    started = time.monotonic()
    response = gateway.chat(stream=True)
    assert 0.55 <= time.monotonic() - started < 2.5
    assert '"code": "stream_stalled"' in sse_data(response.text)[-1]
    assert stream_content(response.text) == "Hello from "
    assert managed.requests == []


def test_a_slow_but_steady_stream_is_not_cut(gateway, primary):
    primary.set("ok", token_delay_s=0.2, words=5)  # 1.2 s in all, each gap below the 0.6 s idle timeout
    response = gateway.chat(stream=True)
    assert sse_data(response.text)[-1] == "[DONE]"


def test_a_client_that_goes_away_mid_stream_releases_the_upstream(gateway, primary):
    primary.set("ok", token_delay_s=0.1, words=40)
    with gateway.http.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True},
        headers={"Authorization": f"Bearer {KEYS['app']}"},
    ) as response:
        for _ in response.iter_bytes():
            break
    from tests.serving.harness import wait_until

    wait_until(lambda: gateway.upstream("self-hosted").health.in_flight == 0, timeout=2)


def test_a_stream_still_running_when_shutdown_grace_ends_gets_an_error_event(primary, managed, secrets):
    from tests.serving.harness import RunningGateway, settings_for_test

    gateway = RunningGateway(settings_for_test(primary.base_url, managed.base_url, *secrets), graceful_shutdown_s=0.3)
    gateway.start()
    primary.set("ok", token_delay_s=0.1, words=60)  # a 6 s answer
    received = b""
    try:
        with gateway.http.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True},
            headers={"Authorization": f"Bearer {KEYS['app']}"},
        ) as response:
            for chunk in response.iter_bytes():
                if not received:
                    gateway.begin_shutdown()
                received += chunk
    finally:
        gateway.stop()
    events = sse_data(received.decode())
    assert '"code": "gateway_shutting_down"' in events[-1]
    assert "[DONE]" not in events
