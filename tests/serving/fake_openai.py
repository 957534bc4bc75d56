"""A fault-injecting fake of an OpenAI-compatible chat-completions server, over real HTTP.

It plays the self-hosted vLLM/Ray Serve endpoint or the managed API in the gateway tests, and the
upstream in the benchmark. It speaks HTTP/1.1 with keep-alive (httptools on asyncio), answers
`POST /v1/chat/completions`, `/v1/completions` and `/v1/responses` as JSON or as server-sent events
with usage, `GET /v1/models`, `/health` and vLLM-style `/metrics` (running and waiting requests,
generated tokens), and switches fault mode at run time:

    ok                 answer normally
    refuse             stop listening and drop open connections (a dead process)
    status             answer with `status` (500, 429, 503, 401...) and an OpenAI error body
    hang               accept the request, never answer (a hung engine: /health still answers,
                       /metrics shows requests running and no token generated)
    slow_first_byte    wait `delay_s`, then answer normally (the engine makes no visible progress)
    cold               a pool scaled to zero: a request answers only after it was held open for
                       `delay_s` (the cold start), and from then on the pool is warm (`ok`); a
                       request closed earlier leaves it cold (what a cancelled request does to Ray
                       Serve's autoscaler)
    busy               wait `delay_s`, then answer normally, while /metrics shows tokens being
                       generated (a saturated engine: slow, not hung)
    cut_mid_stream     send `cut_after` events (or half a JSON body), then reset the connection
    stall_mid_stream   send `cut_after` events, then go silent
    error_event        open the stream with an error event, as vLLM does when generation fails

`closed_while_busy` records when a client (the gateway) closed a connection whose request was
still being answered: what the cancellation tests check and `bench cancellation` measures.

Run standalone (the benchmark does): `python -m tests.serving.fake_openai --port 9001`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httptools

from support.ports import free_port

PROBE_TEXT = "Reply with one word."
ENDPOINT_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/responses")
STREAM_HEADERS = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def is_probe(self) -> bool:
        messages = (self.body or {}).get("messages") or [{}]
        return messages[0].get("content") == PROBE_TEXT


@dataclass
class Behaviour:
    mode: str = "ok"
    status: int = 500
    delay_s: float = 0.0
    cut_after: int = 2
    token_delay_s: float = 0.0
    words: int = 5
    retry_after: str | None = None


@dataclass
class FakeOpenAI:
    name: str
    api_key: str | None = None
    record: bool = True
    # OpenAI puts "usage": null on every chunk of a stream that asked for usage; vLLM omits it.
    usage_null_in_chunks: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[Recorded] = field(default_factory=list)
    # (monotonic time, path) of every connection the client closed while its request was answered.
    closed_while_busy: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Transport] = set()
        self._counter = 0
        self.running = 0
        self.generated_tokens = 0

    # -- control (from any thread) ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def set(self, mode: str = "ok", **behaviour: Any) -> None:
        """Switch the fault mode; `refuse` closes the listener, any other mode reopens it."""
        self.behaviour = Behaviour(mode=mode, **behaviour)
        if self._loop is not None:
            target = self._refuse() if mode == "refuse" else self._listen()
            asyncio.run_coroutine_threadsafe(target, self._loop).result(5)

    def chat_requests(self, include_probes: bool = False) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions") and (include_probes or not r.is_probe)]

    def start(self) -> FakeOpenAI:
        if self.port == 0:
            self.port = free_port()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"fake {self.name} did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._refuse(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    # -- server --------------------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await self._loop.create_server(
                lambda: _Connection(self), self.host, self.port, reuse_address=True, backlog=1024
            )

    async def _refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._connections):
            transport.abort()
        self._connections.clear()

    # -- answers --------------------------------------------------------------------------------

    async def handle(self, transport: asyncio.Transport, method: str, path: str, headers: dict[str, str], raw: bytes) -> bool:
        """Answer one request; False when the connection must not be reused."""
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        if self.record:
            self.requests.append(Recorded(path, headers, body))
        b = self.behaviour
        if path in ("/health", "/v1/health"):
            return _write(transport, 200, b"{}")
        if path == "/metrics":
            return _write(transport, 200, self._metrics())
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            # Like OpenAI: the error echoes (part of) the key it was given.
            given = headers.get("authorization", "")[7:]
            message = f"Incorrect API key provided: {given}. You can find your API key at https://example.invalid."
            return _write(transport, 401, _error(message, "invalid_api_key"))
        if path == "/v1/models":
            return _write(transport, 200, json.dumps({"object": "list", "data": [{"id": self.name, "object": "model"}]}).encode())
        if path not in ENDPOINT_PATHS or method != "POST" or not isinstance(body, dict):
            return _write(transport, 400, _error("bad request", "invalid_request"))
        streaming = bool(body.get("stream"))
        if streaming and b.mode in ("hang", "slow_first_byte", "busy", "cold"):
            # vLLM sends a stream's headers at once and its first event only after prefill, so
            # the first byte that matters is the first event, not the status line.
            transport.write(STREAM_HEADERS)
        self.running += 1
        try:
            if b.mode == "hang":
                await asyncio.Event().wait()
            if b.mode == "slow_first_byte":
                await asyncio.sleep(b.delay_s)
            if b.mode == "cold":
                await asyncio.sleep(b.delay_s)
                if self.behaviour is b:
                    self.behaviour = Behaviour()  # warm from now on
            if b.mode == "busy":
                await self._generate_for(b.delay_s)
        finally:
            self.running -= 1
        if b.mode == "status":
            extra = {"retry-after": b.retry_after} if b.retry_after else {}
            return _write(transport, b.status, _error(f"{self.name} fails with {b.status}", "fake_fault"), extra)
        if path == "/v1/responses":
            return await self._responses(transport, body, b, streaming)
        if path == "/v1/completions":
            return await self._completions(transport, body, b, streaming)
        self._counter += 1
        if streaming:
            return await self._stream(transport, body, b, headers_sent=b.mode == "slow_first_byte")
        answer = json.dumps(self._completion(body, b)).encode()
        if b.mode == "cut_mid_stream":
            transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(answer))
            transport.write(answer[: len(answer) // 2])
            transport.abort()
            return False
        return _write(transport, 200, answer)

    async def _generate_for(self, seconds: float) -> None:
        """Busy: tokens come out (for other requests, as /metrics shows) while this one waits."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.generated_tokens += 5
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _metrics(self) -> bytes:
        name = '{model_name="' + self.name + '"}'
        return (
            f"# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{name} {float(self.running)}\n"
            f"# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{name} 0.0\n"
            f"# TYPE vllm:generation_tokens_total counter\n"
            f"vllm:generation_tokens_total{name} {float(self.generated_tokens)}\n"
        ).encode()

    async def _completions(self, transport: asyncio.Transport, body: dict[str, Any], b: Behaviour, streaming: bool) -> bool:
        """Legacy completions: `choices[].text`; a stream ends with usage (if asked) and [DONE]."""
        self._counter += 1
        base = {
            "id": f"cmpl-{self.name}-{self._counter}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        usage = {"prompt_tokens": 3, "completion_tokens": b.words, "total_tokens": 3 + b.words}
        if not streaming:
            answer = dict(base, choices=[{"index": 0, "text": self._text(b), "finish_reason": "stop"}], usage=usage)
            return _write(transport, 200, json.dumps(answer).encode())
        transport.write(STREAM_HEADERS)
        for word in self._text(b).split():
            event = dict(base, choices=[{"index": 0, "text": word + " ", "finish_reason": None}])
            _chunk(transport, b"data: " + json.dumps(event).encode() + b"\n\n")
        if (body.get("stream_options") or {}).get("include_usage"):
            _chunk(transport, b"data: " + json.dumps(dict(base, choices=[], usage=usage)).encode() + b"\n\n")
        _chunk(transport, b"data: [DONE]\n\n")
        transport.write(b"0\r\n\r\n")
        return True

    async def _responses(self, transport: asyncio.Transport, body: dict[str, Any], b: Behaviour, streaming: bool) -> bool:
        """The Responses API: a `response` object; a stream of typed events ending with response.completed."""
        self._counter += 1
        text = self._text(b)
        item = {
            "type": "message",
            "id": f"msg_{self._counter}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        response = {
            "id": f"resp_{self.name}_{self._counter}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body.get("model"),
            "output": [item],
            "usage": {"input_tokens": 4, "output_tokens": b.words, "total_tokens": 4 + b.words},
        }
        if not streaming:
            return _write(transport, 200, json.dumps(response).encode())
        transport.write(STREAM_HEADERS)
        sequence = 0

        def send(kind: str, payload: dict[str, Any]) -> None:
            nonlocal sequence
            event = {"type": kind, "sequence_number": sequence, **payload}
            sequence += 1
            _chunk(transport, f"event: {kind}\ndata: ".encode() + json.dumps(event).encode() + b"\n\n")

        # The order OpenAI's Responses streaming protocol defines and the openai SDK's
        # `responses.stream()` accumulator enforces: an output item and its content part are
        # announced (`*.added`) before any delta for them, and closed (`*.done`) before
        # response.completed. https://platform.openai.com/docs/api-reference/responses-streaming
        in_progress = dict(response, status="in_progress", output=[], usage=None)
        part = {"type": "output_text", "text": "", "annotations": []}
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        send("response.created", {"response": in_progress})
        send("response.in_progress", {"response": in_progress})
        send("response.output_item.added", {"output_index": 0, "item": dict(item, status="in_progress", content=[])})
        send("response.content_part.added", {**where, "part": part})
        for i, word in enumerate(text.split()):
            send("response.output_text.delta", {**where, "delta": word if i == 0 else " " + word, "logprobs": []})
        send("response.output_text.done", {**where, "text": text, "logprobs": []})
        send("response.content_part.done", {**where, "part": dict(part, text=text)})
        send("response.output_item.done", {"output_index": 0, "item": item})
        send("response.completed", {"response": response})
        transport.write(b"0\r\n\r\n")
        return True

    def _completion(self, body: dict[str, Any], b: Behaviour) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self._text(b)}
        finish = "stop"
        if body.get("tools"):
            tool = body["tools"][0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}],
            }
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{self.name}-{self._counter}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self._usage(body, b),
        }

    def _text(self, b: Behaviour) -> str:
        return " ".join(["Hello", "from", self.name] + ["word"] * max(0, b.words - 3))

    def _usage(self, body: dict[str, Any], b: Behaviour) -> dict[str, int]:
        prompt = max(1, len(json.dumps(body.get("messages"))) // 4)
        return {"prompt_tokens": prompt, "completion_tokens": b.words, "total_tokens": prompt + b.words}

    async def _stream(self, transport: asyncio.Transport, body: dict[str, Any], b: Behaviour, headers_sent: bool) -> bool:
        if not headers_sent:
            transport.write(STREAM_HEADERS)
        if b.mode == "error_event":
            _chunk(transport, b"data: " + _error(f"{self.name} engine failed", "engine_error") + b"\n\n")
            _chunk(transport, b"data: [DONE]\n\n")
            transport.write(b"0\r\n\r\n")
            return True
        base = {
            "id": f"chatcmpl-{self.name}-{self._counter}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        if self.usage_null_in_chunks and (body.get("stream_options") or {}).get("include_usage"):
            base["usage"] = None
        deltas = [{"role": "assistant", "content": ""}] + [{"content": w + " "} for w in self._text(b).split()]
        events = [dict(base, choices=[{"index": 0, "delta": d, "finish_reason": None}]) for d in deltas]
        events.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(dict(base, choices=[], usage=self._usage(body, b)))
        for i, event in enumerate(events):
            if b.mode in ("cut_mid_stream", "stall_mid_stream") and i == b.cut_after:
                if b.mode == "stall_mid_stream":
                    await asyncio.Event().wait()
                transport.abort()
                return False
            if i and b.token_delay_s:
                await asyncio.sleep(b.token_delay_s)
            _chunk(transport, b"data: " + json.dumps(event).encode() + b"\n\n")
        _chunk(transport, b"data: [DONE]\n\n")
        transport.write(b"0\r\n\r\n")
        return True


def _error(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "fake_error", "param": None, "code": code}}).encode()


