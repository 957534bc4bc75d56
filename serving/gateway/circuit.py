"""A circuit breaker per upstream, in process.

Closed: every request may try. Open (after `failure_threshold` consecutive failures, or a
failure ratio of at least `failure_ratio` over `window_s` with `min_requests` in it): nobody
tries for `open_s`. Half-open: exactly one request at a time probes; its success closes the
circuit, its failure opens it again. The readiness prober may cut the wait short (an upstream
that answers its probe gets a half-open probe at once), so traffic returns as soon as the
upstream is healthy.

Time is passed in (`now`, monotonic seconds) so tests drive the clock.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable

from serving.gateway.settings import CircuitSettings

BUCKETS = 10


class CircuitState(enum.IntEnum):
    """Values are the `gateway_circuit_state` gauge: 0 closed, 1 half-open, 2 open."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(self, settings: CircuitSettings, on_change: Callable[[CircuitState], None] | None = None) -> None:
        self._settings = settings
        self._on_change = on_change
        self.state = CircuitState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        # The failure ratio's sliding window, as BUCKETS ring buckets of (requests, failures):
        # constant memory and no per-request allocation.
        self._bucket_s = settings.window_s / BUCKETS
        self._requests = [0] * BUCKETS
        self._failures = [0] * BUCKETS
        self._bucket_epoch = [-1] * BUCKETS

    # -- admission --------------------------------------------------------------------------

    def admit(self, now: float) -> bool | None:
        """None: refused (open, or a half-open probe is already out). False: admitted as a normal
        request. True: admitted as the half-open probe, whose result decides the state."""
        if self.state is CircuitState.CLOSED:
            return False
        if self.state is CircuitState.OPEN:
            if now - self._opened_at < self._settings.open_s:
                return None
            self._set(CircuitState.HALF_OPEN)
        if self._probe_in_flight:
            return None
        self._probe_in_flight = True
        return True

    def retry_after(self, now: float) -> float:
        """Seconds until this circuit may admit a request again (for a Retry-After header)."""
        if self.state is CircuitState.OPEN:
            return max(1.0, math.ceil(self._settings.open_s - (now - self._opened_at)))
        return 1.0

    # -- outcomes -----------------------------------------------------------------------------

    def record_success(self, probe: bool, now: float) -> None:
        self._count(now, failed=False)
        self._consecutive_failures = 0
        if probe:
            self._probe_in_flight = False
        if self.state is CircuitState.HALF_OPEN and probe:
            self._set(CircuitState.CLOSED)

    def record_failure(self, probe: bool, now: float) -> None:
        self._count(now, failed=True)
        self._consecutive_failures += 1
        if probe:
            self._probe_in_flight = False
            self._open(now)
        elif self.state is CircuitState.CLOSED and self._tripped(now):
            self._open(now)

    def release_probe(self) -> None:
        """The probe ended without a verdict (client went away, 4xx): let the next request probe."""
        self._probe_in_flight = False

    def reset(self) -> None:
        """The upstream's API key was reloaded: failures counted against the old key say nothing
        about the new one, so close at once instead of waiting out `open_s` and a half-open probe
        (traffic returns as soon as the rotated key is read)."""
        self._consecutive_failures = 0
        self._probe_in_flight = False
        self._reset_window()
        self._set(CircuitState.CLOSED)

    def nudge(self, now: float) -> None:
        """The readiness prober got an answer: an open circuit may probe with real traffic now."""
        if self.state is CircuitState.OPEN:
            self._opened_at = now - self._settings.open_s

    # -- internals ----------------------------------------------------------------------------

    def _tripped(self, now: float) -> bool:
        if self._consecutive_failures >= self._settings.failure_threshold:
            return True
        requests, failures = self._window(now)
        return requests >= self._settings.min_requests and failures >= self._settings.failure_ratio * requests

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._consecutive_failures = 0
        self._set(CircuitState.OPEN)

    def _set(self, state: CircuitState) -> None:
        if state is not self.state:
            self.state = state
            if state is CircuitState.CLOSED:
                self._reset_window()
            if self._on_change is not None:
                self._on_change(state)

    def _count(self, now: float, failed: bool) -> None:
        epoch = int(now / self._bucket_s)
        i = epoch % BUCKETS
        if self._bucket_epoch[i] != epoch:
            self._bucket_epoch[i] = epoch
            self._requests[i] = 0
            self._failures[i] = 0
        self._requests[i] += 1
        if failed:
            self._failures[i] += 1

    def _window(self, now: float) -> tuple[int, int]:
        oldest = int(now / self._bucket_s) - BUCKETS + 1
        requests = failures = 0
        for i in range(BUCKETS):
            if self._bucket_epoch[i] >= oldest:
                requests += self._requests[i]
                failures += self._failures[i]
        return requests, failures

    def _reset_window(self) -> None:
        self._requests = [0] * BUCKETS
        self._failures = [0] * BUCKETS
