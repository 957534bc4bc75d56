"""The drain switch: an on-call override of where the gateway routes, read from one ConfigMap.

`gpt-oss-platform drain` writes the ConfigMap `gpt-oss-route-override` (contracts); every gateway
pod watches that one object through the Kubernetes API and applies a change within a second,
without `pulumi up` or a restart. Routes:

| route        | non-sovereign requests                      | sovereign requests       |
|--------------|---------------------------------------------|--------------------------|
| auto         | primary, then fallback (normal routing)     | in-company upstreams only|
| managed      | the managed API only (self-hosted drained)  | unchanged: never managed |
| self-hosted  | in-company upstreams only (no fallback)     | unchanged                |

Endpoints the managed API does not serve (/v1/completions, legacy completions: o-series models
have none) have no managed candidate, so under `managed` they stay on the self-hosted model rather
than being refused (refusing would turn a drain into an outage for those clients). The CLI says so
when it drains, and docs/operating.md lists it.

Why a watch and not a mounted ConfigMap: the kubelet refreshes a ConfigMap volume only after its
sync period plus its cache TTL, about a minute by default (kubernetes.io, "Configure a Pod to Use a
ConfigMap", "Mounted ConfigMaps are updated automatically"), which is not "within seconds". A watch
delivers the change as soon as the API server commits it. Protocol (kubernetes.io, "Kubernetes API
Concepts", "Efficient detection of changes"): list, then watch from the list's resourceVersion;
`410 Gone` means the version is too old, so list again. RBAC can restrict list and watch to one
object name only when the request carries the field selector `metadata.name=<name>`
(kubernetes.io, "Using RBAC Authorization", "Referring to resources"), so every request here does.

Each watch asks the server to end after `resync_s` and is cut client-side shortly after that, so
the object is re-listed at least that often: a watch that stalls silently costs at most one
resync period, never a stale route forever. An absent object means `auto`; an unreadable API
keeps the last state seen (logged, and `gateway_route_override_watch_healthy` drops to 0).

The watcher survives anything: a failed read, a malformed watch event (no `object`, `object: null`,
not JSON) or any unexpected exception marks the watch unhealthy (`watch_healthy` 0, alert
GptOssGatewayDrainWatchUnhealthy), keeps the last route, and lists again after a backoff that
doubles from `retry_s` up to `resync_s`; a successful list resets it. Only cancellation ends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import quote

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field

from contracts import (
    ROUTE_AUTO,
    ROUTE_OVERRIDE_CONFIGMAP,
    ROUTE_OVERRIDE_REASON_KEY,
    ROUTE_OVERRIDE_ROUTE_KEY,
    ROUTE_OVERRIDE_SET_AT_KEY,
    ROUTE_OVERRIDE_SET_BY_KEY,
    UPSTREAM_MANAGED,
    UPSTREAM_SELF_HOSTED,
)

log = logging.getLogger("serving.gateway.route_override")

ROUTES = (ROUTE_AUTO, UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED)
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Free text from the CLI reaches the log: one line, bounded.
_MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class RouteOverrideSettings(BaseModel):
    """Where the gateway reads the drain switch (the chart fills it; tests point it at a fake API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    configmap: str = Field(ROUTE_OVERRIDE_CONFIGMAP, description="Name of the ConfigMap holding the override.")
    namespace: str | None = Field(None, description="Its namespace; default: the pod's own (service account files).")
    api_url: str | None = Field(
        None, description="Kubernetes API base URL; default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT."
    )
    token_file: str = Field(f"{SERVICE_ACCOUNT_DIR}/token", description="Bearer token file, re-read per request.")
    ca_file: str | None = Field(f"{SERVICE_ACCOUNT_DIR}/ca.crt", description="CA bundle of the API server; null: system CAs.")
    resync_s: float = Field(
        30.0, gt=0, le=3600, description="Re-list the object at least this often (bounds the damage of a stalled watch)."
    )
    retry_s: float = Field(1.0, gt=0, le=300, description="Wait after a failed list or watch before trying again.")


@dataclass(frozen=True, slots=True)
class OverrideState:
    route: str = ROUTE_AUTO
    set_by: str = ""
    reason: str = ""
    set_at: str = ""

    def describe(self) -> str:
        return f"{self.route} (set by {self.set_by or '?'} at {self.set_at or '?'}: {self.reason or 'no reason given'})"


def _clean(text: Any) -> str:
    return _CONTROL.sub(" ", str(text or ""))[:_MAX_TEXT]


def parse_configmap(obj: dict[str, Any] | None) -> tuple[OverrideState, str | None]:
    """The state an object describes, and a problem when its route is not one of ROUTES (then `auto`)."""
    if not obj:
        return OverrideState(), None
    data = obj.get("data") or {}
    route = str(data.get(ROUTE_OVERRIDE_ROUTE_KEY, ROUTE_AUTO)).strip()
    state = OverrideState(
        route=route,
        set_by=_clean(data.get(ROUTE_OVERRIDE_SET_BY_KEY)),
        reason=_clean(data.get(ROUTE_OVERRIDE_REASON_KEY)),
        set_at=_clean(data.get(ROUTE_OVERRIDE_SET_AT_KEY)),
    )
    if route not in ROUTES:
        return OverrideState(ROUTE_AUTO, state.set_by, state.reason, state.set_at), (
            f"route {_clean(route)!r} is not one of {', '.join(ROUTES)}: routing stays automatic"
        )
    return state, None


class _Adapter(Protocol):
    keeps_data_in_company: ClassVar[bool]  # a class variable, as on UpstreamAdapter


class _Upstream(Protocol):
    # Read-only (a property): a plain annotation declares a mutable attribute, which an upstream
    # would match only with exactly this type, not with its UpstreamAdapter.
    @property
    def adapter(self) -> _Adapter: ...


U = TypeVar("U", bound=_Upstream)


class RouteOverride:
    """The override in force in this pod, its metrics, and the one hook routing calls."""

    def __init__(self, registry: CollectorRegistry, environment: str) -> None:
        self.state = OverrideState()
        self._gauge = Gauge(
            "gateway_route_override",
            "1 on the route the drain switch sets (auto, managed, self-hosted), 0 on the others.",
            ("environment", "route"),
            registry=registry,
        )
        self._changes = Counter(
            "gateway_route_override_changes",
            "Changes of the drain switch this pod applied.",
            ("environment", "route"),
            registry=registry,
        )
        self._healthy = Gauge(
            "gateway_route_override_watch_healthy",
            "1 while this pod reads the drain switch from the Kubernetes API; 0 after a failed read (last state kept).",
            ("environment",),
            registry=registry,
        )
        self._environment = environment
        self._children = {route: self._gauge.labels(environment, route) for route in ROUTES}
        for route in ROUTES:
            self._changes.labels(environment, route)
        self._healthy_child = self._healthy.labels(environment)
        self._show()

    def candidates(self, chain: Sequence[U], sovereign: bool) -> Sequence[U]:
        """The upstreams a request may try, in order, under the override. `chain` is already
        filtered for sovereignty, so a sovereign request can never gain the managed API here."""
        route = self.state.route
        if route == ROUTE_AUTO or (sovereign and route == UPSTREAM_MANAGED):
            return chain
        if route == UPSTREAM_MANAGED:
            drained = tuple(u for u in chain if not u.adapter.keeps_data_in_company)
            # No managed upstream on this route (fallback not allowed): draining would only
            # refuse everything, so routing stays as it is (the CLI refuses this case, too).
            return drained or chain
        return tuple(u for u in chain if u.adapter.keeps_data_in_company)

    def apply(self, state: OverrideState, problem: str | None = None) -> None:
        if problem:
            log.error("route override: %s", problem)
        if state == self.state:
            return
        previous = self.state.route
        self.state = state
        self._changes.labels(self._environment, state.route).inc()
        self._show()
        log.warning("route override changed: %s -> %s", previous, state.describe())

    def set_healthy(self, healthy: bool) -> None:
        self._healthy_child.set(1 if healthy else 0)

    def _show(self) -> None:
        for route, child in self._children.items():
            child.set(1 if route == self.state.route else 0)


# Why the session is open in _list and _watch: only run() calls them, after it opened it.
_SESSION = "run() opens the session before it lists or watches"


class _Gone(Exception):
    """The watch's resourceVersion is too old (HTTP 410 or an ERROR event with code 410)."""


class _Malformed(ValueError):
    """A watch event that is not what the API documents ({"type": ..., "object": {...}})."""


class RouteOverrideWatcher:
    """Keeps a RouteOverride in step with its ConfigMap: list, watch, re-list every resync_s."""

    def __init__(self, settings: RouteOverrideSettings, override: RouteOverride) -> None:
        self._settings = settings
        self._override = override
        self._namespace = settings.namespace or _read(Path(SERVICE_ACCOUNT_DIR) / "namespace")
        self._base = (settings.api_url or _in_cluster_url()).rstrip("/")
        self._path = f"/api/v1/namespaces/{quote(self._namespace)}/configmaps"
        self._selector = f"metadata.name={settings.configmap}"
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Until cancelled: never raises, never blocks start-up (the state starts as `auto`)."""
        connector = aiohttp.TCPConnector(ssl=_ssl_context(self._settings.ca_file), limit=2)
        self._session = aiohttp.ClientSession(connector=connector)
        failures = 0
        try:
            while True:
                try:
                    version = await self._list()
                    failures = 0
                    self._override.set_healthy(True)
                    await self._watch(version)
                except _Gone:
                    continue
                except Exception as error:
                    # CancelledError is a BaseException: cancellation still ends the loop.
                    self._override.set_healthy(False)
                    failures += 1
                    delay = min(
                        self._settings.retry_s * 2 ** (failures - 1), max(self._settings.retry_s, self._settings.resync_s)
                    )
                    expected = isinstance(error, (aiohttp.ClientError, OSError, TimeoutError, _Malformed))
                    log.log(
                        logging.WARNING if expected else logging.ERROR,
                        "route override: cannot read %s: %s; listing again in %.1f s",
                        self._settings.configmap,
                        _describe(error),
                        delay,
                    )
                    await asyncio.sleep(delay)
        finally:
            await self._session.close()

    async def _list(self) -> str:
        assert self._session is not None, _SESSION
        async with self._session.get(
            self._base + self._path,
            params={"fieldSelector": self._selector},
            headers=self._headers(),
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            if response.status != 200:
                raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
            body = await response.json(content_type=None)
        items = [i for i in body.get("items") or [] if (i.get("metadata") or {}).get("name") == self._settings.configmap]
        self._override.apply(*parse_configmap(items[0] if items else None))
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, version: str) -> None:
        assert self._session is not None, _SESSION
        resync = self._settings.resync_s
        params = {
            "fieldSelector": self._selector,
            "watch": "1",
            "allowWatchBookmarks": "true",
            # Whole seconds; the server ends the watch then, and the client cuts it shortly after.
            "timeoutSeconds": str(max(1, int(resync))),
        }
        if version:
            params["resourceVersion"] = version
        try:
            async with asyncio.timeout(resync + 5):
                async with self._session.get(
                    self._base + self._path,
                    params=params,
                    headers=self._headers(),
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                ) as response:
                    if response.status == 410:
                        raise _Gone()
                    if response.status != 200:
                        raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
                    async for line in response.content:
                        if line.strip():
                            self._event(_decode(line))
        except TimeoutError:
            pass  # resync: list again

    def _event(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object")
        if kind == "BOOKMARK":
            return
        if not isinstance(obj, dict) or kind not in ("ADDED", "MODIFIED", "DELETED", "ERROR"):
            raise _Malformed(f"malformed watch event (type {_clean(kind)!r}, object {type(obj).__name__})")
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise ValueError(f"watch error event {obj.get('code')}")
        if kind in ("ADDED", "MODIFIED"):
            if (obj.get("metadata") or {}).get("name") == self._settings.configmap:
                self._override.apply(*parse_configmap(obj))
        elif kind == "DELETED":
            self._override.apply(OverrideState())

    def _headers(self) -> dict[str, str]:
        # Projected service account tokens rotate: read the file on every request.
        token = _read(Path(self._settings.token_file))
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def _decode(line: bytes) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        raise _Malformed("a watch event that is not JSON") from None
    if not isinstance(event, dict):
        raise _Malformed(f"a watch event that is a JSON {type(event).__name__}, not an object")
    return event


def _read(path: Path) -> str:
    return path.read_text().strip()


def _in_cluster_url() -> str:
    # The kubelet sets these for every container, whatever `enableServiceLinks` says (it only
    # drops the other Services' variables).
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ValueError("route_override.api_url is not set and KUBERNETES_SERVICE_HOST is not in the environment")
    return f"https://{f'[{host}]' if ':' in host else host}:{port}"


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file and Path(ca_file).exists():
        context.load_verify_locations(ca_file)
    return context


def _describe(error: BaseException) -> str:
    # Status codes and exception types only: a response body could echo the token.
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status}"
    if isinstance(error, _Malformed):
        return str(error)  # built from the event's type and shape only, never its text
    return type(error).__name__
