"""The gateway's settings: one typed object, loaded once from /etc/gateway/config/gateway.json.

The chart writes the object that `infra.gateway_settings.settings_for_environment` derives
from the environment config; for a local run write it by hand (docs/gateway.md). Unknown keys are
errors everywhere, like the environment config. Secrets are never part of this object: it names
the files that hold them (client key hashes, the managed API key).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts import GATEWAY_CLIENTS_FILE, GATEWAY_METRICS_PORT, GATEWAY_PORT
from serving.gateway.route_override import RouteOverrideSettings

# Names become Prometheus label values and response header values.
NAME_RE = r"^[a-z][a-z0-9-]{0,62}$"
_HOST_PORT = re.compile(r"[A-Za-z0-9.-]+:\d{1,5}")
LOOPBACK_HOSTS = ("localhost",)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CircuitSettings(Strict):
    """A circuit breaker per upstream, in this process (each gateway pod decides for itself)."""

    failure_threshold: int = Field(default=5, ge=1, le=1000, description="Consecutive failures that open the circuit.")
    failure_ratio: float = Field(
        default=0.5, gt=0, le=1, description="Failure ratio within `window_s` that opens the circuit (with enough requests)."
    )
    window_s: float = Field(default=10.0, gt=0, le=3600, description="Sliding window of the failure ratio, seconds.")
    min_requests: int = Field(
        default=20, ge=1, le=100000, description="Requests the window must hold before the ratio can open the circuit."
    )
    open_s: float = Field(
        default=10.0, gt=0, le=3600, description="How long an open circuit refuses traffic before one half-open probe."
    )


class ReadinessSettings(Strict):
    """The background prober that tells whether an upstream can serve right now.

    `generation` sends a one-token chat completion, because vLLM's /health stays 200 while its
    engine hangs (vllm #39863); `models` only lists models (cheap, proves the HTTP server is up);
    `none` never probes and trusts passive signals alone (right for a managed API).
    """

    probe: Literal["generation", "models", "none"] = Field(default="generation", description="What one probe sends.")
    interval_s: float = Field(default=2.0, gt=0, le=600, description="Seconds between probes while the upstream is ready.")
    recovery_interval_s: float = Field(
        default=0.25,
        gt=0,
        le=600,
        description="Seconds between probes while it is not ready: how fast traffic returns once it is healthy.",
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="A probe without an answer in this time fails, unless the upstream made progress meanwhile "
        "(then it is slow, not hung). The probe's own timeout, not the clients' first-byte timeout: a one-token "
        "generation answers in well under a second, and the hung verdict takes failures_to_unready of these.",
    )
    failures_to_unready: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive failed probes that mark the upstream not ready; an answered probe resets the count.",
    )
    engine_metrics_url: str | None = Field(
        default=None,
        description="Prometheus text endpoint of the engine (vLLM's /metrics). Read at every probe interval: a rising "
        "`vllm:generation_tokens_total` proves progress, so a queueing engine is slow, not hung. null: progress "
        "is judged from the bytes this pod receives from the upstream alone.",
    )
    idle_after_s: float | None = Field(
        default=None,
        gt=0,
        description="Without client traffic for this long, stop probing so the pool can scale to zero, and presume "
        "it cold (requests go straight to the fallback while the prober wakes it). null: always probe.",
    )
    wake_timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="The cold-start budget of a pool that scales to zero: while the upstream is not ready, ONE "
        "generation request with this timeout stays open beside the probes, so the autoscaler behind it (Ray "
        "Serve counts requests queued at its handles; a probe cancelled at its own timeout_s leaves no demand "
        "behind) sees demand until a replica answers. Clients go to the fallback meanwhile. null: no wake request.",
    )

    @model_validator(mode="after")
    def _wake_needs_a_generation_longer_than_a_probe(self) -> ReadinessSettings:
        if self.wake_timeout_s is None:
            return self
        if self.probe != "generation":
            raise ValueError(
                f"readiness.wake_timeout_s is set but readiness.probe is {self.probe!r}: the wake request is a "
                "generation (a model listing is answered without waking the model); set probe to 'generation' "
                "or wake_timeout_s to null"
            )
        if self.wake_timeout_s <= self.timeout_s:
            raise ValueError(
                f"readiness.wake_timeout_s ({self.wake_timeout_s}) must exceed readiness.timeout_s ({self.timeout_s}): "
                "the wake request outlasts the probes, which are cut at their own timeout; set it to the cold-start "
                "budget (minutes)"
            )
        return self


class TokenPrice(Strict):
    """Managed API list price, USD per million tokens (reasoning tokens bill as output)."""

    kind: Literal["token_price"] = Field("token_price", description="Discriminator: a managed API's list price.")
    input_usd_per_mtok: float = Field(ge=0, description="USD per 1M prompt tokens.")
    output_usd_per_mtok: float = Field(ge=0, description="USD per 1M completion tokens (reasoning included).")


class AmortisedFleetCost(Strict):
    """Self-hosted cost: the serving fleet's hourly price spread over the tokens it serves.

    See docs/gateway.md "Cost per request" for the method. Every field is > 0, so the figure
    can never read $0.
    """

    kind: Literal["amortised_fleet"] = Field(
        "amortised_fleet", description="Discriminator: the self-hosted fleet's hourly price, amortised."
    )
    fleet_usd_per_hour: float = Field(
        gt=0, description="Hourly price of the fleet at its floor: max(1, min replicas) x $/replica-hour."
    )
    gateway_pods: int = Field(
        1, ge=1, le=1000, description="Pods that share the traffic; each amortises 1/gateway_pods of the fleet."
    )
    window_s: float = Field(900.0, ge=60, le=86400, description="Trailing window of tokens the cost is spread over.")
    input_token_weight: float = Field(
        0.25, gt=0, le=1, description="A prompt token's share of a completion token's GPU time (prefill is batched)."
    )
    min_weighted_tokens_per_hour: float = Field(
        1_000_000,
        gt=0,
        description="Floor of the amortisation rate, so a lone request in an idle hour is not billed the whole hour.",
    )


class UpstreamSettings(Strict):
    """One OpenAI-compatible endpoint serving one model, with its own connection pool and health."""

    name: str = Field(pattern=NAME_RE, description="Upstream name in metrics and logs, e.g. `self-hosted`.")
    adapter: Literal["self_hosted", "managed_openai"] = Field(
        description="Adapter from the registry (serving/gateway/upstreams.py). Only `self_hosted` keeps data in "
        "the company: sovereign requests never reach any other adapter."
    )
    base_url: str = Field(description="Base URL including /v1, e.g. http://gpt-oss-serve-svc.gpt-oss.svc.cluster.local:8000/v1.")
    model: str = Field(min_length=1, max_length=200, description="Model id the upstream serves, sent as `model`.")
    api_key_file: str | None = Field(
        None, description="File holding the bearer token for this upstream (mounted Secret); null: no auth."
    )
    endpoints: list[Literal["chat", "completions", "responses"]] | None = Field(
        None,
        description="OpenAI endpoints this upstream serves (`chat`: /v1/chat/completions, `completions`: "
        "/v1/completions, `responses`: /v1/responses). null: the adapter's default (self_hosted: chat and "
        "completions; managed_openai: chat and responses).",
    )
    connect_timeout_s: float = Field(2.0, gt=0, le=60, description="TCP connect timeout.")
    first_byte_timeout_s: float = Field(
        20.0, gt=0, le=600, description="Streaming: no first SSE event in this time means a hung engine; fall back."
    )
    response_timeout_s: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="Non-streaming: the whole answer must arrive in this time. Upstreams send nothing before the "
        "answer is complete, so this bounds generation time; a hung engine is caught sooner by the prober.",
    )
    stream_idle_timeout_s: float = Field(
        20.0, gt=0, le=600, description="Streaming: the longest silence between two events once the stream started."
    )
    max_connections: int = Field(512, ge=1, le=100000, description="Size of the keep-alive connection pool.")
    keepalive_s: float = Field(
        4.0, gt=0, le=300, description="Idle pooled connections close after this; keep it below the upstream's own."
    )
    max_in_flight: int | None = Field(
        None, ge=1, description="Saturation ceiling per gateway pod: above it, requests skip this upstream."
    )
    credential_check_interval_s: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Check the API key every this many seconds with GET <base_url>/models (free, no tokens): a 401/403 "
        "marks the upstream not ready (`gateway_upstream_ready` 0) and counts `gateway_upstream_auth_failures_total`, "
        "so a revoked key is seen while nothing falls back. Needs api_key_file and readiness.probe none. null: never.",
    )
    circuit: CircuitSettings = Field(default_factory=CircuitSettings, description="Circuit breaker.")
    readiness: ReadinessSettings = Field(default_factory=ReadinessSettings, description="Background prober.")
    cost: Annotated[TokenPrice | AmortisedFleetCost, Field(discriminator="kind")] = Field(
        description="How a request's cost is computed."
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not carry credentials, a query or a fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secure(self) -> UpstreamSettings:
        # A bearer token over plain HTTP leaks; loopback (tests, a local run) is the one exception.
        if self.api_key_file and urlsplit(self.base_url).scheme != "https" and not _is_loopback(self.base_url):
            raise ValueError(f"upstream {self.name!r} sends an API key, so base_url must be https://")
        if self.credential_check_interval_s is not None and (not self.api_key_file or self.readiness.probe != "none"):
            raise ValueError(
                f"upstream {self.name!r}: credential_check_interval_s needs api_key_file and readiness.probe none "
                "(the readiness prober already judges a probed upstream); set it to null or fix those"
            )
        if self.adapter == "self_hosted" and self.cost.kind != "amortised_fleet":
            raise ValueError(f"upstream {self.name!r}: a self-hosted upstream is priced as an amortised fleet")
        if self.adapter == "managed_openai" and self.cost.kind != "token_price":
            raise ValueError(f"upstream {self.name!r}: a managed upstream is priced per token")
        return self


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RouteSettings(Strict):
    """A public model name: the upstream tried first and the one behind it."""

    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$", description="Public model name clients send.")
    primary: str = Field(description="Upstream name tried first.")
    fallback: str | None = Field(None, description="Upstream name used when the primary cannot serve; null: none.")


class RetrySettings(Strict):
    """Second attempts (on the fallback) are bounded, so a failing primary cannot double the load."""

    budget_ratio: float = Field(
        default=0.2, ge=0, le=1, description="Each first attempt earns this many retry tokens (Finagle-style budget)."
    )
    budget_min_per_s: float = Field(
        default=10.0, ge=0, le=10000, description="Retry tokens earned per second regardless of traffic."
    )
    budget_burst: int = Field(
        default=100,
        ge=1,
        le=100000,
        description="Most retry tokens saved up: covers the in-flight requests of a primary that dies.",
    )
    replay_maybe_processed: bool = Field(
        default=True,
        description="Replay on the fallback a request the primary may already have processed (5xx, reset after "
        "sending, timeout). Chat completions change no state upstream, so the cost is paying twice; the response "
        "says so in x-gateway-fallback-reason. false: such failures return 502 instead.",
    )


class LimitSettings(Strict):
    """Limits on what one request may ask for: they protect the gateway's memory and the GPUs."""

    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024, description="Larger bodies get 413.")
    max_response_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024, description="Largest non-streaming answer buffered."
    )
    max_json_depth: int = Field(
        default=64, ge=4, le=512, description="Deepest nesting of arrays and objects in a request body; deeper is 400."
    )
    max_n: int = Field(
        default=4, ge=1, le=128, description="Largest `n` (choices per request): each choice is a whole generation on the GPUs."
    )


