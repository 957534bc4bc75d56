"""Sovereign keys never reach the managed API, whatever fails and whatever the client sends.

For every fault of the primary, a sovereign request gets 503 with Retry-After and an OpenAI error,
and the fake managed API records zero requests.
"""

from __future__ import annotations

import threading

import openai
import pytest

from tests.serving.harness import KEYS, ONE_FAILED_PROBE_UNREADIES, PUBLIC_MODEL, wait_until

pytestmark = pytest.mark.slow

FAULTS = [
    ("refuse", {}),
    ("status", {"status": 500}),
    ("status", {"status": 429}),
    ("status", {"status": 503}),
    ("hang", {}),
    ("slow_first_byte", {"delay_s": 2.0}),  # beyond both the first-byte (0.6 s) and response (1.5 s) timeouts
    ("cut_mid_stream", {"cut_after": 0}),  # a stream dropped before its first event; half a JSON body
]
CASES = [(fault, behaviour, stream) for fault, behaviour in FAULTS for stream in (False, True)]
CASES.append(("error_event", {}, True))  # only streams open with an event


def assert_refused_and_kept_home(response, managed) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "sovereign_upstream_unavailable"
    assert set(error) == {"message", "type", "param", "code"}
    assert managed.requests == []


@pytest.mark.parametrize(
    "fault, behaviour, stream",
    CASES,
    ids=[f"{f}{b.get('status', '')}-{'stream' if s else 'json'}" for f, b, s in CASES],
)
def test_a_sovereign_request_is_refused_rather_than_sent_to_the_managed_api(gateway, primary, managed, stream, fault, behaviour):
    primary.set(fault, **behaviour)
    response = gateway.chat(key="sovereign", stream=stream)
    assert_refused_and_kept_home(response, managed)


def test_a_sovereign_request_is_refused_while_the_circuit_is_open(gateway, primary, managed):
    primary.set("status", status=500)
    for _ in range(3):
        gateway.chat(key="sovereign")
    assert gateway.upstream("self-hosted").health.circuit.state.name == "OPEN"
    response = gateway.chat(key="sovereign")
    assert_refused_and_kept_home(response, managed)
    assert response.headers["x-gateway-fallback-reason"] == "circuit_open"
    assert gateway.metric("gateway_unavailable_total", reason="circuit_open", sovereign="true") == 1
    assert gateway.metric("gateway_unavailable_total", reason="circuit_open", sovereign="false") == 0


def test_a_sovereign_request_is_refused_while_the_primary_is_not_ready(start_gateway, primary, managed):
    primary.set("status", status=500)
    gateway = start_gateway(primary={"readiness": ONE_FAILED_PROBE_UNREADIES})
    response = gateway.chat(key="sovereign")
    assert_refused_and_kept_home(response, managed)
    assert response.headers["x-gateway-fallback-reason"] == "not_ready"


def test_a_sovereign_request_is_refused_when_the_primary_is_saturated(start_gateway, primary, managed):
    gateway = start_gateway(primary={"max_in_flight": 1})
    primary.set("slow_first_byte", delay_s=0.4)
    worker = threading.Thread(target=gateway.chat)
    worker.start()
    wait_until(lambda: gateway.upstream("self-hosted").health.in_flight == 1)
    response = gateway.chat(key="sovereign")
    worker.join()
    assert_refused_and_kept_home(response, managed)


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"x-gateway-sovereign": "false"}, {}),
        ({"x-gateway-sovereign": "False", "x-gateway-fallback": "managed", "x-gateway-policy": "allow-managed"}, {}),
        ({}, {"metadata": {"sovereign": "false"}, "user": "not-sovereign"}),
    ],
)
def test_nothing_the_client_sends_weakens_sovereignty(gateway, primary, managed, headers, body):
    primary.set("status", status=500)
    response = gateway.chat(key="sovereign", headers=headers, **body)
    assert_refused_and_kept_home(response, managed)


@pytest.mark.parametrize(
    "headers, body",
    [({}, {"sovereign": False}), ({"x-gateway-served-by": "managed"}, {"fallback": "o4-mini"})],
)
def test_invented_policy_fields_are_refused_before_anything_is_sent(gateway, primary, managed, headers, body):
    primary.set("status", status=500)
    response = gateway.chat(key="sovereign", headers=headers, **body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_parameter"
    assert primary.chat_requests() == [] and managed.requests == []


def test_a_client_may_tighten_its_own_policy_per_request(gateway, primary, managed):
    primary.set("status", status=500)
    response = gateway.chat(key="app", headers={"x-gateway-sovereign": "true"})
    assert response.status_code == 503
    assert managed.requests == []
    assert gateway.chat(key="app").headers["x-gateway-served-by"] == "managed"


def test_a_sovereign_stream_cut_mid_answer_ends_with_an_error_and_no_managed_help(gateway, primary, managed):
    primary.set("cut_mid_stream", cut_after=3)
    response = gateway.chat(key="sovereign", stream=True)
    assert response.status_code == 200
    assert '"code": "stream_interrupted"' in response.text
    assert managed.requests == []


def test_sovereign_requests_are_served_by_a_healthy_primary(gateway, primary, managed):
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["sovereign"], max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-gateway-served-by"] == "self-hosted"
    assert raw.parse().model == PUBLIC_MODEL


def test_the_sdk_sees_a_sovereign_refusal_as_a_retryable_503(gateway, primary, managed):
    primary.set("refuse")
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["sovereign"], max_retries=0)
    with pytest.raises(openai.InternalServerError) as error:
        client.chat.completions.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == 503
    assert managed.requests == []


def test_refusal_series_exist_at_zero_before_the_first_refusal(gateway):
    """Alerts use increase(); a series born at 1 would hide the first sovereign refusal."""
    text = gateway.metrics_http.get("/metrics").text
    primed = [line for line in text.splitlines() if line.startswith("gateway_unavailable_total{")]
    assert any('reason="not_ready"' in line and 'sovereign="true"' in line and line.endswith(" 0.0") for line in primed)
    assert any(line.startswith("gateway_fallbacks_total{") and 'reason="circuit_open"' in line for line in text.splitlines())
