"""Upstreams: one small adapter per kind of OpenAI-compatible server, a registry, and the pooled
HTTP client that sends to it.

An adapter only knows its upstream's dialect: how to rewrite a client's request body, which
headers to send, how to probe it. Everything else (timeouts, classification, health, cost) is
common and lives in `Upstream`. To add a kind of upstream, write an adapter and register it in
`ADAPTERS`; the settings' `adapter` field picks it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from contracts import UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from serving.gateway.cost import CostModel, cost_model
from serving.gateway.endpoints import Endpoint
from serving.gateway.errors import error_body
from serving.gateway.health import ProbeResult, UpstreamHealth
from serving.gateway.http_client import ConnectionPool, Response, UpstreamProtocolError
from serving.gateway.routing import FallbackReason, Retryable, Terminal, classify_status
from serving.gateway.settings import GatewaySettings, UpstreamSettings
from serving.gateway.streaming import SseRelay

log = logging.getLogger("serving.gateway.upstreams")

ERROR_BODY_LIMIT = 64 * 1024
PROBE_MESSAGES = [{"role": "user", "content": "Reply with one word."}]


class SecretFile:
    """A secret mounted from a Kubernetes Secret; re-read when the kubelet swaps it."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self.value = ""
        self.reload()

    def reload(self) -> bool:
        stat = self._path.stat()
        stamp = (stat.st_ino, stat.st_mtime_ns)
        if stamp == self._stamp:
            return False
        self.value = self._path.read_text().strip()
        self._stamp = stamp
        return True


def api_key_problems(settings: GatewaySettings) -> list[str]:
    """Why the upstreams' key files cannot be used, one line per upstream (empty: all fine). A
    managed upstream with an empty key would fail every fallback with 401 while the gateway looks
    healthy, so an empty file is refused at start-up, not discovered at the first fallback."""
    problems = []
    for i, upstream in enumerate(settings.upstreams):
        if not upstream.api_key_file:
            continue
        where = f"upstreams[{i}].api_key_file ({upstream.name})"
        try:
            key = Path(upstream.api_key_file).read_text().strip()
        except FileNotFoundError:
            problems.append(f"{where}: {upstream.api_key_file} does not exist; write the upstream's API key into it")
            continue
        except OSError as error:
            problems.append(f"{where}: {upstream.api_key_file} cannot be read ({error.strerror or type(error).__name__})")
            continue
        if not key and not ADAPTERS[upstream.adapter].keeps_data_in_company:
            problems.append(
                f"{where}: {upstream.api_key_file} is empty; write the managed API's key into it, or remove the "
                f"upstream and the routes' fallback to run without a managed API"
            )
    return problems


class UpstreamAdapter(ABC):
    """The dialect of one kind of upstream."""

    served_by: ClassVar[str]
    # Only adapters whose servers run inside the company may receive sovereign requests.
    keeps_data_in_company: ClassVar[bool]

    # Endpoints served when the settings do not say (`UpstreamSettings.endpoints`).
    default_endpoints: ClassVar[frozenset[Endpoint]]

    def __init__(self, settings: UpstreamSettings, api_key: SecretFile | None) -> None:
        self.settings = settings
        self._api_key = api_key
        self.endpoints = (
            frozenset(Endpoint(e) for e in settings.endpoints) if settings.endpoints is not None else self.default_endpoints
        )
        self.header_block = b""
        self.refresh_headers()

    def refresh_headers(self) -> None:
        """Rebuild the request headers (after a key rotation): one byte string shared by all requests."""
        block = b"content-type: application/json\r\naccept-encoding: identity\r\n"
        if self._api_key is not None:
            block += b"authorization: Bearer " + self._api_key.value.encode() + b"\r\n"
        self.header_block = block

    @property
    def headers(self) -> dict[str, str]:
        """The headers every request carries, by name (for tests and logs of their names only)."""
        lines = self.header_block.decode().strip().split("\r\n")
        return {name.title(): value for name, _, value in (line.partition(": ") for line in lines)}

    def supports(self, endpoint: Endpoint, request: dict[str, Any]) -> bool:
        """Whether this upstream can serve this very request (the endpoint, and what it asks for)."""
        return endpoint in self.endpoints

    @abstractmethod
    def body(self, endpoint: Endpoint, request: dict[str, Any], stream: bool, raw: bytes = b"") -> bytes:
        """The body to send, from the client's (already validated) request `request`, parsed from
        the bytes `raw`."""

    def chat_body(self, request: dict[str, Any], stream: bool) -> bytes:
        return self.body(Endpoint.CHAT, request, stream)

    def probe_body(self) -> bytes:
        return json.dumps({"model": self.settings.model, "messages": PROBE_MESSAGES, "max_tokens": 1}).encode()

    def _encode(self, body: dict[str, Any], endpoint: Endpoint, stream: bool) -> bytes:
        """The upstream's model name, and usage asked for on chat and completions streams: the
        gateway needs it for cost and limits, and removes the extra chunk again if the client did
        not ask (streaming.SseRelay). Responses streams always end with their usage."""
        body["model"] = self.settings.model
        if stream and endpoint is not Endpoint.RESPONSES:
            options = dict(body.get("stream_options") or {})
            options["include_usage"] = True
            body["stream_options"] = options
        return json.dumps(body, allow_nan=False).encode()