class ServerSettings(Strict):
    """The HTTP server's defences against hostile or careless clients (serving/gateway/server.py)."""

    max_connections: int = Field(
        default=2048,
        ge=8,
        le=1_000_000,
        description="Open client connections per pod (also kept below the process's open-file limit). At the cap "
        "the longest-idle keep-alive connection is closed for a new one; when none is idle the new one gets "
        "503 `too_many_connections`.",
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, description="Request line plus headers; larger gets 431 (a URL alone: 414)."
    )
    max_headers: int = Field(default=100, ge=8, le=1000, description="Header fields per request; more gets 431.")
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A request's head must arrive within this time of its first byte (408), and a new connection "
        "must start a request within it (closed).",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="The whole body must arrive within this time of the head (408)."
    )
    keepalive_timeout_s: float = Field(
        default=75.0,
        gt=0,
        le=3600,
        description="Idle keep-alive connections close after this; longer than the load balancer's idle timeout "
        "so it closes first.",
    )
    send_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="A client that reads nothing for this long while the gateway has bytes for it is disconnected.",
    )
    graceful_shutdown_s: float = Field(
        default=25.0,
        ge=0,
        le=600,
        description="After SIGTERM, time in-flight requests get to finish; streams still open then end with an "
        "error event. Keep it below the pod's termination grace period minus preStop.",
    )