def _chunk(transport: asyncio.Transport, data: bytes) -> None:
    transport.write(b"%x\r\n%s\r\n" % (len(data), data))


REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}


def _write(transport: asyncio.Transport, status: int, body: bytes, extra: dict[str, str] | None = None) -> bool:
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % (
        status,
        REASONS.get(status, b"Error"),
        len(body),
    )
    for key, value in (extra or {}).items():
        head += f"{key}: {value}\r\n".encode()
    transport.write(head + b"\r\n" + body)
    return True


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse with httptools, answer requests one at a time."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._headers: dict[str, str] = {}
        self._url = b""
        self._body: list[bytes] = []
        self._task: asyncio.Task | None = None
        self._path = ""

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._fake._connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fake._connections.discard(self._transport)
        if self._task is not None and not self._task.done():
            self._fake.closed_while_busy.append((time.monotonic(), self._path))
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._transport.abort()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._headers, self._url, self._body = {}, b"", []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode()
        path = self._url.decode().split("?")[0]
        self._path = path
        self._task = asyncio.ensure_future(self._answer(method, path, self._headers, b"".join(self._body)))

    async def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        keep = await self._fake.handle(self._transport, method, path, headers, body)
        if not keep or headers.get("connection", "").lower() == "close":
            self._transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server (tests, benchmark).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="fake")
    parser.add_argument("--words", type=int, default=5)
    parser.add_argument("--token-delay-s", type=float, default=0.0)
    args = parser.parse_args()
    import uvloop

    fake = FakeOpenAI(args.name, record=False, port=args.port)
    fake.behaviour = Behaviour(words=args.words, token_delay_s=args.token_delay_s)

    async def serve() -> None:
        fake._loop = asyncio.get_running_loop()
        await fake._listen()
        print(f"listening on {fake.host}:{fake.port}", flush=True)
        await asyncio.Event().wait()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
