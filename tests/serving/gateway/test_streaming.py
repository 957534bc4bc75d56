"""Server-sent events are forwarded whole: split anywhere, usage read, [DONE] and errors seen."""

import json

import pytest

from serving.gateway.streaming import MAX_PENDING, SseRelay, StreamProtocolError, cost_comment


def event(payload) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


CHUNK = event({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})
FINISH = event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
USAGE = event({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}})
DONE = b"data: [DONE]\n\n"
STREAM = CHUNK + CHUNK + FINISH + USAGE + DONE


def relay_all(relay: SseRelay, data: bytes, step: int) -> bytes:
    return b"".join(relay.feed(data[i : i + step]) for i in range(0, len(data), step))


@pytest.mark.parametrize("step", [1, 3, 7, 64, len(STREAM)])
def test_whatever_the_chunking_only_whole_events_come_out(step):
    relay = SseRelay(strip_usage=False)
    out = []
    for i in range(0, len(STREAM), step):
        block = relay.feed(STREAM[i : i + step])
        assert block == b"" or block.endswith(b"\n\n")
        out.append(block)
    assert b"".join(out) == CHUNK + CHUNK + FINISH + USAGE  # [DONE] is held back for the caller
    assert relay.done
    assert relay.usage == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}


def test_the_usage_only_chunk_is_removed_when_the_client_did_not_ask_for_usage():
    relay = SseRelay(strip_usage=True)
    assert relay_all(relay, STREAM, 5) == CHUNK + CHUNK + FINISH
    assert relay.usage["completion_tokens"] == 2


def test_openai_style_null_usage_on_every_chunk_is_not_mistaken_for_usage():
    relay = SseRelay(strip_usage=True)
    with_null = event({"choices": [{"delta": {"content": "x"}}], "usage": None})
    assert relay.feed(with_null) == with_null
    assert relay.usage is None


def test_usage_text_inside_content_is_not_read_as_usage():
    relay = SseRelay(strip_usage=True)
    tricky = event({"choices": [{"delta": {"content": '"usage": {"prompt_tokens": 1}'}}]})
    assert relay.feed(tricky) == tricky
    assert relay.usage is None


def test_an_error_event_is_noticed_and_passed_on():
    relay = SseRelay(strip_usage=False)
    error = event({"error": {"message": "engine died", "code": 500}})
    assert relay.feed(CHUNK + error) == CHUNK + error
    assert relay.error_event


def test_crlf_framed_streams_are_split_too():
    relay = SseRelay(strip_usage=False)
    crlf = b'data: {"choices": []}\r\n\r\n'
    assert relay.feed(crlf[:10]) == b""
    assert relay.feed(crlf[10:] + b"data: [DONE]\r\n\r\n") == crlf
    assert relay.done


def test_done_inside_content_does_not_end_the_stream():
    relay = SseRelay(strip_usage=False)
    tricky = event({"choices": [{"delta": {"content": "data: [DONE]"}}]})
    assert relay.feed(tricky) == tricky
    assert not relay.done


def test_a_stream_without_event_boundaries_is_a_protocol_error_not_unbounded_memory():
    relay = SseRelay(strip_usage=False)
    with pytest.raises(StreamProtocolError):
        relay.feed(b"x" * (MAX_PENDING + 1))


def test_the_cost_comment_is_an_sse_comment_line():
    comment = cost_comment(0.00012, "managed", 10, 5, estimated=False)
    assert comment.startswith(b": ") and comment.endswith(b"\n\n") and comment.count(b"\n") == 2
    assert b"x-gateway-cost-usd=0.0001200000" in comment
