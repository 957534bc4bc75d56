"""One chat completion, from a validated request to the last byte: try the upstreams in order,
fall back only before the first byte reached the client, and account for what was served.

Order of candidates: the route's primary, then its fallback, unless the request is sovereign,
in which case only upstreams whose adapter keeps data in the company are candidates at all
(`Route.candidates`), so no later branch can reach the managed API.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from serving.gateway.auth import Client
from serving.gateway.errors import error_body, stream_error_event
from serving.gateway.limits import BYTES_PER_TOKEN, ClientLimiter
from serving.gateway.metrics import NO_CANDIDATE, GatewayMetrics
from serving.gateway.route_override import RouteOverride
from serving.gateway.routing import FallbackReason, Retryable, RetryBudget, Terminal
from serving.gateway.streaming import DONE_EVENT, StreamProtocolError, cost_comment, usage_counts
from serving.gateway.upstreams import OpenStream, Upstream

log = logging.getLogger("serving.gateway.proxy")
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

JSON = b"application/json"
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


@dataclass(frozen=True, slots=True)
class Route:
    model: str
    primary: Upstream
    fallback: Upstream | None

    def candidates(self, sovereign: bool) -> tuple[Upstream, ...]:
        chain = (self.primary,) if self.fallback is None else (self.primary, self.fallback)
        if sovereign:
            return tuple(u for u in chain if u.adapter.keeps_data_in_company)
        return chain


@dataclass(slots=True)
class ChatRequest:
    request_id: bytes
    client: Client
    limiter: ClientLimiter
    route: Route
    body: dict[str, Any]
    size: int
    stream: bool
    wants_usage: bool
    sovereign: bool
    received: float
    reserved_tokens: int


@dataclass(slots=True)
class Served:
    """What happened, for metrics and the access log."""

    status: int
    upstream: Upstream | None
    reason: FallbackReason | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    detail: str = ""


class StreamEnd(enum.Enum):
    COMPLETE = "complete"
    TRUNCATED = "stream_truncated"
    STALLED = "stream_stalled"
    CUT = "stream_interrupted"
    PROTOCOL = "stream_protocol_error"
    CLIENT_GONE = "client_gone"


STREAM_END_MESSAGES = {
    StreamEnd.TRUNCATED: "The model server closed the stream before the answer was complete.",
    StreamEnd.STALLED: "The model server stopped sending in the middle of the answer.",
    StreamEnd.CUT: "The connection to the model server broke in the middle of the answer.",
    StreamEnd.PROTOCOL: "The model server sent a malformed event stream.",
}


class Router:
    def __init__(
        self,
        budget: RetryBudget,
        metrics: GatewayMetrics,
        replay_maybe_processed: bool,
        max_response_bytes: int,
        clock: Callable[[], float],
        route_override: RouteOverride | None = None,
    ) -> None:
        self._override = route_override
        self._budget = budget
        self._metrics = metrics
        self._replay = replay_maybe_processed
        self._max_response = max_response_bytes
        self._clock = clock

    async def handle(self, req: ChatRequest, receive: Receive, send: Send) -> Served:
        reason: FallbackReason | None = None
        failure: Retryable | None = None
        attempted = False
        candidates = req.route.candidates(req.sovereign)
        if self._override is not None:  # the drain switch (route_override.py)
            candidates = self._override.candidates(candidates, req.sovereign)
        for upstream in candidates:
            now = self._clock()
            skip, probe = upstream.health.admit(now)
            if skip is not None:
                failure = Retryable(
                    skip, False, f"{upstream.name}: {skip.value}", upstream.health.retry_after(skip, now)
                )
                reason = reason or skip
                continue
            if attempted:
                if failure.processed and not self._replay:
                    upstream.health.released(probe)
                    return await self._not_replayed(req, send, failure, reason)
                if not self._budget.try_withdraw(now):
                    upstream.health.released(probe)
                    failure = Retryable(FallbackReason.RETRY_BUDGET_EXHAUSTED, False, "retry budget exhausted")
                    break
                if failure.processed:
                    self._metrics.child(self._metrics.replays, req.route.model, failure.reason.value).inc()
            else:
                self._budget.deposit(now)
            attempted = True
            outcome = await self._attempt(req, upstream, probe, reason, receive, send)
            if isinstance(outcome, Served):
                if reason is not None and upstream is not req.route.primary:
                    self._metrics.child(self._metrics.fallbacks, req.route.model, reason.value).inc()
                return outcome
            upstream.health.failed(outcome, probe, self._clock())
            log.debug(
                "request %s: %s failed before the first byte: %s (%s)",
                req.request_id.decode(),
                upstream.name,
                outcome.reason.value,
                outcome.detail,
            )
            failure = outcome
            reason = reason or outcome.reason
        return await self._unavailable(req, send, failure, reason)

    async def _attempt(
        self,
        req: ChatRequest,
        upstream: Upstream,
        probe: bool,
        reason: FallbackReason | None,
        receive: Receive,
        send: Send,
    ) -> Served | Retryable:
        gauge = self._metrics.child(self._metrics.in_flight, upstream.name)
        upstream.health.in_flight += 1
        gauge.inc()
        try:
            if req.stream:
                return await self._stream(req, upstream, probe, reason, receive, send)
            return await self._once(req, upstream, probe, reason, send)
        except BaseException:
            upstream.health.released(probe)
            raise
        finally:
            upstream.health.in_flight -= 1
            gauge.dec()

    async def _once(
        self, req: ChatRequest, upstream: Upstream, probe: bool, reason: FallbackReason | None, send: Send
    ) -> Served | Retryable:
        body = upstream.adapter.chat_body(req.body, stream=False)
        outcome = await upstream.fetch(body, self._max_response, self._clock())
        if isinstance(outcome, Retryable):
            return outcome
        now = self._clock()
        if isinstance(outcome, Terminal):
            return await self._terminal(req, upstream, probe, reason, outcome, send)
        upstream.health.succeeded(probe, now)
        counts = _usage_of_json(outcome.body)
        prompt, completion = counts or (req.size // BYTES_PER_TOKEN, len(outcome.body) // BYTES_PER_TOKEN)
        cost = upstream.cost.cost(prompt, completion, now)
        headers = _gateway_headers(req, upstream, reason)
        headers.append((b"content-type", JSON))
        headers.append((b"content-length", str(len(outcome.body)).encode()))
        headers.append((b"x-gateway-cost-usd", f"{cost:.10f}".encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": outcome.body})
        return Served(200, upstream, reason, prompt, completion, cost)

    async def _stream(
        self,
        req: ChatRequest,
        upstream: Upstream,
        probe: bool,
        reason: FallbackReason | None,
        receive: Receive,
        send: Send,
    ) -> Served | Retryable:
        body = upstream.adapter.chat_body(req.body, stream=True)
        opened = await upstream.open_stream(body, strip_usage=not req.wants_usage, now=self._clock())
        if isinstance(opened, Retryable):
            return opened
        if isinstance(opened, Terminal):
            return await self._terminal(req, upstream, probe, reason, opened, send)
        upstream.health.succeeded(probe, self._clock())
        # The commit point: from here on the client has bytes from this upstream, and no other
        # upstream may add to them.
        headers = _gateway_headers(req, upstream, reason)
        headers.extend(SSE_HEADERS)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": opened.first, "more_body": True})
        self._metrics.child(self._metrics.ttft, req.route.model, upstream.served_by).observe(
            self._clock() - req.received
        )
        watch = asyncio.ensure_future(receive())
        try:
            end = await self._pump(opened, send, watch)
        except asyncio.CancelledError:
            # Shutdown ran out of grace time: still end the stream explicitly, never silently.
            opened.response.close()
            message = "The gateway is shutting down; the answer is incomplete. Retry the request."
            await send({"type": "http.response.body", "body": stream_error_event(message, "gateway_shutting_down")})
            raise
        finally:
            watch.cancel()
        relay = opened.relay
        counts = usage_counts(relay.usage)
        prompt, completion = counts or (req.size // BYTES_PER_TOKEN, relay.events)
        cost = upstream.cost.cost(prompt, completion, self._clock())
        if end is StreamEnd.COMPLETE:
            await _finish_response(opened)
            tail = cost_comment(cost, upstream.served_by, prompt, completion, estimated=counts is None) + DONE_EVENT
            await send({"type": "http.response.body", "body": tail})
            if relay.error_event:
                self._stream_failed(req, upstream, "upstream_error_event")
            return Served(200, upstream, reason, prompt, completion, cost)
        opened.response.close()
        if end is StreamEnd.CLIENT_GONE:
            return Served(499, upstream, reason, prompt, completion, cost, "client went away mid-stream")
        upstream.health.circuit.record_failure(False, self._clock())
        self._stream_failed(req, upstream, end.value)
        event = stream_error_event(STREAM_END_MESSAGES[end], end.value)
        await send({"type": "http.response.body", "body": event})
        return Served(200, upstream, reason, prompt, completion, cost, f"stream ended: {end.value}")

    async def _pump(self, opened: OpenStream, send: Send, watch: asyncio.Future) -> StreamEnd:
        relay, content = opened.relay, opened.response.content
        try:
            while not relay.done:
                chunk = await content.readany()
                if not chunk:
                    return StreamEnd.TRUNCATED
                block = relay.feed(chunk)
                if block:
                    await send({"type": "http.response.body", "body": block, "more_body": True})
                if watch.done():
                    return StreamEnd.CLIENT_GONE
        except TimeoutError:
            return StreamEnd.STALLED
        except StreamProtocolError:
            return StreamEnd.PROTOCOL
        except (aiohttp.ClientError, OSError):
            return StreamEnd.CUT
        return StreamEnd.COMPLETE

    def _stream_failed(self, req: ChatRequest, upstream: Upstream, why: str) -> None:
        self._metrics.child(self._metrics.stream_failures, req.route.model, upstream.served_by, why).inc()
        log.warning("request %s: stream from %s ended early: %s", req.request_id.decode(), upstream.name, why)

    async def _terminal(
        self,
        req: ChatRequest,
        upstream: Upstream,
        probe: bool,
        reason: FallbackReason | None,
        outcome: Terminal,
        send: Send,
    ) -> Served:
        now = self._clock()
        if outcome.status >= 500:
            upstream.health.circuit.record_failure(probe, now)
        else:
            upstream.health.succeeded(probe, now)  # it answered: alive, the request was at fault
        headers = _gateway_headers(req, upstream, reason)
        await _send_json(send, outcome.status, outcome.body, headers)
        return Served(outcome.status, upstream, reason, detail=outcome.detail)

    async def _unavailable(
        self, req: ChatRequest, send: Send, failure: Retryable | None, reason: FallbackReason | None
    ) -> Served:
        retry_after = max(1, int(failure.retry_after_s)) if failure else 1
        if failure is not None and failure.reason is FallbackReason.RETRY_BUDGET_EXHAUSTED:
            message, code = (
                "The model is failing and the gateway's retry budget is spent; retry later.",
                "retry_budget_exhausted",
            )
        elif req.sovereign and req.route.fallback is not None and not req.route.fallback.adapter.keeps_data_in_company:
            message = (
                "The self-hosted model cannot serve this request now, and this key's requests never go to "
                "the managed API. Retry later."
            )
            code = "sovereign_upstream_unavailable"
        else:
            message, code = "No model server can serve this request now. Retry later.", "upstream_unavailable"
        headers = [(b"x-gateway-request-id", req.request_id), (b"retry-after", str(retry_after).encode())]
        if reason is not None:
            headers.append((b"x-gateway-fallback-reason", reason.value.encode()))
        await _send_json(send, 503, error_body(message, "server_error", code), headers)
        label = failure.reason.value if failure is not None else NO_CANDIDATE
        sovereign = "true" if req.sovereign else "false"
        self._metrics.child(self._metrics.unavailable, req.route.model, label, sovereign).inc()
        detail = f"{failure.reason.value}: {failure.detail}" if failure else "no candidate upstream"
        return Served(503, None, reason, detail=detail)

    async def _not_replayed(
        self, req: ChatRequest, send: Send, failure: Retryable, reason: FallbackReason | None
    ) -> Served:
        message = (
            "The self-hosted model failed after it may have processed the request; the gateway does not "
            "replay such requests (retry.replay_maybe_processed is false)."
        )
        headers = [(b"x-gateway-request-id", req.request_id)]
        if reason is not None:
            headers.append((b"x-gateway-fallback-reason", reason.value.encode()))
        await _send_json(send, 502, error_body(message, "server_error", "upstream_failed_not_replayed"), headers)
        return Served(502, None, reason, detail=f"not replayed: {failure.reason.value}")


def _gateway_headers(req: ChatRequest, upstream: Upstream, reason: FallbackReason | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-gateway-request-id", req.request_id),
        (b"x-gateway-served-by", upstream.served_by.encode()),
        (b"x-gateway-model", upstream.model.encode()),
    ]
    if reason is not None:
        headers.append((b"x-gateway-fallback-reason", reason.value.encode()))
    return headers


async def _send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers.append((b"content-type", JSON))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _finish_response(opened: OpenStream) -> None:
    """Read what follows [DONE] (normally just the chunked terminator) so the connection goes
    back to the pool instead of being closed."""
    try:
        async with asyncio.timeout(1.0):
            while await opened.response.content.readany():
                pass
        opened.response.release()
    except (TimeoutError, aiohttp.ClientError, OSError):
        opened.response.close()


def _usage_of_json(body: bytes) -> tuple[int, int] | None:
    try:
        message = json.loads(body)
    except ValueError:
        return None
    return usage_counts(message.get("usage")) if isinstance(message, dict) else None