class MetricsSettings(Strict):
    """Where Prometheus reads the gateway's metrics, and whether series name client keys."""

    port: int = Field(
        default=GATEWAY_METRICS_PORT,
        ge=1,
        le=65535,
        description="Port of the /metrics listener, on the settings' `host`. Only /metrics is served there, without "
        "a key: let only Prometheus reach it (the chart's NetworkPolicy). The client port answers /metrics with 404.",
    )
    client_labels: bool = Field(
        default=False,
        description="Put each client key's name in the `client` label (requests, tokens, cost, 429s) and the "
        "`holder` of key spend caps. Off: the label is `-` and teams remain, so whoever reads /metrics learns no key "
        "names; turn on where per-key dashboards are wanted and /metrics is confined to Prometheus.",
    )


class SharedStoreSettings(Strict):
    """A Redis shared by every gateway pod, so rate limits and monthly spend hold across pods.

    Never on the request path: each pod admits requests from its own counters and exchanges them with
    the store every `sync_interval_s`; an unreachable store leaves every pod on its own counters
    (per-pod limits, `gateway_shared_store_up` 0) and no request fails because of it. Exactly one of
    `address` and `address_env` is set.
    """

    address: str | None = Field(None, description="host:port of the Redis (a local run, tests).")
    address_env: str | None = Field(
        None,
        pattern=r"^[A-Z][A-Z0-9_]{0,63}$",
        description="Environment variable holding host:port (the chart sets it from the address the stack knows).",
    )
    key_prefix: str = Field(
        "gpt-oss-gateway:",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,62}:$",
        description="Prefix of every key the gateway writes, so it can share a Redis (the Ray GCS store) safely.",
    )
    sync_interval_s: float = Field(
        0.2, gt=0, le=60, description="How often a pod exchanges its counters; bounds how far limits can overshoot."
    )
    timeout_s: float = Field(0.5, gt=0, le=30, description="One exchange taking longer counts as the store down.")

    @model_validator(mode="after")
    def _one_address(self) -> SharedStoreSettings:
        if (self.address is None) == (self.address_env is None):
            raise ValueError("set exactly one of address and address_env")
        if self.address is not None and not _HOST_PORT.fullmatch(self.address):
            raise ValueError("address must be host:port")
        return self


