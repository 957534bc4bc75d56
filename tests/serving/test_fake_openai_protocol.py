"""The fake upstream is held to the real protocol: the openai SDK's own stream helpers, which
check event order, accept what it sends (directly and through the gateway)."""

from __future__ import annotations

import openai
import pytest

from tests.serving.harness import KEYS, PUBLIC_MODEL

pytestmark = pytest.mark.slow

# A self-hosted upstream that serves the Responses API itself (bare vLLM does).
NATIVE_RESPONSES = {"endpoints": ["chat", "completions", "responses"]}


def _check_responses_stream(client: openai.OpenAI, model: str, expected_text: str) -> None:
    # `responses.stream()` accumulates the snapshot event by event and raises on an event for an
    # output item or content part it was not told about (the bug this guards against:
    # "Received a content event for output index 0 before receiving its output item").
    with client.responses.stream(model=model, input="Say hello") as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert final.output_text == expected_text
    assert final.usage is not None and final.usage.output_tokens == 5


def test_the_sdk_stream_helper_accepts_the_fakes_responses_events(primary):
    client = openai.OpenAI(base_url=primary.base_url, api_key="unused", max_retries=0, timeout=10)
    _check_responses_stream(client, "any", "Hello from self-hosted word word")


def test_the_sdk_stream_helper_accepts_a_responses_stream_through_the_gateway(start_gateway):
    gateway = start_gateway(primary=NATIVE_RESPONSES)
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["app"], max_retries=0, timeout=10)
    _check_responses_stream(client, PUBLIC_MODEL, "Hello from self-hosted word word")


def test_the_sdk_chat_stream_helper_accepts_the_fakes_chat_stream(primary):
    client = openai.OpenAI(base_url=primary.base_url, api_key="unused", max_retries=0, timeout=10)
    with client.chat.completions.stream(model="any", messages=[{"role": "user", "content": "hi"}]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello from self-hosted word word "
