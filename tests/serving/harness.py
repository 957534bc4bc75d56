"""Helpers for the gateway tests: test settings, secrets, and a gateway running in a thread.

Timeouts in the test settings are short (fractions of a second) so that the whole fault suite
runs in well under two minutes. The fixtures that use these live in conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvloop

from serving.gateway.__main__ import run
from serving.gateway.app import Gateway
from serving.gateway.auth import hash_key
from serving.gateway.settings import GatewaySettings
from support.ports import free_port

PUBLIC_MODEL = "gpt-oss-120b"
MANAGED_MODEL = "o4-mini"
# Secrets used throughout; the secret-hygiene test greps every captured byte for each of them.
KEYS = {
    "app": "sk-gw-app-4f1c9d2e7b8a6350",
    "sovereign": "sk-gw-sovereign-a9e8d7c6b5a49382",
    "limited": "sk-gw-limited-0b1c2d3e4f5a6978",
    "tokens": "sk-gw-tokens-77aa88bb99cc00dd",
    "narrow": "sk-gw-narrow-5d4c3b2a19087f6e",
    "capped": "sk-gw-capped-0a1b2c3d4e5f6789",
    "team-a": "sk-gw-team-a-1122334455667788",
    "team-b": "sk-gw-team-b-8877665544332211",
}
# A monthly cap far below the cost of one request: the first request crosses it, the next is refused.
TINY_CAP_USD = 1e-9
MANAGED_API_KEY = "sk-managed-upstream-5e6f7a8b9c0d1e2f"
# Readiness that falls at the first failed probe (the start-up probe), for tests that begin unready.
ONE_FAILED_PROBE_UNREADIES = {"probe": "generation", "interval_s": 30, "timeout_s": 0.6, "failures_to_unready": 1}


def write_secrets(directory: Path) -> tuple[Path, Path]:
    clients = {
        "clients": [
            {"name": "app", "team": "search", "key_sha256": hash_key(KEYS["app"])},
            {"name": "vault", "team": "legal", "key_sha256": hash_key(KEYS["sovereign"]), "sovereign": True},
            {"name": "limited", "team": "search", "key_sha256": hash_key(KEYS["limited"]), "rpm": 3},
            {"name": "tokens", "team": "search", "key_sha256": hash_key(KEYS["tokens"]), "tpm": 600},
            {"name": "narrow", "team": "search", "key_sha256": hash_key(KEYS["narrow"]), "models": ["gpt-oss-20b"]},
            {"name": "capped", "team": "search", "key_sha256": hash_key(KEYS["capped"]), "monthly_usd_cap": TINY_CAP_USD},
            {"name": "team-a", "team": "frugal", "key_sha256": hash_key(KEYS["team-a"])},
            {"name": "team-b", "team": "frugal", "key_sha256": hash_key(KEYS["team-b"])},
        ],
        "teams": {"frugal": {"monthly_usd_cap": TINY_CAP_USD}},
    }
    clients_file = directory / "clients.json"
    clients_file.write_text(json.dumps(clients))
    key_file = directory / "managed-api-key"
    key_file.write_text(MANAGED_API_KEY + "\n")
    return clients_file, key_file


def settings_for_test(primary_url: str, managed_url: str, clients_file: Path, key_file: Path, **overrides: Any) -> dict:
    """Gateway settings for the tests: the production shape, with sub-second timeouts.

    `overrides` are merged one level deep: {"primary": {...}} updates the primary upstream,
    {"managed": {...}} the managed one, anything else the top level.
    """
    primary = {
        "name": "self-hosted",
        "adapter": "self_hosted",
        "base_url": primary_url,
        "model": PUBLIC_MODEL,
        "connect_timeout_s": 0.5,
        "first_byte_timeout_s": 0.6,
        "response_timeout_s": 1.5,
        "stream_idle_timeout_s": 0.6,
        "max_in_flight": 64,
        "circuit": {"failure_threshold": 3, "open_s": 0.6, "window_s": 5, "min_requests": 20, "failure_ratio": 0.5},
        # A long interval: the probe runs at start-up and when woken; tests of recovery shorten it.
        "readiness": {"probe": "generation", "interval_s": 30, "timeout_s": 0.6},
        "cost": {"kind": "amortised_fleet", "fleet_usd_per_hour": 6.88, "gateway_pods": 2},
    }
    managed = {
        "name": "managed",
        "adapter": "managed_openai",
        "base_url": managed_url,
        "model": MANAGED_MODEL,
        "api_key_file": str(key_file),
        "first_byte_timeout_s": 3,
        "response_timeout_s": 3,
        "stream_idle_timeout_s": 3,
        "readiness": {"probe": "none"},
        "cost": {"kind": "token_price", "input_usd_per_mtok": 1.10, "output_usd_per_mtok": 4.40},
    }
    primary.update(overrides.pop("primary", {}))
    managed.update(overrides.pop("managed", {}))
    settings = {
        "environment": "test",
        "team": "ml-platform",
        "host": "127.0.0.1",
        "port": free_port(),
        "clients_file": str(clients_file),
        "reload_interval_s": 0.2,
        "log_level": "DEBUG",
        "routes": [{"model": PUBLIC_MODEL, "primary": "self-hosted", "fallback": "managed"}],
        "upstreams": [primary, managed],
        # Key names in labels: the tests below assert per-key series (the default is off).
        "metrics": {"port": free_port(), "client_labels": True},
    }
    settings.update(overrides)
    return settings


class RunningGateway:
    """A gateway served by its own server (serving/gateway/__main__.run) on a uvloop in a background
    thread, with an httpx client bound to it."""

    def __init__(self, settings: dict, graceful_shutdown_s: float | None = None) -> None:
        if graceful_shutdown_s is not None:
            settings = {**settings, "server": {**settings.get("server", {}), "graceful_shutdown_s": graceful_shutdown_s}}
        self.settings = GatewaySettings.model_validate(settings)
        self.app = Gateway(self.settings)
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)
        self.base_url = f"http://127.0.0.1:{self.settings.port}"
        self.http = httpx.Client(base_url=self.base_url, timeout=10)
        # /metrics has a port of its own (serving/gateway/metrics_http.py).
        self.metrics_http = httpx.Client(base_url=f"http://127.0.0.1:{self.settings.metrics.port}", timeout=10)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await run(self.app, "127.0.0.1", self.settings.port, self._stop, self._started.set)

        try:
            uvloop.run(main())
        except BaseException as error:  # reported by start()
            self._error = error

    def start(self) -> RunningGateway:
        self._thread.start()
        if not self._started.wait(10) or self._error is not None:
            raise RuntimeError(f"gateway did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        self.http.close()
        self.metrics_http.close()
        self.begin_shutdown()
        self._thread.join(40)

    def begin_shutdown(self) -> None:
        """What SIGTERM does: stop accepting, let in-flight requests finish within the grace time."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)

    def chat(self, key: str = "app", stream: bool = False, headers: dict | None = None, **body: Any) -> httpx.Response:
        payload = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "Say hello."}], **body}
        if stream:
            payload["stream"] = True
        return self.http.post(
            "/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {KEYS[key]}", **(headers or {})}
        )

    def upstream(self, name: str):
        return self.app.upstreams[name]

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (0 when absent)."""
        text = self.metrics_http.get("/metrics").text
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def sse_data(text: str) -> list[str]:
    """The `data:` payloads of a raw event stream, in order (comments skipped)."""
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def stream_content(text: str) -> str:
    """The assistant text a raw event stream spells out, delta by delta."""
    pieces = []
    for payload in sse_data(text):
        if payload.startswith("{"):
            pieces.extend(choice.get("delta", {}).get("content") or "" for choice in json.loads(payload).get("choices") or [])
    return "".join(pieces)
