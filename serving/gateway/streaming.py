"""Server-sent events passed through, whole events at a time.

Bytes are forwarded as the upstream sent them, cut only at event boundaries: a failure can then
always be reported as one more well-formed event, never glued onto half of one. A block is
parsed only when it carries `usage`, an `error` or (Responses API) a terminal event, found with a
byte search first, so the per-chunk cost is a couple of `rfind`s.

Two dialects: chat and legacy completions end with `data: [DONE]` and carry usage in a final
chunk; the Responses API has typed events and ends with `response.completed` (or `.incomplete`,
`.failed`), whose `response.usage` holds the counts
(https://platform.openai.com/docs/api-reference/responses-streaming).
"""

from __future__ import annotations

import json
import re
from typing import Any

from contracts import HEADER_COST

MAX_PENDING = 1024 * 1024
_USAGE = re.compile(rb'"usage"\s*:\s*\{')
_ERROR = re.compile(rb'(?m)^data:\s*\{\s*"error"\s*:')
_DONE_TAIL = re.compile(rb"(?:^|\n)(data: ?\[DONE\]\r?\n\r?\n)$")
_EVENT_SPLIT = re.compile(rb"\r?\n\r?\n")
DONE_EVENT = b"data: [DONE]\n\n"
_RESPONSES_END = (b"response.completed", b"response.incomplete", b"response.failed")
_RESPONSES_MARKERS = (*_RESPONSES_END, b'"error"')
CHAT = "chat"
RESPONSES = "responses"


class StreamProtocolError(ValueError):
    """The upstream sent something that is not an event stream."""


class SseRelay:
    """Splits upstream bytes into whole events; notes usage, error events and the end marker.

    `strip_usage`: the client did not ask for usage, so the usage-only final chunk the gateway
    requested for itself is removed (clients that index `choices[0]` would break on it).
    """

    __slots__ = ("_responses", "_rest", "_strip_usage", "done", "error_event", "events", "usage")

    def __init__(self, strip_usage: bool, dialect: str = CHAT) -> None:
        self._rest = b""
        self._strip_usage = strip_usage
        self._responses = dialect == RESPONSES
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.error_event = False
        self.events = 0

    def feed(self, chunk: bytes) -> bytes:
        """The whole events completed by `chunk`, without the final [DONE] (see `done`)."""
        buffer = self._rest + chunk if self._rest else chunk
        lf = buffer.rfind(b"\n\n")
        crlf = buffer.rfind(b"\r\n\r\n")
        cut = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
        if cut == 0:
            if len(buffer) > MAX_PENDING:
                raise StreamProtocolError("no event boundary in the first MiB")
            self._rest = buffer
            return b""
        block, self._rest = buffer[:cut], buffer[cut:]
        self.events += block.count(b"data:")
        if self._responses:
            if any(marker in block for marker in _RESPONSES_MARKERS):
                self._inspect_responses(block)
            return block
        if (b'"usage"' in block and _USAGE.search(block)) or (b'"error"' in block and _ERROR.search(block)):
            block = self._inspect(block)
        if b"[DONE]" in block[-24:]:
            match = _DONE_TAIL.search(block, max(0, len(block) - 24))
            if match:
                self.done = True
                block = block[: match.start(1)]
        return block

    def _inspect(self, block: bytes) -> bytes:
        kept = []
        for event in _EVENT_SPLIT.split(block):
            if not event:
                continue
            # Only the events that carry a marker are parsed (usually the last one of a stream).
            payload = _data(event) if b'"usage"' in event or b'"error"' in event else None
            if payload is not None and payload[:1] == b"{":
                try:
                    message = json.loads(payload)
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    if message.get("error"):
                        self.error_event = True
                    usage = message.get("usage")
                    if isinstance(usage, dict):
                        self.usage = usage
                        if self._strip_usage and not message.get("choices"):
                            continue
            kept.append(event + b"\n\n")
        return b"".join(kept)

    def _inspect_responses(self, block: bytes) -> None:
        for event in _EVENT_SPLIT.split(block):
            payload = _data(event) if event else None
            if payload is None or payload[:1] != b"{":
                continue
            try:
                message = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == "error":
                self.error_event = True
            elif isinstance(kind, str) and kind.encode() in _RESPONSES_END:
                self.done = True
                if kind == "response.failed":
                    self.error_event = True
                response = message.get("response")
                usage = response.get("usage") if isinstance(response, dict) else None
                if isinstance(usage, dict):
                    self.usage = usage


def _data(event: bytes) -> bytes | None:
    """The joined `data:` lines of one event."""
    lines = [line[5:].lstrip(b" ") for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def cost_comment(cost_usd: float, served_by: str, prompt_tokens: int, completion_tokens: int, estimated: bool) -> bytes:
    """An SSE comment (ignored by SSE parsers, the openai SDK included) that carries the cost,
    sent just before [DONE] because a stream's cost is known only at its end."""
    usage = "estimated" if estimated else "reported"
    return (
        f": {HEADER_COST}={cost_usd:.10f} served_by={served_by} prompt_tokens={prompt_tokens} "
        f"completion_tokens={completion_tokens} usage={usage}\n\n"
    ).encode()


def usage_counts(usage: dict[str, Any] | None) -> tuple[int, int] | None:
    """(prompt, completion) tokens from a chat/completions `usage` or a Responses `usage`; None
    when absent or all zero (vLLM's Responses API reports zeros: then the gateway estimates)."""
    if not usage:
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if prompt is None and completion is None:
        prompt, completion = usage.get("input_tokens"), usage.get("output_tokens")
    if isinstance(prompt, int) and isinstance(completion, int) and (prompt or completion):
        return prompt, completion
    return None