class SelfHostedAdapter(UpstreamAdapter):
    """vLLM behind Ray Serve LLM (or bare vLLM): speaks OpenAI chat completions natively, including
    gpt-oss's `reasoning_effort`, `tools` and `tool_choice`; everything passes through."""

    served_by = UPSTREAM_SELF_HOSTED
    keeps_data_in_company = True
    # Ray Serve LLM's OpenAI ingress (ray 2.58, ray/llm/_internal/serve/core/ingress/ingress.py
    # DEFAULT_ENDPOINTS) serves chat and completions, not /v1/responses; bare vLLM serves all three
    # (set `endpoints` in the settings for such an upstream).
    default_endpoints = frozenset({Endpoint.CHAT, Endpoint.COMPLETIONS})

    def body(self, endpoint: Endpoint, request: dict[str, Any], stream: bool, raw: bytes = b"") -> bytes:
        # Nothing to change (the upstream's model name is the public one, and a stream already asks
        # for usage): the client's own bytes go on, without a JSON encode (the body was validated,
        # so it holds nothing non-finite).
        if raw and request.get("model") == self.settings.model:
            if not stream or endpoint is Endpoint.RESPONSES:
                return raw
            options = request.get("stream_options")
            if isinstance(options, dict) and options.get("include_usage") is True:
                return raw
        return self._encode(dict(request), endpoint, stream)


class ManagedOpenAIAdapter(UpstreamAdapter):
    """The OpenAI API (o4-mini / o3-mini class). Unknown fields are 400s there, so only documented
    chat-completions fields are sent; reasoning models also refuse sampling knobs and `max_tokens`."""

    served_by = UPSTREAM_MANAGED
    keeps_data_in_company = False
    # o-series and gpt-5 models are chat and Responses models; /v1/completions serves only
    # gpt-3.5-turbo-instruct and the base models (https://platform.openai.com/docs/models).
    default_endpoints = frozenset({Endpoint.CHAT, Endpoint.RESPONSES})
    ALLOWED = frozenset(
        {
            "messages",
            "model",
            "audio",
            "frequency_penalty",
            "function_call",
            "functions",
            "logit_bias",
            "logprobs",
            "max_completion_tokens",
            "max_tokens",
            "metadata",
            "modalities",
            "n",
            "parallel_tool_calls",
            "prediction",
            "presence_penalty",
            "prompt_cache_key",
            "reasoning_effort",
            "response_format",
            "safety_identifier",
            "seed",
            "service_tier",
            "stop",
            "store",
            "stream",
            "stream_options",
            "temperature",
            "tool_choice",
            "tools",
            "top_logprobs",
            "top_p",
            "user",
            "verbosity",
            "web_search_options",
        }
    )
    # https://platform.openai.com/docs/guides/reasoning: not supported by reasoning models.
    REASONING_UNSUPPORTED = frozenset(
        {
            "temperature",
            "top_p",
            "presence_penalty",
            "frequency_penalty",
            "logprobs",
            "top_logprobs",
            "logit_bias",
        }
    )
    REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
    # The Responses API's documented request fields
    # (https://platform.openai.com/docs/api-reference/responses/create).
    RESPONSES_ALLOWED = frozenset(
        {
            "model",
            "input",
            "instructions",
            "max_output_tokens",
            "max_tool_calls",
            "metadata",
            "parallel_tool_calls",
            "prompt_cache_key",
            "reasoning",
            "safety_identifier",
            "service_tier",
            "store",
            "stream",
            "stream_options",
            "temperature",
            "text",
            "tool_choice",
            "tools",
            "top_logprobs",
            "top_p",
            "truncation",
            "user",
            "include",
        }
    )
    # A Responses request goes to the managed API only when it stands alone: state kept by the
    # server that answered earlier (previous_response_id, conversation, background jobs) lives on
    # the self-hosted model, and hosted tools behave differently there.
    RESPONSES_STATEFUL = ("previous_response_id", "conversation", "background", "prompt")

    def supports(self, endpoint: Endpoint, request: dict[str, Any]) -> bool:
        if endpoint not in self.endpoints:
            return False
        if endpoint is Endpoint.RESPONSES:
            if any(request.get(key) for key in self.RESPONSES_STATEFUL):
                return False
            tools = request.get("tools") or ()
            return all(isinstance(t, dict) and t.get("type") == "function" for t in tools)
        return True

    def body(self, endpoint: Endpoint, request: dict[str, Any], stream: bool, raw: bytes = b"") -> bytes:
        reasoning = self.settings.model.startswith(self.REASONING_PREFIXES)
        allowed = self.RESPONSES_ALLOWED if endpoint is Endpoint.RESPONSES else self.ALLOWED
        body = {}
        for key, value in request.items():
            if key not in allowed or (reasoning and key in self.REASONING_UNSUPPORTED):
                continue
            body[key] = value
        if reasoning and "max_tokens" in body:
            max_tokens = body.pop("max_tokens")
            body.setdefault("max_completion_tokens", max_tokens)
        return self._encode(body, endpoint, stream)

    def probe_body(self) -> bytes:
        return json.dumps({"model": self.settings.model, "messages": PROBE_MESSAGES, "max_completion_tokens": 16}).encode()


