"""The gateway as a raw ASGI application: the OpenAI endpoints, health, readiness and metrics.

No web framework: the whole HTTP surface is five paths, and the hot path is auth, a JSON parse
and a hand-off to `proxy.Router`. Everything the app owns (upstreams and their connection pools,
clients, limiters, metrics) hangs off one `Gateway` instance built from the settings; nothing
is global. Start-up (pools, probers, secret reloads) happens in the ASGI lifespan.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from serving.gateway import errors
from serving.gateway.auth import ClientRegistry
from serving.gateway.errors import error_body
from serving.gateway.health import UpstreamHealth
from serving.gateway.limits import Limiters
from serving.gateway.metrics import GatewayMetrics
from serving.gateway.proxy import ChatRequest, Route, Router, Served
from serving.gateway.route_override import RouteOverride, RouteOverrideWatcher
from serving.gateway.routing import FallbackReason, RetryBudget
from serving.gateway.settings import GatewaySettings, UpstreamSettings
from serving.gateway.upstreams import ADAPTERS, SecretFile, Upstream

log = logging.getLogger("serving.gateway")
access_log = logging.getLogger("serving.gateway.access")

CHAT_PATH = "/v1/chat/completions"
JSON_HEADERS = [(b"content-type", b"application/json")]


class RequestRejected(Exception):
    """A request refused before routing, with its OpenAI-shaped answer."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or []


def _invalid(message: str, param: str | None, code: str = "invalid_request") -> RequestRejected:
    return RequestRejected(400, error_body(message, "invalid_request_error", code, param))


