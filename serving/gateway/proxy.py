"""One API request, from a validated request to the last byte: try the upstreams in order, fall
back only before the first byte reached the client, and account for what was served.

Order of candidates (`Route.candidates`, the one place that chooses upstreams): the route's
primary, then its fallback; an upstream that cannot serve this very request (its endpoint, or a
Responses request that depends on state kept elsewhere) is left out, and a sovereign request
keeps only upstreams whose adapter keeps data in the company, so no later branch can reach the
managed API.

A client that goes away cancels the task running `Router.handle` (server.py): the cancellation
closes the upstream connection wherever the attempt stands (connecting, waiting for the answer,
mid-stream), so the upstream stops generating at once.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from serving.gateway.auth import Client
from serving.gateway.endpoints import Endpoint
from serving.gateway.errors import (
    H_COST,
    H_FALLBACK_REASON,
    H_MODEL,
    H_REQUEST_ID,
    H_SERVED_BY,
    error_body,
    error_code,
    stream_error_event,
)
from serving.gateway.limits import BYTES_PER_TOKEN, ClientLimiter
from serving.gateway.metrics import NO_CANDIDATE, GatewayMetrics
from serving.gateway.model_routing import answered_model, rewrite_model
from serving.gateway.route_override import RouteOverride
from serving.gateway.routing import FallbackReason, Retryable, RetryBudget, Terminal
from serving.gateway.server import CancelCause, ClientGone, Responder
from serving.gateway.streaming import DONE_EVENT, StreamProtocolError, cost_comment, usage_counts
from serving.gateway.upstreams import OpenStream, Upstream

log = logging.getLogger("serving.gateway.proxy")

JSON = b"application/json"
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
# How long a finished stream's trailing bytes (after [DONE]) may take before the connection is dropped.
STREAM_TAIL_S = 1.0


@dataclass(frozen=True, slots=True)
class Route:
    model: str
    primary: Upstream
    fallback: Upstream | None

    def candidates(self, endpoint: Endpoint, body: dict[str, Any], sovereign: bool) -> tuple[Upstream, ...]:
        """The upstreams to try for this request, in order."""
        chain = (self.primary,) if self.fallback is None else (self.primary, self.fallback)
        return tuple(
            u for u in chain if (not sovereign or u.adapter.keeps_data_in_company) and u.adapter.supports(endpoint, body)
        )

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether any upstream of the route serves the endpoint at all."""
        return endpoint in self.primary.adapter.endpoints or (
            self.fallback is not None and endpoint in self.fallback.adapter.endpoints
        )


@dataclass(slots=True)
class ApiRequest:
    request_id: bytes
    endpoint: Endpoint
    client: Client
    limiter: ClientLimiter | None
    route: Route
    body: dict[str, Any]
    raw: bytes
    size: int
    stream: bool
    wants_usage: bool
    sovereign: bool
    received: float
    reserved_tokens: int
    # The upstream being tried right now (for the access log when the client goes away).
    attempting: Upstream | None = None
    reason: FallbackReason | None = None
    # What a stream had served when its task was cancelled (client gone, shutdown).
    partial: Served | None = None


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
    code: str = ""  # the error code the client received (error.code), for the access log


class StreamEnd(enum.Enum):
    COMPLETE = "complete"
    TRUNCATED = "stream_truncated"
    STALLED = "stream_stalled"
    CUT = "stream_interrupted"
    PROTOCOL = "stream_protocol_error"