ADAPTERS: dict[str, type[UpstreamAdapter]] = {
    "self_hosted": SelfHostedAdapter,
    "managed_openai": ManagedOpenAIAdapter,
}


@dataclass(slots=True)
class Reply:
    """A complete non-streaming answer."""

    body: bytes


@dataclass(slots=True)
class OpenStream:
    """A stream whose first event arrived: safe to commit to the client."""

    response: Response
    relay: SseRelay
    first: bytes


@dataclass(frozen=True, slots=True)
class EngineLoad:
    """What the engine's own metrics say (vLLM /metrics)."""

    running: float
    waiting: float
    generated_tokens: float


# vLLM's metric names (https://docs.vllm.ai/en/stable/usage/metrics/); Ray Serve LLM exports the
# same series with a `ray_` prefix. Summed over every series (model, engine) of the endpoint.
_ENGINE_SERIES = re.compile(
    rb"^(?:ray_)?vllm:(num_requests_running|num_requests_waiting|generation_tokens_total)(?:\{[^}]*\})? "
    rb"([0-9.eE+-]+|NaN)",
    re.MULTILINE,
)


def parse_engine_metrics(text: bytes) -> EngineLoad | None:
    """Running and waiting requests and generated tokens, or None when the page has none of them."""
    totals = {b"num_requests_running": 0.0, b"num_requests_waiting": 0.0, b"generation_tokens_total": 0.0}
    found = False
    for name, value in _ENGINE_SERIES.findall(text):
        try:
            totals[name] += float(value)
        except ValueError:
            continue
        found = True
    if not found:
        return None
    return EngineLoad(totals[b"num_requests_running"], totals[b"num_requests_waiting"], totals[b"generation_tokens_total"])


