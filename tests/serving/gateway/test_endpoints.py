"""/v1/completions and /v1/responses: the same fallback, sovereignty, cost and metrics rules as
chat, and a fallback only where the managed API serves the same request."""

from __future__ import annotations

import openai
import pytest

from tests.serving.harness import KEYS, MANAGED_API_KEY, MANAGED_MODEL, PUBLIC_MODEL, sse_data

pytestmark = pytest.mark.slow

# A self-hosted upstream that serves the Responses API itself (bare vLLM does; Ray Serve LLM 2.58 does not).
NATIVE_RESPONSES = {"endpoints": ["chat", "completions", "responses"]}


def sdk(gateway, key: str = "app") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS[key], max_retries=0, timeout=10)


def post(gateway, path: str, key: str = "app", **body):
    return gateway.http.post(path, json={"model": PUBLIC_MODEL, **body}, headers={"Authorization": f"Bearer {KEYS[key]}"})


# -- /v1/completions --------------------------------------------------------------------------------


def test_completions_are_served_by_the_primary_with_cost_and_metrics(gateway, primary):
    raw = sdk(gateway).completions.with_raw_response.create(model=PUBLIC_MODEL, prompt="Say hello")
    completion = raw.parse()
    assert completion.choices[0].text.startswith("Hello from self-hosted")
    assert raw.headers["x-gateway-served-by"] == "self-hosted" and float(raw.headers["x-gateway-cost-usd"]) > 0
    assert primary.requests[-1].path == "/v1/completions"
    assert gateway.metric("gateway_api_requests_total", api="completions", code="200") == 1


def test_completions_stream_with_usage_and_done(gateway, primary):
    response = post(gateway, "/v1/completions", prompt="hi", stream=True)
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    assert "usage=reported" in response.text
    assert primary.requests[-1].body["stream_options"] == {"include_usage": True}


def test_completions_never_fall_back_to_a_managed_model_that_does_not_serve_them(gateway, primary, managed):
    primary.set("refuse")
    response = post(gateway, "/v1/completions", prompt="hi")
    assert response.status_code == 503
    assert managed.requests == []


# -- /v1/responses ---------------------------------------------------------------------------------


def test_responses_go_to_the_managed_api_when_the_primary_does_not_serve_them(gateway, primary, managed):
    raw = sdk(gateway).responses.with_raw_response.create(model=PUBLIC_MODEL, input="Say hello")
    response = raw.parse()
    assert response.output_text.startswith("Hello from managed")
    assert raw.headers["x-gateway-served-by"] == "managed"
    call = managed.requests[-1]
    assert call.path == "/v1/responses" and call.body["model"] == MANAGED_MODEL
    assert call.headers["authorization"] == f"Bearer {MANAGED_API_KEY}"
    assert primary.requests == [] or all(r.is_probe for r in primary.chat_requests(include_probes=True))
    assert float(raw.headers["x-gateway-cost-usd"]) == pytest.approx(4 * 1.10e-6 + 5 * 4.40e-6)


def test_responses_are_served_by_a_primary_that_serves_them_and_fall_back_when_it_fails(start_gateway, primary, managed):
    gateway = start_gateway(primary=NATIVE_RESPONSES)
    first = post(gateway, "/v1/responses", input="hi")
    assert first.headers["x-gateway-served-by"] == "self-hosted"
    primary.set("status", status=500)
    second = post(gateway, "/v1/responses", input="hi")
    assert second.headers["x-gateway-served-by"] == "managed"
    assert second.headers["x-gateway-fallback-reason"] == "upstream_5xx"


def test_a_responses_stream_passes_through_with_its_typed_events_and_cost(start_gateway, primary):
    gateway = start_gateway(primary=NATIVE_RESPONSES)
    events = list(sdk(gateway).responses.create(model=PUBLIC_MODEL, input="hi", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens == 5
    raw = post(gateway, "/v1/responses", input="hi", stream=True)
    assert "[DONE]" not in raw.text  # the Responses API has no [DONE]
    assert ": x-gateway-cost-usd=" in raw.text and "usage=reported" in raw.text


def test_a_stateful_responses_request_is_never_sent_to_the_managed_api(start_gateway, primary, managed):
    gateway = start_gateway(primary=NATIVE_RESPONSES)
    primary.set("status", status=500)
    response = post(gateway, "/v1/responses", input="and then?", previous_response_id="resp_abc")
    assert response.status_code == 503
    assert managed.requests == []


def test_a_sovereign_key_gets_a_clear_400_where_only_the_managed_api_serves_the_endpoint(gateway, managed):
    response = post(gateway, "/v1/responses", key="sovereign", input="hi")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_request"
    assert managed.requests == []


def test_a_sovereign_responses_request_never_reaches_the_managed_api(start_gateway, primary, managed):
    gateway = start_gateway(primary=NATIVE_RESPONSES)
    primary.set("refuse")
    response = post(gateway, "/v1/responses", key="sovereign", input="hi")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sovereign_upstream_unavailable"
    assert managed.requests == []


def test_responses_requests_are_validated_like_the_others(gateway, managed):
    response = post(gateway, "/v1/responses", input="hi", max_output_tokens=-1)
    assert response.status_code == 400 and response.json()["error"]["param"] == "max_output_tokens"
    assert managed.requests == []