class GatewaySettings(Strict):
    """Everything the gateway process needs, apart from secrets (named by path)."""

    environment: str = Field(pattern=NAME_RE, description="Environment name, a label on every metric.")
    team: str = Field(min_length=1, max_length=63, description="Team that owns the environment (cost labels).")
    host: str = Field("0.0.0.0", description="Listen address.")
    port: int = Field(GATEWAY_PORT, ge=1, le=65535, description="Listen port (the chart's containerPort).")
    clients_file: str = Field(
        GATEWAY_CLIENTS_FILE,
        description="Client keys (SHA-256 hashes) and their policy; reloaded on change.",
    )
    reload_interval_s: float = Field(10.0, gt=0, le=3600, description="How often secret files are checked for rotation.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Root log level.")
    access_log: bool = Field(True, description="One INFO line per request (no headers, no bodies, no keys).")
    routes: list[RouteSettings] = Field(min_length=1, description="Public model names and their upstreams.")
    upstreams: list[UpstreamSettings] = Field(min_length=1, description="Every upstream a route names.")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Retry budget and replay rule.")
    limits: LimitSettings = Field(default_factory=LimitSettings, description="What one request may ask for.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="Connection limits and timeouts.")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="The /metrics listener and its labels.")
    shared_store: SharedStoreSettings | None = Field(
        None, description="Redis for limits and spend shared across pods; null: every pod counts alone."
    )
    route_override: RouteOverrideSettings | None = Field(
        None, description="The drain switch's ConfigMap (serving/gateway/route_override.py); null: routing is never overridden."
    )

    @model_validator(mode="after")
    def _references(self) -> GatewaySettings:
        problems = []
        if self.metrics.port == self.port:
            problems.append(f"metrics.port: {self.metrics.port} is the client port; /metrics needs a port of its own")
        names = [u.name for u in self.upstreams]
        if len(set(names)) != len(names):
            problems.append(f"upstreams: duplicate names {sorted({n for n in names if names.count(n) > 1})}")
        models = [r.model for r in self.routes]
        if len(set(models)) != len(models):
            problems.append(f"routes: duplicate public models {sorted({m for m in models if models.count(m) > 1})}")
        for i, route in enumerate(self.routes):
            for role in ("primary", "fallback"):
                target = getattr(route, role)
                if target is not None and target not in names:
                    problems.append(f"routes[{i}].{role}: no upstream named {target!r}; upstreams: {', '.join(names)}")
            if route.fallback is not None and route.fallback == route.primary:
                problems.append(f"routes[{i}]: fallback is the primary itself")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def upstream(self, name: str) -> UpstreamSettings:
        return next(u for u in self.upstreams if u.name == name)


class SettingsError(Exception):
    """A settings file the gateway cannot start with: the message names the file, each bad key
    with its value, and the fix. Printed as one message, never as a traceback (__main__.py)."""


def load_settings(path: str | Path) -> GatewaySettings:
    """Read and validate the settings file; a bad file raises SettingsError naming the file and key."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SettingsError(
            f"{path}: no such file. --config names the gateway's settings (JSON); docs/gateway.md "
            "'Settings and running it locally' shows one."
        ) from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    try:
        return GatewaySettings.model_validate(data)
    except ValidationError as error:
        problems = "\n".join(f"  {_key_path(e['loc'])}: {_problem(e)}" for e in error.errors())
        raise SettingsError(f"{path}: {error.error_count()} bad setting(s):\n{problems}") from None


def _key_path(loc: tuple[int | str, ...]) -> str:
    """`upstreams[0].readiness.timeout_s` from pydantic's location tuple (union tags left out)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("token_price", "amortised_fleet"):  # discriminated union tags
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _problem(error: Mapping[str, object]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key: remove it or fix its spelling (every key: serving/gateway/settings.py, docs/gateway.md)"
    if kind == "missing":
        return "required key is missing"
    value = repr(error.get("input"))
    value = value if len(value) <= 80 else value[:77] + "..."
    return f"{error['msg']} (got {value})"