STREAM_END_MESSAGES = {
    StreamEnd.TRUNCATED: "The model server closed the stream before the answer was complete.",
    StreamEnd.STALLED: "The model server stopped sending in the middle of the answer.",
    StreamEnd.CUT: "The connection to the model server broke in the middle of the answer.",
    StreamEnd.PROTOCOL: "The model server sent a malformed event stream.",
}
SHUTDOWN_MESSAGE = "The gateway is shutting down; the answer is incomplete. Retry the request."


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

    async def handle(self, req: ApiRequest, responder: Responder) -> Served:
        reason: FallbackReason | None = None
        failure: Retryable | None = None
        attempted = False
        candidates = req.route.candidates(req.endpoint, req.body, req.sovereign)
        if not candidates:
            return self._no_candidate(req, responder)
        if self._override is not None:  # the drain switch (route_override.py)
            candidates = self._override.candidates(candidates, req.sovereign)
        for upstream in candidates:
            now = self._clock()
            skip, probe = upstream.health.admit(now)
            if skip is not None:
                failure = Retryable(skip, False, f"{upstream.name}: {skip.value}", upstream.health.retry_after(skip, now))
                reason = reason or skip
                continue
            if attempted:
                assert failure is not None, "an attempt that did not serve the request set `failure`"
                if failure.processed and not self._replay:
                    upstream.health.released(probe)
                    return self._not_replayed(req, responder, failure, reason)
                if not self._budget.try_withdraw(now):
                    upstream.health.released(probe)
                    failure = Retryable(FallbackReason.RETRY_BUDGET_EXHAUSTED, False, "retry budget exhausted")
                    break
                if failure.processed:
                    self._metrics.child(self._metrics.replays, req.route.model, failure.reason.value).inc()
            else:
                self._budget.deposit(now)
            attempted = True
            req.reason = reason
            outcome = await self._attempt(req, upstream, probe, reason, responder)
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
        return self._unavailable(req, responder, failure, reason)

    async def _attempt(
        self, req: ApiRequest, upstream: Upstream, probe: bool, reason: FallbackReason | None, responder: Responder
    ) -> Served | Retryable:
        gauge = self._metrics.child(self._metrics.in_flight, upstream.name)
        health = upstream.health
        health.in_flight += 1
        gauge.inc()
        req.attempting = upstream
        try:
            if req.stream:
                return await self._stream(req, upstream, probe, reason, responder)
            return await self._once(req, upstream, probe, reason, responder)
        except BaseException:
            health.released(probe)
            raise
        finally:
            health.in_flight -= 1
            gauge.dec()

    async def _once(
        self, req: ApiRequest, upstream: Upstream, probe: bool, reason: FallbackReason | None, responder: Responder
    ) -> Served | Retryable:
        body = upstream.adapter.body(req.endpoint, req.body, False, req.raw)
        outcome = await upstream.fetch(req.endpoint, body, self._max_response, self._clock())
        if isinstance(outcome, Retryable):
            return outcome
        now = self._clock()
        if isinstance(outcome, Terminal):
            return self._terminal(req, upstream, probe, reason, outcome, responder)
        upstream.health.succeeded(probe, now)
        counts = usage_of_json(outcome.body)
        prompt, completion = counts or (req.size // BYTES_PER_TOKEN, len(outcome.body) // BYTES_PER_TOKEN)
        cost = upstream.cost.cost(prompt, completion, now)
        headers = _gateway_headers(req, upstream, reason)
        headers.append((b"content-type", JSON))
        headers.append((H_COST, b"%.10f" % cost))
        responder.send(200, headers, _answered(req, upstream, outcome.body))
        return Served(200, upstream, reason, prompt, completion, cost)

    async def _stream(
        self, req: ApiRequest, upstream: Upstream, probe: bool, reason: FallbackReason | None, responder: Responder
    ) -> Served | Retryable:
        body = upstream.adapter.body(req.endpoint, req.body, True, req.raw)
        opened = await upstream.open_stream(req.endpoint, body, strip_usage=not req.wants_usage, now=self._clock())
        if isinstance(opened, Retryable):
            return opened
        if isinstance(opened, Terminal):
            return self._terminal(req, upstream, probe, reason, opened, responder)
        upstream.health.succeeded(probe, self._clock())
        # The commit point: from here on the client has bytes from this upstream, and no other
        # upstream may add to them.
        headers = _gateway_headers(req, upstream, reason)
        headers.extend(SSE_HEADERS)
        responder.start(200, headers)
        relay = opened.relay
        try:
            first = _answered(req, upstream, opened.first)
            if relay.done:
                # The whole stream is already here (a short answer): it goes out in one write below.
                end, pending = StreamEnd.COMPLETE, first
            else:
                await responder.write(first)
                end, pending = await self._pump(req, upstream, opened, responder), b""
            self._metrics.child(self._metrics.ttft, req.route.model, upstream.served_by).observe(self._clock() - req.received)
        except BaseException as error:
            opened.response.close()  # the upstream stops generating now
            shutdown = isinstance(error, asyncio.CancelledError) and responder.cancel_cause is CancelCause.SHUTDOWN
            if shutdown:
                # Shutdown ran out of grace time: still end the stream explicitly, never silently.
                responder.finish(stream_error_event(SHUTDOWN_MESSAGE, "gateway_shutting_down"))
            relay = opened.relay
            prompt, completion = usage_counts(relay.usage) or (req.size // BYTES_PER_TOKEN, relay.events)
            cost = upstream.cost.cost(prompt, completion, self._clock())
            why = "gateway shutting down" if shutdown else "client went away mid-stream"
            req.partial = Served(200 if shutdown else 499, upstream, reason, prompt, completion, cost, why)
            raise
        counts = usage_counts(relay.usage)
        prompt, completion = counts or (req.size // BYTES_PER_TOKEN, relay.events)
        cost = upstream.cost.cost(prompt, completion, self._clock())
        if end is StreamEnd.COMPLETE:
            tail = pending + cost_comment(cost, upstream.served_by, prompt, completion, estimated=counts is None)
            if req.endpoint is not Endpoint.RESPONSES:
                tail += DONE_EVENT
            responder.finish(tail)
            await _finish_response(opened)
            if relay.error_event:
                self._stream_failed(req, upstream, "upstream_error_event")
            return Served(200, upstream, reason, prompt, completion, cost)
        opened.response.close()
        upstream.health.circuit.record_failure(False, self._clock())
        self._stream_failed(req, upstream, end.value)
        responder.finish(stream_error_event(STREAM_END_MESSAGES[end], end.value))
        return Served(200, upstream, reason, prompt, completion, cost, f"stream ended: {end.value}")

    async def _pump(self, req: ApiRequest, upstream: Upstream, opened: OpenStream, responder: Responder) -> StreamEnd:
        relay, response = opened.relay, opened.response
        idle_timeout = upstream.settings.stream_idle_timeout_s
        try:
            while not relay.done:
                chunk = await response.next_chunk(idle_timeout)
                if not chunk:
                    return StreamEnd.TRUNCATED
                block = relay.feed(chunk)
                if block:
                    await responder.write(_answered(req, upstream, block))
        except TimeoutError:
            return StreamEnd.STALLED
        except StreamProtocolError:
            return StreamEnd.PROTOCOL
        except ClientGone:
            raise
        except (OSError, ValueError):
            return StreamEnd.CUT
        return StreamEnd.COMPLETE

    def _stream_failed(self, req: ApiRequest, upstream: Upstream, why: str) -> None:
        self._metrics.child(self._metrics.stream_failures, req.route.model, upstream.served_by, why).inc()
        log.warning("request %s: stream from %s ended early: %s", req.request_id.decode(), upstream.name, why)

    def _terminal(
        self,
        req: ApiRequest,
        upstream: Upstream,
        probe: bool,
        reason: FallbackReason | None,
        outcome: Terminal,
        responder: Responder,
    ) -> Served:
        now = self._clock()
        if outcome.status >= 500 and outcome.status != 504:
            upstream.health.circuit.record_failure(probe, now)
        else:
            # It answered (a 4xx about the request), or it is busy (504: slow, not failing).
            upstream.health.succeeded(probe, now)
        headers = _gateway_headers(req, upstream, reason)
        if outcome.status == 504:
            headers.append((b"retry-after", b"5"))
        _send_json(responder, outcome.status, outcome.body, headers)
        return Served(outcome.status, upstream, reason, detail=outcome.detail, code=error_code(outcome.body))

    def _unavailable(
        self, req: ApiRequest, responder: Responder, failure: Retryable | None, reason: FallbackReason | None
    ) -> Served:
        retry_after = max(1, int(failure.retry_after_s)) if failure else 1
        route = req.route
        if failure is not None and failure.reason is FallbackReason.RETRY_BUDGET_EXHAUSTED:
            message, code = (
                "The model is failing and the gateway's retry budget is spent; retry later.",
                "retry_budget_exhausted",
            )
        elif req.sovereign and route.fallback is not None and not route.fallback.adapter.keeps_data_in_company:
            message = (
                "The self-hosted model cannot serve this request now, and this key's requests never go to "
                "the managed API. Retry later."
            )
            code = "sovereign_upstream_unavailable"
        else:
            message, code = "No model server can serve this request now. Retry later.", "upstream_unavailable"
        headers = [(H_REQUEST_ID, req.request_id), (b"retry-after", str(retry_after).encode())]
        if reason is not None:
            headers.append((H_FALLBACK_REASON, reason.value.encode()))
        _send_json(responder, 503, error_body(message, "server_error", code), headers)
        label = failure.reason.value if failure is not None else NO_CANDIDATE
        sovereign = "true" if req.sovereign else "false"
        self._metrics.child(self._metrics.unavailable, route.model, label, sovereign).inc()
        detail = f"{failure.reason.value}: {failure.detail}" if failure else "no candidate upstream"
        return Served(503, None, reason, detail=detail, code=code)

    def _no_candidate(self, req: ApiRequest, responder: Responder) -> Served:
        """No upstream of the route may serve this request at all (not a failure: retrying will
        not help): the endpoint is served only by the managed API and the key is sovereign, or
        a Responses request depends on state only another server has."""
        if req.sovereign:
            message = (
                "This model serves this endpoint only through the managed API, and this key's requests never go "
                "there; use /v1/chat/completions."
            )
        else:
            message = (
                "No upstream of this model can serve this request: it depends on state kept by another server "
                "(previous_response_id, conversation, background) or uses tools only that server has."
            )
        headers = [(H_REQUEST_ID, req.request_id)]
        _send_json(responder, 400, error_body(message, "invalid_request_error", "unsupported_request"), headers)
        return Served(400, None, None, detail="no candidate upstream for this request", code="unsupported_request")

    def _not_replayed(self, req: ApiRequest, responder: Responder, failure: Retryable, reason: FallbackReason | None) -> Served:
        message = (
            "The self-hosted model failed after it may have processed the request; the gateway does not "
            "replay such requests (retry.replay_maybe_processed is false)."
        )
        headers = [(H_REQUEST_ID, req.request_id)]
        if reason is not None:
            headers.append((H_FALLBACK_REASON, reason.value.encode()))
        _send_json(responder, 502, error_body(message, "server_error", "upstream_failed_not_replayed"), headers)
        return Served(502, None, reason, detail=f"not replayed: {failure.reason.value}", code="upstream_failed_not_replayed")


def _gateway_headers(req: ApiRequest, upstream: Upstream, reason: FallbackReason | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (H_REQUEST_ID, req.request_id),
        (H_SERVED_BY, upstream.served_by.encode()),
        (H_MODEL, upstream.model.encode()),
    ]
    if reason is not None:
        headers.append((H_FALLBACK_REASON, reason.value.encode()))
    return headers


def _answered(req: ApiRequest, upstream: Upstream, block: bytes) -> bytes:
    """`block` answering with the requested model name where a self-hosted upstream served it
    (serving/gateway/model_routing.py); a managed fallback keeps its own name."""
    answered = answered_model(req.route.model, upstream.model, upstream.adapter.keeps_data_in_company)
    return rewrite_model(block, upstream.model, answered)


def _send_json(responder: Responder, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers.append((b"content-type", JSON))
    responder.send(status, headers, body)


async def _finish_response(opened: OpenStream) -> None:
    """Read what follows the end marker (normally just the chunked terminator) so the connection
    goes back to the pool instead of being closed."""
    response = opened.response
    try:
        async with asyncio.timeout(STREAM_TAIL_S):
            while await response.next_chunk(STREAM_TAIL_S):
                pass
        response.release()
    except (TimeoutError, OSError, ValueError):
        response.close()


def usage_of_json(body: bytes) -> tuple[int, int] | None:
    """The token counts of a complete JSON answer. Only the `usage` object is parsed (OpenAI and
    vLLM write it last): the answer itself may be megabytes of text. Inside a JSON string a quote
    is escaped, so `"usage"` cannot match text the model wrote."""
    at = body.rfind(b'"usage"')
    if at < 0:
        return None
    start = body.find(b"{", at)
    if start < 0 or body[at + 7 : start].strip(b" \t\r\n:"):
        return None
    try:
        usage, _ = _DECODER.raw_decode(body[start:].decode("utf-8", "replace"))
    except ValueError:
        return None
    return usage_counts(usage) if isinstance(usage, dict) else None


_DECODER = json.JSONDecoder()
