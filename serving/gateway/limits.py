"""Per-key request and token rates: token buckets, refilled continuously.

Requests per minute are taken at admission. Tokens per minute are only known after the answer,
so admission reserves an estimate (request bytes / 4, the usual characters-per-token rule) and
the real `usage` settles the difference afterwards; a key may overshoot by what its in-flight
requests generate, then waits until the bucket is positive again.

Every bucket is this pod's; with a shared store (shared_store.py) each pod also debits its
buckets by what the other pods consumed, learnt every sync interval, so N pods admit about one
key's limit, not N times it. Nothing here waits for the store.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from serving.gateway.auth import Client

BYTES_PER_TOKEN = 4


class TokenBucket:
    __slots__ = ("_level", "_per_s", "_updated", "capacity", "pending")

    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self._per_s = per_minute / 60.0
        self._level = float(per_minute)
        self._updated = now
        # Consumed on this pod since the last exchange with the shared store.
        self.pending = 0.0

    def _refill(self, now: float) -> None:
        self._level = min(self.capacity, self._level + (now - self._updated) * self._per_s)
        self._updated = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until `amount` fits (0 when it fits now). Amounts above capacity need a full bucket."""
        self._refill(now)
        missing = min(amount, self.capacity) - self._level
        return 0.0 if missing <= 0 else missing / self._per_s

    def take(self, amount: float) -> None:
        self._level -= amount
        self.pending += amount

    def debit(self, amount: float, now: float) -> None:
        """What other pods consumed (from the shared store)."""
        self._refill(now)
        self._level -= amount


class ClientLimiter:
    __slots__ = ("rpm", "tpm")

    def __init__(self, client: Client, now: float) -> None:
        self.rpm = TokenBucket(client.rpm, now) if client.rpm else None
        self.tpm = TokenBucket(client.tpm, now) if client.tpm else None

    def admit(self, request_bytes: int, now: float) -> tuple[str | None, int, int]:
        """(None, 0, reserved tokens) when admitted, else (limit name, Retry-After seconds, 0)."""
        estimate = request_bytes // BYTES_PER_TOKEN
        if self.rpm is not None:
            wait = self.rpm.wait_for(1, now)
            if wait > 0:
                return "rpm", max(1, math.ceil(wait)), 0
        if self.tpm is not None:
            wait = self.tpm.wait_for(estimate, now)
            if wait > 0:
                return "tpm", max(1, math.ceil(wait)), 0
        if self.rpm is not None:
            self.rpm.take(1)
        if self.tpm is not None:
            self.tpm.take(estimate)
        return None, 0, estimate

    def settle(self, reserved: int, used_tokens: int) -> None:
        if self.tpm is not None:
            self.tpm.take(used_tokens - reserved)


class Limiters:
    """One limiter per client name; survives key-file reloads so a rotation resets nothing.
    Keys without limits have none, and cost nothing per request."""

    def __init__(self) -> None:
        self._by_name: dict[str, tuple[Client, ClientLimiter]] = {}

    def for_client(self, client: Client, now: float) -> ClientLimiter | None:
        if client.rpm is None and client.tpm is None:
            return None
        entry = self._by_name.get(client.name)
        if entry is None or (entry[0].rpm, entry[0].tpm) != (client.rpm, client.tpm):
            entry = (client, ClientLimiter(client, now))
            self._by_name[client.name] = entry
        return entry[1]

    def buckets(self) -> Iterator[tuple[str, str, TokenBucket]]:
        """(client name, "rpm" | "tpm", bucket) for every bucket: what the shared store exchanges."""
        for name, (_, limiter) in self._by_name.items():
            if limiter.rpm is not None:
                yield name, "rpm", limiter.rpm
            if limiter.tpm is not None:
                yield name, "tpm", limiter.tpm
