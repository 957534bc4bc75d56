"""The gateway application: the OpenAI endpoints, health, readiness and metrics, on server.py.

The whole HTTP surface is a handful of paths, and the hot path is auth, a JSON parse and check,
and a hand-off to `proxy.Router`. Everything the app owns (upstreams and their connection pools,
clients, limiters, the spend ledger, the shared store, metrics) hangs off one `Gateway` instance
built from the settings; nothing is global. Background work (probers, secret reloads, the shared
store's exchanges) starts in `startup()`.

Every refusal, by the application or by the server (408, 413, 414, 431, 503 at the connection
cap), is an OpenAI-shaped error with a request id, counted in `gateway_rejected_total` and
written to the access log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any

from serving.gateway import errors
from serving.gateway.access_log import AccessLog
from serving.gateway.auth import Client, ClientRegistry, HeaderValueError, sovereign_requested
from serving.gateway.credential_probe import CredentialProbe, CredentialVerdict
from serving.gateway.endpoints import PATHS, Endpoint
from serving.gateway.errors import H_REQUEST_ID, H_SOVEREIGN, HEADER_SOVEREIGN, error_body
from serving.gateway.health import ProbeResult, UpstreamHealth
from serving.gateway.limits import Limiters
from serving.gateway.metrics import GatewayMetrics
from serving.gateway.proxy import ApiRequest, Route, Router, Served
from serving.gateway.route_override import RouteOverride, RouteOverrideWatcher
from serving.gateway.routing import FallbackReason, RetryBudget
from serving.gateway.server import CancelCause, Refusal, Request, Responder
from serving.gateway.settings import GatewaySettings, UpstreamSettings
from serving.gateway.shared_store import SharedStore
from serving.gateway.spend import KEY, SpendLedger
from serving.gateway.upstreams import ADAPTERS, SecretFile, Upstream
from serving.gateway.validation import Invalid, parse_body, validate

log = logging.getLogger("serving.gateway")

JSON_HEADERS = [(b"content-type", b"application/json")]
# /metrics is served on a port of its own (metrics_http.py), never to clients.
GET_PATHS = frozenset({b"/v1/models", b"/healthz", b"/readyz"})
KNOWN_PATHS = frozenset({*PATHS, *GET_PATHS})
_ERROR_TYPES = {401: "invalid_request_error", 403: "permission_error", 429: "rate_limit_error"}


class Rejected(Exception):
    """A request refused before routing, with its OpenAI-shaped answer."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or []


