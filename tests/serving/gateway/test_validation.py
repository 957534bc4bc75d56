"""Parameters checked against the OpenAI schema: each bad value is a 400 naming the field, nothing
reaches an upstream, and unknown fields follow the documented rule."""

from __future__ import annotations

import json

import pytest

from serving.gateway.endpoints import Endpoint
from serving.gateway.validation import VLLM_EXTENSIONS, Invalid, parse_body, validate
from tests.serving.harness import KEYS

CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}


def check(endpoint: Endpoint = Endpoint.CHAT, max_n: int = 4, **fields) -> None:
    base = {
        Endpoint.CHAT: CHAT,
        Endpoint.COMPLETIONS: {"model": "m", "prompt": "hi"},
        Endpoint.RESPONSES: {"model": "m", "input": "hi"},
    }[endpoint]
    validate(endpoint, {**base, **fields}, max_n)


# -- the issue's cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, param, code",
    [
        ({"max_tokens": -5}, "max_tokens", "invalid_value"),
        ({"max_tokens": "lots"}, "max_tokens", "invalid_type"),
        ({"max_tokens": 0}, "max_tokens", "invalid_value"),
        ({"max_tokens": 1.5}, "max_tokens", "invalid_type"),
        ({"max_tokens": True}, "max_tokens", "invalid_type"),
        ({"max_completion_tokens": -1}, "max_completion_tokens", "invalid_value"),
        ({"n": 100}, "n", "invalid_value"),
        ({"n": 0}, "n", "invalid_value"),
        ({"temperature": 3}, "temperature", "invalid_value"),
        ({"temperature": "hot"}, "temperature", "invalid_type"),
        ({"top_p": 1.5}, "top_p", "invalid_value"),
        ({"presence_penalty": -3}, "presence_penalty", "invalid_value"),
        ({"stream": "yes"}, "stream", "invalid_type"),
        ({"stream_options": 1}, "stream_options", "invalid_type"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage", "invalid_type"),
        ({"tools": {"type": "function"}}, "tools", "invalid_type"),
        ({"tools": [{"type": "function", "function": {"name": "has space"}}]}, "tools[0].function.name", "invalid_value"),
        ({"tools": [{"type": "retrieval", "function": {"name": "f"}}]}, "tools[0].type", "invalid_value"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
            "tools[0].function.parameters",
            "invalid_type",
        ),
        ({"tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort", "invalid_value"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_value"),
        ({"logit_bias": {"50256": 500}}, "logit_bias", "invalid_value"),
        ({"top_logprobs": 50}, "top_logprobs", "invalid_value"),
        ({"response_format": {"type": "xml"}}, "response_format", "invalid_value"),
        ({"metadata": {"k": 1}}, "metadata", "invalid_type"),
        ({"top_k": "many"}, "top_k", "invalid_type"),
        ({"frobnicate": 1}, "frobnicate", "unknown_parameter"),
    ],
)
def test_a_bad_field_is_refused_by_name(fields, param, code):
    with pytest.raises(Invalid) as caught:
        check(**fields)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert param.split(".")[0].split("[")[0] in caught.value.message
    for value in fields.values():
        if isinstance(value, str):
            assert value not in caught.value.message  # the client's value is never echoed


def test_n_is_limited_by_the_settings():
    check(n=4, max_n=4)
    with pytest.raises(Invalid):
        check(n=5, max_n=4)


def test_documented_fields_and_vllm_sampling_extensions_pass():
    check(
        temperature=0.7,
        top_p=0.9,
        max_tokens=256,
        seed=7,
        stop="END",
        reasoning_effort="high",
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        response_format={"type": "json_object"},
        user="u-1",
        metadata={"k": "v"},
        store=False,
        top_k=40,
        min_p=0.05,
        repetition_penalty=1.1,
    )
    assert {"top_k", "min_p", "repetition_penalty"} <= VLLM_EXTENSIONS


@pytest.mark.parametrize("field", ["chat_template", "logits_processors", "priority", "kv_transfer_params", "request_id"])
def test_vllm_extensions_that_change_the_server_are_refused(field):
    with pytest.raises(Invalid) as caught:
        check(**{field: "x"})
    assert caught.value.code == "unknown_parameter"


def test_an_unknown_field_with_an_odd_name_is_refused_without_echoing_it():
    with pytest.raises(Invalid) as caught:
        check(**{"<script>": 1})
    assert caught.value.param is None and "<script>" not in caught.value.message


def test_completions_and_responses_have_their_own_required_fields_and_rules():
    check(Endpoint.COMPLETIONS, prompt=["a", "b"], logprobs=2, echo=True)
    with pytest.raises(Invalid, match="prompt"):
        validate(Endpoint.COMPLETIONS, {"model": "m"}, 4)
    check(Endpoint.RESPONSES, max_output_tokens=64, reasoning={"effort": "low"}, tools=[{"type": "web_search"}])
    with pytest.raises(Invalid) as caught:
        check(Endpoint.RESPONSES, max_output_tokens=-1)
    assert caught.value.param == "max_output_tokens"
    with pytest.raises(Invalid) as caught:
        check(Endpoint.RESPONSES, reasoning={"effort": "max"})
    assert caught.value.param == "reasoning.effort"
    with pytest.raises(Invalid) as caught:
        check(Endpoint.RESPONSES, messages=[])  # a chat field on the Responses API
    assert caught.value.code == "unknown_parameter"


# -- parsing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"-Infinity"])
def test_numbers_that_are_not_finite_are_refused(number):
    with pytest.raises(Invalid) as caught:
        parse_body(b'{"model": "m", "messages": [], "temperature": ' + number + b"}", 64)
    assert caught.value.code == "invalid_value"


def test_nesting_beyond_the_limit_is_invalid_json_and_within_it_is_fine():
    deep = b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}"
    with pytest.raises(Invalid, match="64 deep"):
        parse_body(deep, 64)
    assert parse_body(b'{"a": ' + b"[" * 62 + b"]" * 62 + b"}", 64)["a"]


def test_a_hundred_thousand_nested_arrays_are_a_400_not_a_recursion_error():
    with pytest.raises(Invalid) as caught:
        parse_body(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 64)
    assert caught.value.code == "invalid_json"


def test_many_brackets_that_are_not_deep_pass():
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": [[1]] * 500}]}).encode()
    assert parse_body(body, 64)["model"] == "m"


# -- over HTTP ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "fields, param",
    [
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": "lots"}, "max_tokens"),
        ({"n": 100}, "n"),
        ({"unknown_knob": True}, "unknown_knob"),
    ],
)
def test_the_issues_bad_parameters_are_400s_naming_the_field_and_reach_no_upstream(gateway, primary, managed, fields, param):
    response = gateway.chat(**fields)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert response.headers["x-gateway-request-id"]
    assert primary.chat_requests() == [] and managed.requests == []


@pytest.mark.slow
def test_an_infinite_temperature_is_refused_not_forwarded_as_infinity(gateway, primary):
    body = b'{"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "x"}], "temperature": 1e400}'
    response = gateway.http.post(
        "/v1/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {KEYS['app']}", "content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_value"
    assert primary.chat_requests() == []
