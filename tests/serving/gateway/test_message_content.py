"""A message's `content` is a string, an array of content parts, or null where OpenAI allows it:
an object was forwarded (200) before; now it is a 400 naming `messages[i].content`."""

from __future__ import annotations

import pytest

from serving.gateway.endpoints import Endpoint
from serving.gateway.validation import Invalid, validate
from tests.serving.harness import PUBLIC_MODEL


def chat(*messages: dict) -> dict:
    return {"model": PUBLIC_MODEL, "messages": list(messages)}


@pytest.mark.parametrize(
    "messages, param",
    [
        ([{"role": "user", "content": {"text": "hi"}}], "messages[0].content"),
        ([{"role": "system", "content": "be brief"}, {"role": "user", "content": {}}], "messages[1].content"),
        ([{"role": "user", "content": 42}], "messages[0].content"),
        ([{"role": "user", "content": True}], "messages[0].content"),
        ([{"role": "user", "content": None}], "messages[0].content"),
        ([{"role": "user", "content": ["hi"]}], "messages[0].content[0]"),
        ([{"role": "user", "content": [{"text": "hi"}]}], "messages[0].content[0]"),
    ],
    ids=["object", "second-object", "number", "boolean", "null-user", "bare-string-part", "part-without-type"],
)
def test_content_that_is_not_a_string_or_parts_is_400_naming_the_message(messages, param):
    with pytest.raises(Invalid) as refused:
        validate(Endpoint.CHAT, chat(*messages), max_n=4)
    assert refused.value.param == param
    assert refused.value.code == "invalid_type"
    assert param in refused.value.message


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "hi"}],
        [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": []}],
        [{"role": "assistant", "tool_calls": []}, {"role": "tool", "content": None, "tool_call_id": "c"}],
    ],
    ids=["string", "parts", "assistant-null", "tool-null-and-absent"],
)
def test_valid_content_passes(messages):
    validate(Endpoint.CHAT, chat(*messages), max_n=4)


def test_an_object_content_is_refused_over_http_before_any_upstream(gateway, primary):
    response = gateway.chat(messages=[{"role": "user", "content": {"text": "hi"}}])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content"
    assert primary.chat_requests() == []
