"""The HTTP surface: auth, limits, every bad input, the model list, health, metrics and cost."""

from __future__ import annotations

import json

import openai
import pytest

from tests.serving.harness import KEYS, MANAGED_MODEL, PUBLIC_MODEL

pytestmark = pytest.mark.slow


def post(gateway, body: bytes | str, key: str | None = "app", **headers: str):
    if key is not None:
        headers["Authorization"] = f"Bearer {KEYS[key]}"
    return gateway.http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json", **headers})


def assert_openai_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    return error


# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer sk-not-a-key", "Basic " + KEYS["app"]])
def test_chat_without_a_valid_key_is_401(gateway, primary, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = gateway.http.post("/v1/chat/completions", json={"model": PUBLIC_MODEL, "messages": []}, headers=headers)
    assert_openai_error(response, 401, "invalid_api_key")
    assert "sk-not-a-key" not in response.text
    assert primary.chat_requests() == []


def test_the_sdk_reports_a_bad_key_as_authentication_error(gateway):
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "x"}])


def test_the_model_list_needs_a_key_and_names_the_public_models(gateway):
    assert gateway.http.get("/v1/models").status_code == 401
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["app"], max_retries=0)
    assert [m.id for m in client.models.list()] == [PUBLIC_MODEL]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_needs_no_key(gateway, path):
    assert gateway.http.get(path).status_code == 200


def test_keys_rotate_without_a_restart(gateway, secrets):
    clients_file, _ = secrets
    from serving.gateway.auth import hash_key
    from tests.serving.harness import wait_until

    clients_file.with_suffix(".new").write_text(
        json.dumps({"clients": [{"name": "new", "team": "search", "key_sha256": hash_key("sk-rotated-key-99")}]})
    )
    clients_file.with_suffix(".new").replace(clients_file)
    wait_until(lambda: gateway.chat().status_code == 401)
    response = gateway.http.post(
        "/v1/chat/completions",
        json={"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": "Bearer sk-rotated-key-99"},
    )
    assert response.status_code == 200


# -- limits ---------------------------------------------------------------------------------------


def test_requests_over_the_keys_rpm_get_429_with_retry_after(gateway):
    codes = [gateway.chat(key="limited").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = gateway.chat(key="limited")
    assert_openai_error(refused, 429, "rate_limit_exceeded")
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert gateway.chat(key="app").status_code == 200  # other keys are unaffected
    assert gateway.metric("gateway_rate_limited_total", client="limited", limit="rpm") == 2


def test_tokens_over_the_keys_tpm_get_429(gateway):
    # tpm 600: the fake charges ~10 prompt + 5 completion tokens; a 2,000-byte prompt reserves ~500.
    big = "x" * 2000
    first = gateway.chat(key="tokens", messages=[{"role": "user", "content": big}])
    assert first.status_code == 200
    second = gateway.chat(key="tokens", messages=[{"role": "user", "content": big}])
    error = assert_openai_error(second, 429, "rate_limit_exceeded")
    assert "tokens" in error["message"]


def test_the_sdk_sees_rate_limits_as_rate_limit_errors(gateway):
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["limited"], max_retries=0)
    with pytest.raises(openai.RateLimitError):
        for _ in range(4):
            client.chat.completions.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "x"}])


def test_a_body_over_the_size_limit_is_413_by_its_declared_length(start_gateway):
    gateway = start_gateway(limits={"max_request_bytes": 2048})
    response = post(gateway, json.dumps({"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x" * 4000}]}))
    assert_openai_error(response, 413, "request_too_large")


