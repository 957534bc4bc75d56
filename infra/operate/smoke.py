"""The post-deploy smoke test: prove through the gateway's public API that the model answers.

Checks, in order (each one request unless said otherwise):
- `warm`: requests until the self-hosted model answers (a pool that scales to zero is woken; the
  gateway serves the managed API meanwhile), bounded by `warm_timeout_s`;
- `chat`, `stream` (time to first token and tokens/s), `tool_call` (a function call with JSON
  arguments), `reasoning_effort` (accepted and answered), `harmony` (gpt-oss's answer is parsed out
  of the harmony format: no control tokens or channel names leak into `content`, the reasoning is
  in its own field, and the final answer is right);
- each answer is served by the self-hosted model (`x-gateway-served-by`) when the environment is
  healthy, which is what a post-deploy test must prove;
- `drain`, where the environment allows fallback and a cluster client is given: the drain switch
  moves traffic to the managed API and back (the time each switch took is in the detail).

The result is a smoke record (docs/environments.md "Smoke records"). It never holds the key,
a prompt or a completion: details are status codes, counts and timings.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts import HEADER_SERVED_BY, ROUTE_AUTO, UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from infra.environments.pins import ReleasePins
from infra.environments.records import SmokeCheck, SmokeRecord

# Harmony's special tokens (openai/harmony, "The harmony response format"): a served answer whose
# content holds any of them, or the channel names glued to text, was not parsed by the server.
HARMONY_TOKENS = ("<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>", "<|call|>")
HARMONY_LEAK = re.compile(r"^\s*(analysis|commentary|final)\b|assistantfinal|<\|[a-z_]+\|>", re.IGNORECASE)
ARITHMETIC_PROMPT = "What is 17 * 23? Think it through, then answer with the number only."
ARITHMETIC_ANSWER = "391"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@dataclass
class Check:
    """One check's result, in the smoke record's shape."""

    name: str
    passed: bool
    detail: str = ""
    served_by: str | None = None
    duration_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class DrainHooks:
    """How the smoke test flips the drain switch (infra/operate/drain.py with a cluster client)."""

    read_route: Callable[[], str]
    set_route: Callable[[str, str], object]  # what it returns is ignored


@dataclass
class SmokeOptions:
    url: str
    key: str
    model: str
    expect_self_hosted: bool = True
    warm_timeout_s: float = 120.0
    switch_timeout_s: float = 30.0
    request_timeout_s: float = 120.0
    drain: DrainHooks | None = None
    poll_s: float = 0.5
    clock: Callable[[], float] = field(default=time.monotonic)


class SmokeTest:
    def __init__(self, options: SmokeOptions) -> None:
        import httpx

        self.o = options
        base = options.url.rstrip("/")
        self._http = httpx.Client(
            base_url=base if base.endswith("/v1") else base + "/v1",
            headers={"Authorization": f"Bearer {options.key}"},
            timeout=options.request_timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def run(self) -> list[Check]:
        checks = [self.warm()]
        if not checks[0].passed:
            return checks
        checks += [self.chat(), self.stream(), self.tool_call(), self.reasoning_effort(), self.harmony()]
        if self.o.drain is not None:
            checks.append(self.drain())
        return checks

    # -- requests ---------------------------------------------------------------------------------

    def _post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None, float]:
        import httpx

        started = self.o.clock()
        try:
            response = self._http.post("/chat/completions", json={"model": self.o.model, **body})
        except httpx.HTTPError as error:
            return 0, {"error": type(error).__name__}, None, (self.o.clock() - started) * 1000
        elapsed = (self.o.clock() - started) * 1000
        try:
            data = response.json()
        except ValueError:
            data = {}
        return response.status_code, data if isinstance(data, dict) else {}, response.headers.get(HEADER_SERVED_BY), elapsed

    def _served(self, name: str, served_by: str | None) -> str | None:
        """Why `served_by` fails the check, or None."""
        if self.o.expect_self_hosted and served_by != UPSTREAM_SELF_HOSTED:
            return f"served by {served_by or 'nobody'}, expected {UPSTREAM_SELF_HOSTED}"
        return None

    def _simple(self, name: str, body: dict[str, Any], judge: Callable[[dict[str, Any]], str | None]) -> Check:
        status, data, served_by, ms = self._post(body)
        if status != 200:
            return Check(name, False, f"HTTP {status} {_error_code(data)}", served_by, ms)
        problem = judge(data) or self._served(name, served_by)
        usage = data.get("usage") or {}
        detail = problem or f"200, {usage.get('completion_tokens', '?')} completion tokens"
        return Check(name, problem is None, detail, served_by, ms)

    def warm(self) -> Check:
        """Until the self-hosted model serves (or the managed API, when that is not expected)."""
        started = self.o.clock()
        deadline = started + self.o.warm_timeout_s
        attempts, last = 0, "no answer"
        while True:
            attempts += 1
            status, data, served_by, _ = self._post({"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 16})
            if status == 200 and (served_by == UPSTREAM_SELF_HOSTED or not self.o.expect_self_hosted):
                ms = (self.o.clock() - started) * 1000
                return Check("warm", True, f"{attempts} request(s)", served_by, ms)
            last = f"HTTP {status} {_error_code(data)} served by {served_by or 'nobody'}"
            if self.o.clock() >= deadline:
                return Check(
                    "warm",
                    False,
                    f"not served by {UPSTREAM_SELF_HOSTED} within {self.o.warm_timeout_s:.0f} s "
                    f"({attempts} requests; last: {last})",
                    served_by,
                    (self.o.clock() - started) * 1000,
                )
            time.sleep(self.o.poll_s)

    def chat(self) -> Check:
        return self._simple(
            "chat",
            {"messages": [{"role": "user", "content": "Reply with a short greeting."}], "max_tokens": 256},
            lambda d: None if _content(d) else "empty answer",
        )

    def reasoning_effort(self) -> Check:
        return self._simple(
            "reasoning_effort",
            {"messages": [{"role": "user", "content": "Name one prime number."}], "reasoning_effort": "low", "max_tokens": 256},
            lambda d: None if _content(d) else "empty answer",
        )

    def tool_call(self) -> Check:
        def judge(data: dict[str, Any]) -> str | None:
            calls = (_message(data).get("tool_calls")) or []
            if not calls:
                return "no tool call in the answer"
            function = calls[0].get("function") or {}
            if function.get("name") != "get_weather":
                return f"called {function.get('name')!r}, not get_weather"
            try:
                json.loads(function.get("arguments") or "")
            except ValueError:
                return "the tool call's arguments are not JSON"
            return None

        return self._simple(
            "tool_call",
            {
                "messages": [{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
                "tools": [TOOL],
                "tool_choice": "auto",
                "max_tokens": 512,
            },
            judge,
        )

    def harmony(self) -> Check:
        def judge(data: dict[str, Any]) -> str | None:
            message = _message(data)
            content = message.get("content") or ""
            leaked = [t for t in HARMONY_TOKENS if t in content]
            if leaked or HARMONY_LEAK.search(content):
                return f"harmony markup in the answer's content ({', '.join(leaked) or 'a channel name'}): the server did not parse it"
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            # Only gpt-oss (the self-hosted model) returns its reasoning; a managed o-series model hides it.
            if self.o.expect_self_hosted and not reasoning:
                return "no reasoning field (reasoning_content / reasoning): the analysis channel was lost or merged"
            if ARITHMETIC_ANSWER not in content:
                return f"the final answer does not contain {ARITHMETIC_ANSWER}"
            return None

        return self._simple("harmony", {"messages": [{"role": "user", "content": ARITHMETIC_PROMPT}], "max_tokens": 1024}, judge)

    def stream(self) -> Check:
        import httpx

        body = {
            "model": self.o.model,
            "messages": [{"role": "user", "content": "Count from one to ten in words."}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 512,
        }
        started = self.o.clock()
        first = last = None
        deltas, usage, served_by, status = 0, None, None, 0
        try:
            with self._http.stream("POST", "/chat/completions", json=body) as response:
                status, served_by = response.status_code, response.headers.get(HEADER_SERVED_BY)
                if status != 200:
                    response.read()
                    return Check("stream", False, f"HTTP {status}", served_by, (self.o.clock() - started) * 1000)
                for line in response.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    event = json.loads(line[6:])
                    if "error" in event:
                        return Check("stream", False, "error event in the stream", served_by, (self.o.clock() - started) * 1000)
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        if delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning"):
                            now = self.o.clock()
                            first = first if first is not None else now
                            last = now
                            deltas += 1
        except (httpx.HTTPError, ValueError) as error:
            return Check("stream", False, f"stream broke: {type(error).__name__}", served_by, (self.o.clock() - started) * 1000)
        total_ms = (self.o.clock() - started) * 1000
        if first is None:
            return Check("stream", False, "no token in the stream", served_by, total_ms)
        tokens = (usage or {}).get("completion_tokens") or deltas
        span = (last - first) if last is not None and last > first else None
        rate = tokens / span if span else None
        problem = self._served("stream", served_by)
        detail = problem or f"200, {tokens} completion tokens" + ("" if usage else " (counted deltas: no usage event)")
        return Check("stream", problem is None, detail, served_by, total_ms, (first - started) * 1000, rate)

    def drain(self) -> Check:
        """Drain to managed, see the traffic move, put the previous route back, see it return."""
        hooks = self.o.drain
        assert hooks is not None, "run() checks drain only when hooks are given"
        started = self.o.clock()
        previous = hooks.read_route()
        if previous != ROUTE_AUTO:
            return Check("drain", False, f"an override is in force (route {previous}); the smoke test leaves it alone")
        hooks.set_route(UPSTREAM_MANAGED, "smoke test: drain to managed and back")
        try:
            to_managed = self._until_served_by(UPSTREAM_MANAGED)
        finally:
            hooks.set_route(previous, "smoke test: drain check done, back to automatic routing")
        back = self._until_served_by(UPSTREAM_SELF_HOSTED)
        ms = (self.o.clock() - started) * 1000
        if to_managed is None:
            return Check(
                "drain", False, f"traffic did not move to {UPSTREAM_MANAGED} within {self.o.switch_timeout_s:.0f} s", None, ms
            )
        if back is None:
            return Check(
                "drain",
                False,
                f"traffic did not return to {UPSTREAM_SELF_HOSTED} within {self.o.switch_timeout_s:.0f} s",
                UPSTREAM_MANAGED,
                ms,
            )
        return Check("drain", True, f"moved to managed in {to_managed:.1f} s and back in {back:.1f} s", UPSTREAM_SELF_HOSTED, ms)

    def _until_served_by(self, upstream: str) -> float | None:
        started = self.o.clock()
        while self.o.clock() - started < self.o.switch_timeout_s:
            status, _, served_by, _ = self._post({"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 16})
            if status == 200 and served_by == upstream:
                return self.o.clock() - started
            time.sleep(self.o.poll_s)
        return None


def _message(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices") or [{}]
    return choices[0].get("message") or {}


def _content(data: dict[str, Any]) -> str:
    return str(_message(data).get("content") or "").strip()


def _error_code(data: dict[str, Any]) -> str:
    error = data.get("error")
    return str(error.get("code") or error.get("type") or "") if isinstance(error, dict) else ""


# -- the record (docs/environments.md "Smoke records") --------------------------------------------------


def smoke_record(
    environment: str, pins: ReleasePins, url: str, started: datetime, finished: datetime, checks: list[Check]
) -> SmokeRecord:
    """The record promotion reads (infra/environments/records.py; docs/environments.md "Smoke records")."""
    return SmokeRecord(
        environment=environment,
        release=pins.release_id,
        pins=pins,
        url=_without_credentials(url),
        started_at=started.astimezone(UTC),
        finished_at=finished.astimezone(UTC),
        checks=[SmokeCheck(**c.as_dict()) for c in checks],
        passed=all(c.passed for c in checks),
        host=socket.gethostname(),
    )


def _without_credentials(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