class Gateway:
    def __init__(self, settings: GatewaySettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        now = clock()
        self.metrics = GatewayMetrics(settings.environment)
        self.clients = ClientRegistry(settings.clients_file)
        self.limiters = Limiters()
        self._secrets: list[tuple[SecretFile, Any]] = []
        self.upstreams = {u.name: self._build_upstream(u, now) for u in settings.upstreams}
        self.routes = {
            r.model: Route(r.model, self.upstreams[r.primary], self.upstreams[r.fallback] if r.fallback else None)
            for r in settings.routes
        }
        self.metrics.prime(list(self.routes), [reason.value for reason in FallbackReason])
        # The drain switch: always present (at `auto`, also visible as a metric), watched when configured.
        self.route_override = RouteOverride(self.metrics.registry, settings.environment)
        retry = settings.retry
        self.router = Router(
            RetryBudget(retry.budget_ratio, retry.budget_min_per_s, retry.budget_burst, now),
            self.metrics,
            retry.replay_maybe_processed,
            settings.limits.max_response_bytes,
            clock,
            route_override=self.route_override,
        )
        self._models_body = json.dumps(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "created": 0, "owned_by": settings.team} for m in self.routes],
            }
        ).encode()
        self._tasks: list[asyncio.Task] = []
        self.ready = False

    def _build_upstream(self, settings: UpstreamSettings, now: float) -> Upstream:
        name, metrics = settings.name, self.metrics
        health = UpstreamHealth(
            settings,
            now,
            on_ready=lambda ready: metrics.child(metrics.upstream_ready, name).set(1 if ready else 0),
            on_circuit=lambda state: metrics.set_circuit(name, state, transition=True),
        )
        metrics.set_circuit(name, health.circuit.state, transition=False)
        metrics.child(metrics.upstream_ready, name).set(1 if health.ready is not False else 0)
        secret = SecretFile(settings.api_key_file) if settings.api_key_file else None
        adapter = ADAPTERS[settings.adapter](settings, secret)
        if secret is not None:
            self._secrets.append((secret, adapter))
        return Upstream(settings, adapter, health, now)

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.start()
            if upstream.health.probed:
                self._tasks.append(asyncio.create_task(self._probe_loop(upstream), name=f"probe-{upstream.name}"))
        self._tasks.append(asyncio.create_task(self._reload_loop(), name="reload-secrets"))
        if self.settings.route_override is not None:
            watcher = RouteOverrideWatcher(self.settings.route_override, self.route_override)
            self._tasks.append(asyncio.create_task(watcher.run(), name="route-override"))
        self.ready = True
        log.info("gateway ready: environment=%s routes=%s", self.settings.environment, ", ".join(self.routes))

    async def shutdown(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for upstream in self.upstreams.values():
            await upstream.close()

    async def _probe_loop(self, upstream: Upstream) -> None:
        health, readiness = upstream.health, upstream.settings.readiness
        while True:
            if health.idle(self._clock()):
                health.presume_cold()  # let the pool scale to zero; a request wakes us
                health.wake.clear()
                await health.wake.wait()
                continue
            started = self._clock()
            result = await upstream.probe()
            health.probed_result(result, started, self._clock())
            self.metrics.child(self.metrics.usd_per_mtok, upstream.name).set(upstream.cost.usd_per_mtok(self._clock()))
            health.wake.clear()
            # Not ready: probe often, so traffic returns within a fraction of a second of recovery.
            interval = readiness.interval_s if health.ready else readiness.recovery_interval_s
            try:
                await asyncio.wait_for(health.wake.wait(), interval)
            except TimeoutError:
                pass

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_interval_s)
            try:
                self.clients.reload()
                for secret, adapter in self._secrets:
                    if secret.reload():
                        adapter.refresh_headers()
                        log.info("reloaded the API key of upstream %s", adapter.settings.name)
            except Exception as error:  # a missing file mid-rotation must not kill the loop
                log.error("secret reload failed: %s", type(error).__name__)

    # -- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as error:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": type(error).__name__})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive, send) -> None:
        path, method = scope["path"], scope["method"]
        if path == CHAT_PATH:
            if method != "POST":
                return await _reply(send, 405, errors.METHOD_NOT_ALLOWED, [(b"allow", b"POST")])
            return await self._chat(scope, receive, send)
        if path == "/v1/models" and method == "GET":
            if self.clients.authenticate(_header(scope, b"authorization")) is None:
                self.metrics.child(self.metrics.rejected, "401").inc()
                return await _reply(send, 401, errors.INVALID_API_KEY)
            return await _reply(send, 200, self._models_body)
        if path == "/healthz":
            return await _reply(send, 200, b'{"status":"ok"}')
        if path == "/readyz":
            return await _reply(
                send, 200 if self.ready else 503, b'{"status":"%s"}' % (b"ready" if self.ready else b"not ready")
            )
        if path == "/metrics":
            body = self.metrics.exposition()
            return await _reply(send, 200, body, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")])
        return await _reply(send, 404, errors.NOT_FOUND)

    async def _chat(self, scope: dict[str, Any], receive, send) -> None:
        received = self._clock()
        request_id = os.urandom(8).hex().encode()
        try:
            req = await self._admit(scope, receive, received, request_id)
        except RequestRejected as rejected:
            self.metrics.child(self.metrics.rejected, str(rejected.status)).inc()
            headers = [(b"x-gateway-request-id", request_id), *rejected.headers]
            if self.settings.access_log:
                access_log.info("POST %s %d rejected id=%s", CHAT_PATH, rejected.status, request_id.decode())
            return await _reply(send, rejected.status, rejected.body, headers)
        served = await self.router.handle(req, receive, send)
        self._account(req, served)

    async def _admit(self, scope: dict[str, Any], receive, received: float, request_id: bytes) -> ChatRequest:
        """Auth, size, limits, JSON, model: everything that can refuse a request before routing."""
        authorization = content_length = sovereign_header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                content_length = value
            elif name == b"x-gateway-sovereign":
                sovereign_header = value
        client = self.clients.authenticate(authorization)
        if client is None:
            raise RequestRejected(401, errors.INVALID_API_KEY)
        limit = self.settings.limits.max_request_bytes
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            raise _too_large(limit)
        body = await _read_body(receive, limit)
        now = self._clock()
        limiter = self.limiters.for_client(client, now)
        exceeded, retry_after, reserved = limiter.admit(len(body), now)
        if exceeded is not None:
            self.metrics.child(self.metrics.rate_limited, client.team, client.name, exceeded).inc()
            message = f"Rate limit reached for this key ({'requests' if exceeded == 'rpm' else 'tokens'} per minute)."
            raise RequestRejected(
                429,
                error_body(message, "rate_limit_error", "rate_limit_exceeded"),
                [(b"retry-after", str(retry_after).encode())],
            )
        try:
            request = _parse(body)
        except RequestRejected:
            limiter.settle(reserved, 0)
            raise
        route = self.routes.get(request["model"])
        if route is None:
            limiter.settle(reserved, 0)
            # The name is not echoed: whatever a client sends is never repeated back or logged.
            raise RequestRejected(
                404,
                error_body(
                    "The model does not exist on this gateway; GET /v1/models lists the models.",
                    "invalid_request_error",
                    "model_not_found",
                    "model",
                ),
            )
        stream = request.get("stream") is True
        options = request.get("stream_options")
        return ChatRequest(
            request_id=request_id,
            client=client,
            limiter=limiter,
            route=route,
            body=request,
            size=len(body),
            stream=stream,
            wants_usage=bool(options and options.get("include_usage")),
            # Policy comes from the key. A client may only tighten it, never loosen it.
            sovereign=client.sovereign or sovereign_header == b"true",
            received=received,
            reserved_tokens=reserved,
        )

    def _account(self, req: ChatRequest, served: Served) -> None:
        m, model, client = self.metrics, req.route.model, req.client
        served_by = served.upstream.served_by if served.upstream else "none"
        m.child(m.requests, model, served_by, client.team, client.name, str(served.status)).inc()
        elapsed = self._clock() - req.received
        m.child(m.latency, model, served_by, "true" if req.stream else "false").observe(elapsed)
        if served.upstream is not None and (served.prompt_tokens or served.completion_tokens):
            m.child(m.prompt_tokens, model, served_by, client.team, client.name).inc(served.prompt_tokens)
            m.child(m.completion_tokens, model, served_by, client.team, client.name).inc(served.completion_tokens)
            m.child(m.cost, model, served_by, client.team, client.name).inc(served.cost_usd)
        req.limiter.settle(req.reserved_tokens, served.prompt_tokens + served.completion_tokens)
        if self.settings.access_log:
            access_log.info(
                "POST %s %d id=%s client=%s model=%s served_by=%s fallback=%s cost_usd=%.8f ms=%.1f%s",
                CHAT_PATH,
                served.status,
                req.request_id.decode(),
                client.name,
                model,
                served_by,
                served.reason.value if served.reason else "-",
                served.cost_usd,
                elapsed * 1000,
                f" detail={served.detail}" if served.detail else "",
            )


def _parse(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("The request body is not valid JSON.", None, "invalid_json") from None
    if not isinstance(request, dict):
        raise _invalid("The request body must be a JSON object.", None, "invalid_json")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("'model' is required and must be a string.", "model", "missing_required_parameter")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid(
            "'messages' is required and must be a non-empty array.", "messages", "missing_required_parameter"
        )
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise _invalid("Every message must be an object with a 'role'.", "messages", "invalid_value")
    if "stream" in request and not isinstance(request["stream"], bool) and request["stream"] is not None:
        raise _invalid("'stream' must be a boolean.", "stream", "invalid_type")
    options = request.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _invalid("'stream_options' must be an object.", "stream_options", "invalid_type")
    return request


def _too_large(limit: int) -> RequestRejected:
    return RequestRejected(
        413, error_body(f"The request body exceeds {limit} bytes.", "invalid_request_error", "request_too_large")
    )


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestRejected(499, b"")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def _reply(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    out = list(headers or ())
    if not any(k == b"content-type" for k, _ in out):
        out.extend(JSON_HEADERS)
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})
