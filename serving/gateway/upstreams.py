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
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from contracts import UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from serving.gateway.cost import CostModel, cost_model
from serving.gateway.errors import error_body
from serving.gateway.health import ProbeResult, UpstreamHealth
from serving.gateway.routing import FallbackReason, Retryable, Terminal, classify_exception, classify_status
from serving.gateway.settings import UpstreamSettings
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


class UpstreamAdapter(ABC):
    """The dialect of one kind of upstream."""

    served_by: ClassVar[str]
    # Only adapters whose servers run inside the company may receive sovereign requests.
    keeps_data_in_company: ClassVar[bool]

    def __init__(self, settings: UpstreamSettings, api_key: SecretFile | None) -> None:
        self.settings = settings
        self._api_key = api_key
        self._headers: dict[str, str] = {}
        self.refresh_headers()

    def refresh_headers(self) -> None:
        """Rebuild the request headers (after a key rotation); one dict shared by all requests."""
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.value}"
        self._headers = headers

    @property
    def headers(self) -> dict[str, str]:
        return self._headers

    @abstractmethod
    def chat_body(self, request: dict[str, Any], stream: bool) -> bytes:
        """The body to send, from the client's (already validated) request."""

    def probe_body(self) -> bytes:
        return json.dumps({"model": self.settings.model, "messages": PROBE_MESSAGES, "max_tokens": 1}).encode()

    def _encode(self, body: dict[str, Any], stream: bool) -> bytes:
        """The upstream's model name, and usage asked for on streams: the gateway needs it for cost
        and limits, and removes the extra chunk again if the client did not ask (streaming.SseRelay)."""
        body["model"] = self.settings.model
        if stream:
            options = dict(body.get("stream_options") or {})
            options["include_usage"] = True
            body["stream_options"] = options
        return json.dumps(body).encode()


class SelfHostedAdapter(UpstreamAdapter):
    """vLLM behind Ray Serve LLM (or bare vLLM): speaks OpenAI chat completions natively, including
    gpt-oss's `reasoning_effort`, `tools` and `tool_choice`; everything passes through."""

    served_by = UPSTREAM_SELF_HOSTED
    keeps_data_in_company = True

    def chat_body(self, request: dict[str, Any], stream: bool) -> bytes:
        return self._encode(dict(request), stream)


class ManagedOpenAIAdapter(UpstreamAdapter):
    """The OpenAI API (o4-mini / o3-mini class). Unknown fields are 400s there, so only documented
    chat-completions fields are sent; reasoning models also refuse sampling knobs and `max_tokens`."""

    served_by = UPSTREAM_MANAGED
    keeps_data_in_company = False
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

    def chat_body(self, request: dict[str, Any], stream: bool) -> bytes:
        reasoning = self.settings.model.startswith(self.REASONING_PREFIXES)
        body = {}
        for key, value in request.items():
            if key not in self.ALLOWED or (reasoning and key in self.REASONING_UNSUPPORTED):
                continue
            body[key] = value
        if reasoning and "max_tokens" in body:
            max_tokens = body.pop("max_tokens")
            body.setdefault("max_completion_tokens", max_tokens)
        return self._encode(body, stream)

    def probe_body(self) -> bytes:
        return json.dumps(
            {"model": self.settings.model, "messages": PROBE_MESSAGES, "max_completion_tokens": 16}
        ).encode()


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

    response: aiohttp.ClientResponse
    relay: SseRelay
    first: bytes


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
        self.chat_url = f"{settings.base_url}/chat/completions"
        self._session: aiohttp.ClientSession | None = None
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout_s, sock_read=settings.stream_idle_timeout_s
        )

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.settings.max_connections, limit_per_host=0, keepalive_timeout=self.settings.keepalive_s
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout_s),
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, body: bytes, limit: int, now: float) -> Reply | Retryable | Terminal:
        """A non-streaming attempt: the whole answer, or the decision about why there is none."""
        try:
            async with asyncio.timeout(self.settings.response_timeout_s) as deadline:
                key = self.health.track(now, deadline)
                try:
                    async with self._session.post(self.chat_url, data=body, headers=self.adapter.headers) as response:
                        status = response.status
                        data = await _read_bounded(response, limit if status < 400 else ERROR_BODY_LIMIT)
                finally:
                    self.health.untrack(key)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            return classify_exception(error)
        if status >= 400:
            return classify_status(status, data or b"")
        if data is None:
            message = "The upstream's answer exceeds the gateway's response size limit."
            return Terminal(502, error_body(message, "server_error", "response_too_large"), "response too large")
        return Reply(data)

    async def open_stream(self, body: bytes, strip_usage: bool, now: float) -> OpenStream | Retryable | Terminal:
        """A streaming attempt up to its first whole event; nothing has reached the client yet."""
        response = None
        relay = SseRelay(strip_usage)
        try:
            async with asyncio.timeout(self.settings.first_byte_timeout_s) as deadline:
                key = self.health.track(now, deadline)
                try:
                    response = await self._session.post(
                        self.chat_url, data=body, headers=self.adapter.headers, timeout=self._stream_timeout
                    )
                    if response.status >= 400:
                        data = await _read_bounded(response, ERROR_BODY_LIMIT)
                        response.release()
                        return classify_status(response.status, data or b"")
                    first = b""
                    while not first:
                        chunk = await response.content.readany()
                        if not chunk:
                            response.close()
                            return Retryable(
                                FallbackReason.CONNECTION_RESET, True, "stream closed before its first event"
                            )
                        first = relay.feed(chunk)
                finally:
                    self.health.untrack(key)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
            if response is not None:
                response.close()
            return classify_exception(error)
        if relay.error_event:
            response.close()
            return Retryable(FallbackReason.STREAM_ERROR_EVENT, True, "stream opened with an error event")
        return OpenStream(response, relay, first)

    async def probe(self) -> ProbeResult:
        readiness = self.settings.readiness
        try:
            async with asyncio.timeout(readiness.timeout_s):
                if readiness.probe == "models":
                    request = self._session.get(f"{self.settings.base_url}/models", headers=self.adapter.headers)
                else:
                    request = self._session.post(
                        self.chat_url, data=self.adapter.probe_body(), headers=self.adapter.headers
                    )
                async with request as response:
                    await response.read()
                    status = response.status
        except TimeoutError:
            return ProbeResult.HUNG
        except (aiohttp.ClientError, OSError):
            return ProbeResult.FAILED
        if status == 200:
            return ProbeResult.OK
        return ProbeResult.BUSY if status in (429, 503) else ProbeResult.FAILED


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` bytes."""
    length = response.content_length
    if length is not None:
        return None if length > limit else await response.read()
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