class Upstream:
    """One upstream: its adapter, connection pool, health and price."""

    def __init__(self, settings: UpstreamSettings, adapter: UpstreamAdapter, health: UpstreamHealth, now: float):
        self.settings = settings
        self.name = settings.name
        self.adapter = adapter
        self.health = health
        self.cost: CostModel = cost_model(settings.cost, now)
        self.served_by = adapter.served_by
        self.model = settings.model
        self.pool = ConnectionPool(settings.base_url, settings.max_connections, settings.keepalive_s, settings.connect_timeout_s)
        health.progress_source = self.pool
        base = self.pool.base_path
        self._heads = {
            endpoint: b"POST " + base + endpoint.upstream_path + b" HTTP/1.1\r\n" + self.pool.host_header for endpoint in Endpoint
        }
        self._models_head = b"GET " + base + b"/models HTTP/1.1\r\n" + self.pool.host_header
        self._metrics_head: bytes | None = None
        self._metrics_pool: ConnectionPool | None = None
        if settings.readiness.engine_metrics_url:
            self._metrics_pool = ConnectionPool(settings.readiness.engine_metrics_url, 1, 30.0, settings.connect_timeout_s)
            path = self._metrics_pool.base_path or b"/"
            self._metrics_head = b"GET " + path + b" HTTP/1.1\r\n" + self._metrics_pool.host_header

    async def start(self) -> None:
        """Nothing to open ahead: connections are made on first use and kept alive."""

    async def close(self) -> None:
        self.pool.close()
        if self._metrics_pool is not None:
            self._metrics_pool.close()

    def _head(self, endpoint: Endpoint) -> bytes:
        return self._heads[endpoint] + self.adapter.header_block

    async def fetch(self, endpoint: Endpoint, body: bytes, limit: int, now: float) -> Reply | Retryable | Terminal:
        """A non-streaming attempt: the whole answer, or the decision about why there is none.
        A cancelled caller (the client went away) closes the upstream request at once."""
        cut = False
        try:
            async with asyncio.timeout(self.settings.response_timeout_s) as deadline:
                key = self.health.track(now, deadline)
                try:
                    response = await self.pool.request(self._head(endpoint), body)
                    try:
                        status = response.status
                        data = await response.read(limit if status < 400 else ERROR_BODY_LIMIT)
                    except BaseException:
                        response.close()
                        raise
                    response.release()
                finally:
                    cut = self.health.untrack(key)
        except (OSError, TimeoutError, UpstreamProtocolError) as error:
            return self.health.classify_failure(error, now, stream=False, cut=cut)
        if status >= 400:
            return classify_status(status, data or b"")
        if data is None:
            message = "The upstream's answer exceeds the gateway's response size limit."
            return Terminal(502, error_body(message, "server_error", "response_too_large"), "response too large")
        return Reply(data)

    async def open_stream(
        self, endpoint: Endpoint, body: bytes, strip_usage: bool, now: float
    ) -> OpenStream | Retryable | Terminal:
        """A streaming attempt up to its first whole event; nothing has reached the client yet."""
        response = None
        cut = False
        relay = SseRelay(strip_usage, endpoint.dialect)
        try:
            async with asyncio.timeout(self.settings.first_byte_timeout_s) as deadline:
                key = self.health.track(now, deadline)
                try:
                    response = await self.pool.request(self._head(endpoint), body)
                    if response.status >= 400:
                        data = await response.read(ERROR_BODY_LIMIT)
                        response.release()
                        return classify_status(response.status, data or b"")
                    first = b""
                    idle = self.settings.stream_idle_timeout_s
                    while not first:
                        chunk = await response.next_chunk(idle)
                        if not chunk:
                            response.close()
                            return Retryable(FallbackReason.CONNECTION_RESET, True, "stream closed before its first event")
                        first = relay.feed(chunk)
                finally:
                    cut = self.health.untrack(key)
        except BaseException as error:
            if response is not None:
                response.close()
            if isinstance(error, (OSError, TimeoutError, ValueError)):
                return self.health.classify_failure(error, now, stream=True, cut=cut)
            raise
        # pyright cannot tell through the nested try blocks that the response is set here: the
        # except clause always returns or raises.
        assert response is not None, "the try block assigned the response or the except clause left"
        if relay.error_event:
            response.close()
            return Retryable(FallbackReason.STREAM_ERROR_EVENT, True, "stream opened with an error event")
        return OpenStream(response, relay, first)

    async def probe(self, timeout_s: float | None = None) -> ProbeResult:
        """One readiness probe; `timeout_s` overrides the probe's own timeout (the wake request)."""
        readiness = self.settings.readiness
        try:
            async with asyncio.timeout(readiness.timeout_s if timeout_s is None else timeout_s):
                if readiness.probe == "models":
                    response = await self.pool.request(self._models_head + self.adapter.header_block, b"")
                else:
                    response = await self.pool.request(self._head(Endpoint.CHAT), self.adapter.probe_body())
                try:
                    await response.read(ERROR_BODY_LIMIT)
                except BaseException:
                    response.close()
                    raise
                response.release()
                status = response.status
        except TimeoutError:
            return ProbeResult.HUNG
        except (OSError, UpstreamProtocolError):
            return ProbeResult.FAILED
        if status == 200:
            return ProbeResult.OK
        return ProbeResult.BUSY if status in (429, 503) else ProbeResult.FAILED

    async def engine_load(self) -> EngineLoad | None:
        """The engine's own counters (readiness.engine_metrics_url), or None when not set or unreadable."""
        if self._metrics_pool is None or self._metrics_head is None:  # set together in __init__
            return None
        try:
            async with asyncio.timeout(self.settings.readiness.timeout_s):
                response = await self._metrics_pool.request(self._metrics_head, b"")
                try:
                    text = await response.read(4 * 1024 * 1024)
                except BaseException:
                    response.close()
                    raise
                response.release()
        except (OSError, TimeoutError, UpstreamProtocolError):
            return None
        if response.status != 200 or text is None:
            return None
        return parse_engine_metrics(text)