def _invalid(message: str, param: str | None, code: str) -> Rejected:
    return Rejected(400, error_body(message, "invalid_request_error", code, param))


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        now = clock()
        self.metrics = GatewayMetrics(settings.environment)
        self.clients = ClientRegistry(settings.clients_file)
        self.limiters = Limiters()
        self.ledger = SpendLedger(wall)
        self.ledger.track(self.clients.clients)
        self.store = (
            SharedStore(settings.shared_store, self.limiters, self.ledger, self.metrics, wall)
            if settings.shared_store is not None
            else None
        )
        self._secrets: list[tuple[SecretFile, Any]] = []
        self._credential_probes: dict[str, CredentialProbe] = {}
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
        self._models_bodies: dict[frozenset[str] | None, bytes] = {}
        self._client_labels = settings.metrics.client_labels
        self.access = AccessLog() if settings.access_log else None
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
        upstream = Upstream(settings, adapter, health, now)
        metrics.child(metrics.auth_failures, name, "credential_check")
        metrics.child(metrics.auth_failures, name, "request")
        if settings.credential_check_interval_s is not None:
            self._credential_probes[name] = CredentialProbe(
                upstream,
                settings.credential_check_interval_s,
                settings.readiness.timeout_s,
                lambda verdict: self._credential_verdict(upstream, verdict),
            )
        return upstream

    def _credential_verdict(self, upstream: Upstream, verdict: CredentialVerdict) -> None:
        if verdict is CredentialVerdict.REFUSED:
            self.metrics.child(self.metrics.auth_failures, upstream.name, "credential_check").inc()
            upstream.health.credentials(False)
        elif verdict is CredentialVerdict.ACCEPTED:
            upstream.health.credentials(True)

    @property
    def reserved_fds(self) -> int:
        """File descriptors the upstream pools may hold (kept free of client connections)."""
        return sum(u.max_connections for u in self.settings.upstreams) + (1 if self.store else 0)

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        if self.store is not None:
            # Learn this month's spend before the first request, so a restarted pod does not
            # admit a key that is over its cap; an unreachable store delays nothing.
            await self.store.sync()
            self._tasks.append(asyncio.create_task(self.store.run(), name="shared-store"))
        for upstream in self.upstreams.values():
            await upstream.start()
            if upstream.health.probed:
                self._tasks.append(asyncio.create_task(self._probe_loop(upstream), name=f"probe-{upstream.name}"))
        for name, probe in self._credential_probes.items():
            self._tasks.append(asyncio.create_task(probe.run(), name=f"credentials-{name}"))
        self._tasks.append(asyncio.create_task(self._reload_loop(), name="reload-secrets"))
        if self.access is not None:
            self._tasks.append(asyncio.create_task(self.access.run(), name="access-log"))
        if self.settings.route_override is not None:
            watcher = RouteOverrideWatcher(self.settings.route_override, self.route_override)
            self._tasks.append(asyncio.create_task(watcher.run(), name="route-override"))
        self.ready = True
        log.info("gateway ready: environment=%s routes=%s", self.settings.environment, ", ".join(self.routes))

    def draining(self) -> None:
        """SIGTERM: /readyz fails from now on, so the Service stops sending new clients."""
        self.ready = False

    async def shutdown(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for upstream in self.upstreams.values():
            await upstream.close()
        if self.store is not None:
            await self.store.close()

    async def _probe_loop(self, upstream: Upstream) -> None:
        health = upstream.health
        while True:
            if health.idle(self._clock()):
                health.presume_cold()  # let the pool scale to zero; a request wakes us
                health.wake.clear()
                await health.wake.wait()
                continue
            started = self._clock()
            wake_timeout_s = health.begin_wake(started)
            if wake_timeout_s is not None:
                self._start_task(self._wake(upstream, wake_timeout_s), f"wake-{upstream.name}")
            load = await upstream.engine_load()
            if load is not None:
                health.engine_counters(load.generated_tokens, self._clock())
            if health.should_probe(started):
                result = await upstream.probe()
            else:
                result = ProbeResult.PROGRESSING
            health.probed_result(result, started, self._clock())
            self.metrics.child(self.metrics.usd_per_mtok, upstream.name).set(upstream.cost.usd_per_mtok(self._clock()))
            health.wake.clear()
            interval = health.probe_interval(self._clock())
            try:
                # asyncio.timeout, not wait_for: no inner task that a cancellation could race with.
                async with asyncio.timeout(interval):
                    await health.wake.wait()
            except TimeoutError:
                pass

    async def _wake(self, upstream: Upstream, timeout_s: float) -> None:
        """One wake request (health.py, "Waking a pool scaled to zero"): held open for the
        cold-start budget, not cut at the probe timeout."""
        started = self._clock()
        result = ProbeResult.FAILED
        try:
            result = await upstream.probe(timeout_s)
        finally:
            upstream.health.woke(result, started, self._clock())
            upstream.health.wake.set()  # the prober reports the verdict at once

    def _start_task(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """A short-lived background task, cancelled at shutdown like the long-lived ones."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.append(task)
        task.add_done_callback(lambda done: self._tasks.remove(done) if done in self._tasks else None)

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_interval_s)
            try:
                if self.clients.reload():
                    self._models_bodies.clear()
                    self.ledger.track(self.clients.clients)
                for secret, adapter in self._secrets:
                    if secret.reload():
                        adapter.refresh_headers()
                        name = adapter.settings.name
                        # A new key: the circuit's failures were the old key's. Close it and check
                        # the key now, so traffic returns at once after a rotation.
                        self.upstreams[name].health.circuit.reset()
                        probe = self._credential_probes.get(name)
                        if probe is not None:
                            probe.wake.set()
                        log.info("reloaded the API key of upstream %s (circuit closed)", name)
            except Exception as error:  # a missing file mid-rotation must not kill the loop
                log.error("secret reload failed: %s", type(error).__name__)

    # -- HTTP (server.HttpApp) -------------------------------------------------------------------

    def check_head(self, request: Request) -> Refusal | None:
        path, method = request.path, request.method
        if path in PATHS:
            if method != b"POST":
                return self._refuse(request, 405, errors.METHOD_NOT_ALLOWED, [(b"allow", b"POST")])
            client = self._authenticate(request)
            if not isinstance(client, Client):
                return client
            request.context = client
            try:
                sovereign_requested(H_SOVEREIGN, [v for k, v in request.headers if k == H_SOVEREIGN])
            except HeaderValueError as error:
                return self._refuse(
                    request, 400, error_body(str(error), "invalid_request_error", "invalid_header", HEADER_SOVEREIGN)
                )
            length = request.header(b"content-length")
            limit = self.settings.limits.max_request_bytes
            if length is not None and length.isdigit() and int(length) > limit:
                return self._refuse(request, 413, _too_large(limit))
            return None
        if path in GET_PATHS:
            if method != b"GET" and method != b"HEAD":
                return self._refuse(request, 405, errors.METHOD_NOT_ALLOWED, [(b"allow", b"GET, HEAD")])
            if path == b"/v1/models":
                client = self._authenticate(request)
                if not isinstance(client, Client):
                    return client
                request.context = client
            return None
        return self._refuse(request, 404, errors.NOT_FOUND)

    def _authenticate(self, request: Request) -> Client | Refusal:
        """The request's client, or its refusal: 401 without a valid key, 400 with two keys (which
        one counts would be a guess, and proxies disagree on it)."""
        authorization = None
        for name, value in request.headers:
            if name == b"authorization":
                if authorization is not None:
                    return self._refuse(request, 400, errors.DUPLICATE_AUTHORIZATION)
                authorization = value
        client = self.clients.authenticate(authorization)
        return client if client is not None else self._refuse(request, 401, errors.INVALID_API_KEY)

    def refusal(self, status: int, code: str, message: str, request: Request | None) -> Refusal:
        error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        headers = [(b"retry-after", b"1")] if status == 503 else []
        return self._refuse(request, status, error_body(message, error_type, code), headers)

    def _refuse(
        self, request: Request | None, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> Refusal:
        request_id = request.id if request is not None else os.urandom(8).hex().encode()
        self.metrics.child(self.metrics.rejected, str(status)).inc()
        if self.access is not None:
            # Only the gateway's own paths are logged: a client may put anything in a URL.
            path = request.path.decode() if request is not None and request.path in KNOWN_PATHS else "-"
            method = request.method.decode("latin-1")[:8] if request is not None else "-"
            self.access.write(f"{method} {path} {status} rejected id={request_id.decode()}")
        return Refusal(status, [(H_REQUEST_ID, request_id), *(headers or ()), *JSON_HEADERS], body)

    async def handle(self, request: Request, responder: Responder) -> None:
        endpoint = PATHS.get(request.path)
        if endpoint is not None:
            return await self._api(request, responder, endpoint)
        path = request.path
        if path == b"/v1/models":
            client = request.context
            assert isinstance(client, Client), "check_head authenticated the request and stored its Client"
            return responder.send(200, list(JSON_HEADERS), self._models_body(client))
        if path == b"/healthz":
            return responder.send(200, list(JSON_HEADERS), b'{"status":"ok"}')
        if path == b"/readyz":
            body = b'{"status":"ready"}' if self.ready else b'{"status":"not ready"}'
            return responder.send(200 if self.ready else 503, list(JSON_HEADERS), body)

    def _models_body(self, client: Client) -> bytes:
        body = self._models_bodies.get(client.models)
        if body is None:
            models = [m for m in self.routes if client.may_use(m)]
            data = [{"id": m, "object": "model", "created": 0, "owned_by": self.settings.team} for m in models]
            body = self._models_bodies[client.models] = json.dumps({"object": "list", "data": data}).encode()
        return body

    async def _api(self, request: Request, responder: Responder, endpoint: Endpoint) -> None:
        try:
            req = self._admit(request, endpoint)
        except Rejected as rejected:
            refusal = self._refuse(request, rejected.status, rejected.body, rejected.headers)
            return responder.send(refusal.status, refusal.headers, refusal.body)
        served: Served | None = None
        try:
            served = await self.router.handle(req, responder)
        except asyncio.CancelledError:
            served = req_partial(req, responder)
            raise
        finally:
            if served is not None:
                self._account(req, served)

    def _admit(self, request: Request, endpoint: Endpoint) -> ApiRequest:
        """Parse, validate, model, limits: everything that can refuse a request before routing."""
        client = request.context
        assert isinstance(client, Client), "check_head authenticated the request and stored its Client"
        limits = self.settings.limits
        body = request.body
        try:
            parsed = parse_body(body, limits.max_json_depth)
            validate(endpoint, parsed, limits.max_n)
        except Invalid as invalid:
            raise _invalid(invalid.message, invalid.param, invalid.code) from None
        model = parsed["model"]
        route = self.routes.get(model)
        if route is None or not client.may_use(model):
            # The name is not echoed: whatever a client sends is never repeated back or logged.
            # A model the key may not use is answered like one that does not exist, as OpenAI does.
            raise Rejected(
                404,
                error_body(
                    "The model does not exist on this gateway or this key may not use it; GET /v1/models lists "
                    "the models this key may use.",
                    "invalid_request_error",
                    "model_not_found",
                    "model",
                ),
            )
        if not route.serves(endpoint):
            raise _invalid(
                f"This model is not served on /v1/{endpoint.value.replace('chat', 'chat/completions')} by this "
                "gateway; use /v1/chat/completions.",
                "model",
                "unsupported_endpoint",
            )
        now = self._clock()
        limiter = self.limiters.for_client(client, now)
        reserved = 0
        if limiter is not None:
            exceeded, retry_after, reserved = limiter.admit(len(body), now)
            if exceeded is not None:
                self.metrics.child(self.metrics.rate_limited, client.team, self._who(client), exceeded).inc()
                what = "requests" if exceeded == "rpm" else "tokens"
                raise Rejected(
                    429,
                    error_body(
                        f"Rate limit reached for this key ({what} per minute).", "rate_limit_error", "rate_limit_exceeded"
                    ),
                    [(b"retry-after", str(retry_after).encode())],
                )
        if client.capped:
            scope = self.ledger.over_cap(client)
            if scope is not None:
                if limiter is not None:
                    limiter.settle(reserved, 0)
                self.metrics.child(self.metrics.spend_refused, scope, client.team, self._who(client)).inc()
                whose = "this key's" if scope == KEY else "this key's team's"
                raise Rejected(
                    429,
                    error_body(
                        f"The monthly spend cap of {whose} is reached; it resets at the start of the next month "
                        "(UTC). Ask the gateway's owners to raise it.",
                        "insufficient_quota",
                        "spend_cap_reached",
                    ),
                    # Retrying cannot help before next month. The OpenAI SDKs retry every 429 unless
                    # the server says `x-should-retry: false` (openai-python 1.x/2.x
                    # _base_client.py `_should_retry`, "If the server explicitly says ... obey").
                    [(b"x-should-retry", b"false")],
                )
        stream = parsed.get("stream") is True
        options = parsed.get("stream_options")
        return ApiRequest(
            request_id=request.id,
            endpoint=endpoint,
            client=client,
            limiter=limiter,
            route=route,
            body=parsed,
            raw=body,
            size=len(body),
            stream=stream,
            wants_usage=bool(options and options.get("include_usage")),
            # Policy comes from the key. A client may only tighten it, never loosen it.
            # check_head refused any value other than one clear true/false.
            sovereign=client.sovereign or sovereign_requested(H_SOVEREIGN, [v for k, v in request.headers if k == H_SOVEREIGN]),
            received=request.received,
            reserved_tokens=reserved,
        )

    def _account(self, req: ApiRequest, served: Served) -> None:
        m, model, client = self.metrics, req.route.model, req.client
        api = req.endpoint.value
        served_by = served.upstream.served_by if served.upstream else "none"
        status = str(served.status)
        m.child(m.requests, model, served_by, client.team, self._who(client), status).inc()
        m.child(m.api_requests, api, status).inc()
        elapsed = self._clock() - req.received
        m.child(m.latency, model, served_by, "true" if req.stream else "false").observe(elapsed)
        if served.upstream is not None and (served.prompt_tokens or served.completion_tokens):
            m.child(m.prompt_tokens, model, served_by, client.team, self._who(client)).inc(served.prompt_tokens)
            m.child(m.completion_tokens, model, served_by, client.team, self._who(client)).inc(served.completion_tokens)
            m.child(m.cost, model, served_by, client.team, self._who(client)).inc(served.cost_usd)
        if served.code == "upstream_auth_failed" and served.upstream is not None:
            m.child(m.auth_failures, served.upstream.name, "request").inc()
        if req.limiter is not None:
            req.limiter.settle(req.reserved_tokens, served.prompt_tokens + served.completion_tokens)
        if client.capped:
            self.ledger.add(client, served.cost_usd)
            self._spend_gauges(client)
        if self.access is not None:
            self.access.write(
                f"POST {req.endpoint.path} {served.status} id={req.request_id.decode()} client={client.name} model={model} "
                f"served_by={served_by} fallback={served.reason.value if served.reason else '-'} "
                f"cost_usd={served.cost_usd:.8f} ms={elapsed * 1000:.1f}"
                + (f" error={served.code}" if served.code else "")
                + (f" detail={served.detail}" if served.detail else "")
            )

    def _who(self, client: Client) -> str:
        """The `client` label: the key's name only where `metrics.client_labels` allows it."""
        return client.name if self._client_labels else "-"

    def _spend_gauges(self, client: Client) -> None:
        m = self.metrics
        for scope, name, cap in (
            ("key", client.name, client.monthly_usd_cap),
            ("team", client.team, client.team_monthly_usd_cap),
        ):
            if cap is not None:
                tally = self.ledger.tallies.get((scope, name))
                if tally is None:
                    continue
                if scope == "key" and not self._client_labels:
                    # One series for all keys, the highest ratio: the spend-cap alert (max by holder)
                    # still fires, and no key name is exposed.
                    m.child(m.spend_ratio, scope, "-").set(self._highest_key_spend_ratio())
                else:
                    m.child(m.spend_ratio, scope, name).set(tally.spent / cap)

    def _highest_key_spend_ratio(self) -> float:
        ratios = [0.0]
        for other in self.clients.clients:
            if other.monthly_usd_cap is not None:
                tally = self.ledger.tallies.get(("key", other.name))
                if tally is not None:
                    ratios.append(tally.spent / other.monthly_usd_cap)
        return max(ratios)


def req_partial(req: ApiRequest, responder: Responder) -> Served:
    """What to account for a request whose task was cancelled (the client went away, or shutdown
    ran out of grace time): what the proxy recorded, or a 499 before any answer."""
    if req.partial is not None:
        return req.partial
    why = "client went away" if responder.cancel_cause is CancelCause.CLIENT_GONE else "gateway shutting down"
    return Served(499, req.attempting, req.reason, detail=f"{why} before the answer")


def _too_large(limit: int) -> bytes:
    return error_body(f"The request body exceeds {limit} bytes.", "invalid_request_error", "request_too_large")
