"""A cheap periodic check that the managed API still accepts the gateway's API key.

The managed API is the fallback: nothing probes it (readiness.probe `none`), so a revoked or
expired key stayed invisible until the self-hosted model failed and every fallback answered 502
`upstream_auth_failed`. This check sends `GET <base_url>/models` with the key every
`credential_check_interval_s` (OpenAI documents it as free: it lists models and generates
nothing; platform.openai.com/docs/api-reference/models/list) and turns the answer into a verdict:

| answer                        | verdict  | effect                                                     |
|-------------------------------|----------|------------------------------------------------------------|
| 2xx                           | ACCEPTED | upstream ready (`gateway_upstream_ready` 1)                |
| 401, 403                      | REFUSED  | not ready; `gateway_upstream_auth_failures_total` + 1      |
| anything else, no answer      | UNKNOWN  | unchanged: the circuit judges reachability by real traffic |

A reloaded key wakes the check at once (app.py), so a rotation shows within one round trip.
The response body is read and dropped: OpenAI's 401 body echoes part of the key.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable

from serving.gateway.http_client import UpstreamProtocolError
from serving.gateway.upstreams import ERROR_BODY_LIMIT, Upstream

log = logging.getLogger("serving.gateway.credential_probe")


class CredentialVerdict(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNKNOWN = "unknown"


def verdict_for(status: int) -> CredentialVerdict:
    if 200 <= status < 300:
        return CredentialVerdict.ACCEPTED
    if status in (401, 403):
        return CredentialVerdict.REFUSED
    return CredentialVerdict.UNKNOWN


class CredentialProbe:
    """Checks one upstream's key every `interval_s`, or at once after `wake.set()`."""

    def __init__(
        self, upstream: Upstream, interval_s: float, timeout_s: float, on_verdict: Callable[[CredentialVerdict], None]
    ) -> None:
        self._upstream = upstream
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._on_verdict = on_verdict
        self.wake = asyncio.Event()
        pool = upstream.pool
        self._head = b"GET " + pool.base_path + b"/models HTTP/1.1\r\n" + pool.host_header

    async def check(self) -> CredentialVerdict:
        try:
            async with asyncio.timeout(self._timeout_s):
                # The adapter's header block carries the key as it is now (refreshed on reload).
                response = await self._upstream.pool.request(self._head + self._upstream.adapter.header_block, b"")
                try:
                    await response.read(ERROR_BODY_LIMIT)
                except BaseException:
                    response.close()
                    raise
                response.release()
        except (OSError, TimeoutError, UpstreamProtocolError) as error:
            log.debug("credential check of %s got no answer: %s", self._upstream.name, type(error).__name__)
            return CredentialVerdict.UNKNOWN
        return verdict_for(response.status)

    async def run(self) -> None:
        """Until cancelled; a verdict that changes is logged (never the key or the body)."""
        last: CredentialVerdict | None = None
        while True:
            self.wake.clear()
            verdict = await self.check()
            self._on_verdict(verdict)
            if verdict is not last and verdict is not CredentialVerdict.UNKNOWN:
                level = logging.ERROR if verdict is CredentialVerdict.REFUSED else logging.INFO
                log.log(level, "upstream %s: API key %s (credential check GET /models)", self._upstream.name, verdict.value)
                last = verdict
            try:
                async with asyncio.timeout(self._interval_s):
                    await self.wake.wait()
            except TimeoutError:
                pass
