"""Rate limits and monthly spend shared by every gateway pod through Redis, off the request path.

Requests are admitted from each pod's own counters (limits.py, spend.py). Every
`sync_interval_s` this loop sends, in one pipelined round trip, what the pod consumed since the
last exchange and reads back the totals:
- rate limits: `INCRBY <prefix>rl:<client>:<rpm|tpm>:<minute> <consumed>` (the key of the current
  UTC minute, expiring after 3 minutes); what the total grew by beyond this pod's own part is what
  the other pods consumed, and is debited from this pod's bucket. A key seen for the first time
  is debited with the last minute's total (the previous minute's share still inside the sliding
  minute plus the current one), so a new pod starts from the fleet's state, not a full bucket;
- spend: `INCRBYFLOAT <prefix>spend:<YYYY-MM>:<key|team>:<name> <usd>` (expiring after 40 days);
  the total is the month's spend over all pods.
How far a limit can overshoot: what all pods admit in one sync interval.

The store is never allowed to fail a request: when it is unreachable or slow (an exchange over
`timeout_s`), the counters stay local (per-pod limits, the behaviour without a store),
`gateway_shared_store_up` is 0, `gateway_shared_store_errors_total` counts the failures, and the
consumption not yet sent is kept and sent when the store is back.

redis-py's asyncio client (https://redis.io/docs/latest/develop/clients/redis-py/async/):
pipelines without MULTI (`transaction=False`), and no client-side retries (the next exchange is
the retry).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from serving.gateway.limits import Limiters, TokenBucket
from serving.gateway.metrics import GatewayMetrics
from serving.gateway.settings import SharedStoreSettings
from serving.gateway.spend import SpendLedger

log = logging.getLogger("serving.gateway.shared_store")

RATE_TTL_S = 180
SPEND_TTL_S = 40 * 86400
# After a failed exchange, wait this long (doubling up to the maximum) before the next one.
BACKOFF_S, BACKOFF_MAX_S = 0.5, 5.0


def resolve_address(settings: SharedStoreSettings) -> str | None:
    if settings.address is not None:
        return settings.address
    value = os.environ.get(settings.address_env or "", "").strip()
    return value or None


class SharedStore:
    def __init__(
        self,
        settings: SharedStoreSettings,
        limiters: Limiters,
        ledger: SpendLedger,
        metrics: GatewayMetrics,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._limiters = limiters
        self._ledger = ledger
        self._metrics = metrics
        self._wall = wall
        self._prefix = settings.key_prefix
        # Per rate-limit key: (minute, total last read) of the bucket's current minute key.
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}
        self.address = resolve_address(settings)
        self.up = False
        self._client: redis.Redis | None = None
        if self.address is None:
            log.error(
                "shared store: environment variable %s is empty; limits and spend stay per pod",
                settings.address_env,
            )
        else:
            host, _, port = self.address.rpartition(":")
            self._client = redis.Redis(
                host=host,
                port=int(port),
                socket_timeout=settings.timeout_s,
                socket_connect_timeout=settings.timeout_s,
                retry=Retry(NoBackoff(), 0),
                single_connection_client=True,
            )
        self._set_up(False)

    def _set_up(self, up: bool) -> None:
        if up != self.up:
            log.warning("shared store %s", "reachable: limits and spend are shared" if up else "unreachable: per pod")
        self.up = up
        self._metrics.child(self._metrics.store_up).set(1 if up else 0)

    async def run(self) -> None:
        """Exchange counters for ever (a task of the gateway's lifespan)."""
        if self._client is None:
            return
        pause = self._settings.sync_interval_s
        while True:
            await asyncio.sleep(pause)
            ok = await self.sync()
            pause = self._settings.sync_interval_s if ok else min(BACKOFF_MAX_S, max(BACKOFF_S, pause * 2))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def sync(self) -> bool:
        """One exchange; False (and nothing lost) when the store did not answer in time."""
        if self._client is None:
            return False
        ledger = self._ledger
        ledger.roll_over()
        now_wall = self._wall()
        minute = int(now_wall // 60)
        fraction = (now_wall % 60) / 60
        buckets = [(name, kind, bucket, bucket.pending) for name, kind, bucket in self._limiters.buckets()]
        tallies = [(key, tally, tally.pending) for key, tally in ledger.tallies.items()]
        for _, _, bucket, pending in buckets:
            bucket.pending -= pending
        for _, tally, pending in tallies:
            tally.pending -= pending
        pipe = self._client.pipeline(transaction=False)
        pipe.ping()  # every exchange reaches the store, even with nothing to send: `up` means up
        reads: list[tuple[str, str, TokenBucket, int, bool]] = []
        for name, kind, bucket, pending in buckets:
            key = f"{self._prefix}rl:{name}:{kind}:"
            pipe.incrby(key + str(minute), round(pending))
            pipe.expire(key + str(minute), RATE_TTL_S)
            first = (name, kind) not in self._seen
            if first:
                pipe.get(key + str(minute - 1))
            reads.append((name, kind, bucket, round(pending), first))
        month = ledger.month
        for (scope, name), _, pending in tallies:
            key = f"{self._prefix}spend:{month}:{scope}:{name}"
            pipe.incrbyfloat(key, pending)
            pipe.expire(key, SPEND_TTL_S)
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                results = await pipe.execute()
        except (redis.RedisError, OSError, TimeoutError) as error:
            # Keep what was not sent: it goes with the next exchange.
            for _, _, bucket, pending in buckets:
                bucket.pending += pending
            for _, tally, pending in tallies:
                tally.pending += pending
            self._metrics.child(self._metrics.store_errors).inc()
            log.debug("shared store exchange failed: %s", type(error).__name__)
            self._set_up(False)
            return False
        at = 1  # after the PING
        now = time.monotonic()
        for name, kind, bucket, sent, first in reads:
            total = int(results[at])
            at += 2
            previous_minute_total = 0
            if first:
                previous_minute_total = int(results[at] or 0)
                at += 1
            seen = self._seen.get((name, kind))
            if seen is None:
                # Everything the other pods took within the sliding minute.
                others = previous_minute_total * (1 - fraction) + (total - sent)
            elif seen[0] == minute:
                others = total - seen[1] - sent
            else:
                others = total - sent  # a new minute: its key started at zero
            if others > 0:
                bucket.debit(others, now)
            self._seen[(name, kind)] = (minute, total)
        for _, tally, _ in tallies:
            tally.known = float(results[at])
            tally.synced = True
            at += 2
        self._set_up(True)
        return True