def test_a_chunked_body_over_the_size_limit_is_413_while_it_is_read(start_gateway, primary):
    gateway = start_gateway(limits={"max_request_bytes": 2048})

    def body():
        yield b'{"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    response = gateway.http.post("/v1/chat/completions", content=body(), headers={"Authorization": f"Bearer {KEYS['app']}"})
    assert_openai_error(response, 413, "request_too_large")
    assert primary.chat_requests() == []


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, param",
    [
        ("{not json", None),
        ("", None),
        ('"a string"', None),
        ("[1, 2]", None),
        ('{"messages": [{"role": "user", "content": "x"}]}', "model"),
        ('{"model": 42, "messages": [{"role": "user", "content": "x"}]}', "model"),
        ('{"model": "gpt-oss-120b"}', "messages"),
        ('{"model": "gpt-oss-120b", "messages": []}', "messages"),
        ('{"model": "gpt-oss-120b", "messages": "hello"}', "messages"),
        ('{"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream"),
        (
            '{"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "x"}], "stream_options": 1}',
            "stream_options",
        ),
    ],
)
def test_malformed_requests_are_400_in_the_openai_shape(gateway, primary, body, param):
    error = assert_openai_error(post(gateway, body), 400, error_code(param))
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert primary.chat_requests() == []


def error_code(param: str | None) -> str:
    return {None: "invalid_json", "model": "missing_required_parameter", "messages": "missing_required_parameter"}.get(
        param, "invalid_type"
    )


def test_a_message_without_role_is_an_invalid_value(gateway):
    response = post(gateway, '{"model": "gpt-oss-120b", "messages": [{"content": "x"}]}')
    assert response.json()["error"]["code"] == "invalid_value"


def test_an_unknown_model_is_404_model_not_found(gateway, primary, managed):
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["app"], max_retries=0)
    with pytest.raises(openai.NotFoundError) as error:
        client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}])
    assert error.value.body["code"] == "model_not_found"
    assert primary.chat_requests() == [] and managed.requests == []


def test_wrong_method_and_unknown_path(gateway):
    assert_openai_error(gateway.http.get("/v1/chat/completions"), 405, "method_not_allowed")
    assert_openai_error(gateway.http.post("/v1/embeddings", json={}), 404, "not_found")


# -- cost and metrics ------------------------------------------------------------------------------


def test_managed_cost_is_the_list_price_of_the_reported_usage(gateway, primary, managed):
    primary.set("refuse")
    response = gateway.chat()
    usage = response.json()["usage"]
    expected = usage["prompt_tokens"] * 1.10e-6 + usage["completion_tokens"] * 4.40e-6
    assert float(response.headers["x-gateway-cost-usd"]) == pytest.approx(expected)


def test_metrics_count_requests_tokens_and_cost_by_who_served_them(gateway, primary, managed):
    gateway.chat()
    gateway.chat(stream=True)
    primary.set("refuse")
    gateway.chat()
    labels = {"environment": "test", "model": PUBLIC_MODEL, "team": "search", "client": "app"}
    assert gateway.metric("gateway_requests_total", served_by="self-hosted", code="200", **labels) == 2
    assert gateway.metric("gateway_requests_total", served_by="managed", code="200", **labels) == 1
    assert gateway.metric("gateway_prompt_tokens_total", served_by="self-hosted", **labels) == 20
    assert gateway.metric("gateway_completion_tokens_total", served_by="managed", **labels) == 5
    assert gateway.metric("gateway_cost_usd_total", served_by="self-hosted", **labels) > 0
    assert gateway.metric("gateway_cost_usd_total", served_by="managed", **labels) > 0
    assert gateway.metric("gateway_fallbacks_total", reason="connect_failed") == 1
    assert gateway.metric("gateway_request_duration_seconds_count", served_by="self-hosted", stream="false") == 1
    assert gateway.metric("gateway_time_to_first_token_seconds_count", served_by="self-hosted") == 1
    assert gateway.metric("gateway_upstream_usd_per_mtok", upstream="self-hosted") > 0


def test_metrics_name_keys_by_their_name_never_by_the_key(gateway):
    gateway.chat()
    text = gateway.metrics_http.get("/metrics").text
    assert 'client="app"' in text
    assert not any(key in text for key in KEYS.values())


def test_the_fallback_answer_names_the_model_that_served_it(gateway, primary, managed):
    primary.set("status", status=503)
    assert gateway.chat().json()["model"] == MANAGED_MODEL
