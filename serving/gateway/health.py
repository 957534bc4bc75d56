"""Whether an upstream may take a request right now: readiness, circuit, saturation.

Three independent signals, checked before any byte is sent (so skipping is always safe):
- readiness: the prober's verdict (a one-token generation, because vLLM's /health stays 200 while
  its engine hangs), plus passive signals: a refused connection marks the upstream not ready at
  once, and a pool allowed to scale to zero is presumed cold after `idle_after_s` of silence;
- the circuit breaker (circuit.py);
- saturation: this pod's in-flight requests against `max_in_flight`.

It also remembers the deadlines of attempts that have not produced a first byte, so that when a
probe proves the engine hung, those attempts are cut short and fall back instead of waiting out
a long non-streaming timeout.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable

from serving.gateway.circuit import CircuitBreaker, CircuitState
from serving.gateway.routing import FallbackReason, Retryable
from serving.gateway.settings import UpstreamSettings

log = logging.getLogger("serving.gateway.health")


class ProbeResult(enum.Enum):
    OK = "ok"
    BUSY = "busy"  # answered 429/503: alive but saturated; readiness unchanged
    FAILED = "failed"
    HUNG = "hung"  # no answer within the probe timeout


class UpstreamHealth:
    def __init__(
        self,
        settings: UpstreamSettings,
        now: float,
        on_ready: Callable[[bool], None],
        on_circuit: Callable[[CircuitState], None],
    ) -> None:
        self.name = settings.name
        self.probed = settings.readiness.probe != "none"
        self.circuit = CircuitBreaker(settings.circuit, on_circuit)
        # Unknown until the first probe: try the upstream meanwhile rather than skip a healthy one.
        self.ready: bool | None = None if self.probed else True
        self.in_flight = 0
        self._max_in_flight = settings.max_in_flight
        self._idle_after_s = settings.readiness.idle_after_s
        self._failures_to_unready = settings.readiness.failures_to_unready
        self._probe_failures = 0
        self._on_ready = on_ready
        self.last_demand = now
        self.wake = asyncio.Event()
        self._waiting: dict[int, tuple[float, asyncio.Timeout]] = {}

    # -- admission ------------------------------------------------------------------------

    def admit(self, now: float) -> tuple[FallbackReason | None, bool]:
        """(reason to skip, or None; whether this request is the circuit's half-open probe)."""
        idle = self._idle_after_s is not None and now - self.last_demand > self._idle_after_s
        self.last_demand = now
        if idle:
            # Demand is back after a quiet spell: presume the pool cold, and wake the prober,
            # whose probe wakes the pool and reports as soon as it is warm.
            self.presume_cold()
            self.wake.set()
        if self.ready is False:
            return FallbackReason.NOT_READY, False
        if self._max_in_flight is not None and self.in_flight >= self._max_in_flight:
            return FallbackReason.SATURATED, False
        probe = self.circuit.admit(now)
        if probe is None:
            return FallbackReason.CIRCUIT_OPEN, False
        return None, probe

    def retry_after(self, reason: FallbackReason, now: float) -> float:
        return self.circuit.retry_after(now) if reason is FallbackReason.CIRCUIT_OPEN else 1.0

    def idle(self, now: float) -> bool:
        return self._idle_after_s is not None and now - self.last_demand > self._idle_after_s

    # -- outcomes of real requests ------------------------------------------------------------

    def succeeded(self, probe: bool, now: float) -> None:
        self.circuit.record_success(probe, now)

    def failed(self, failure: Retryable, probe: bool, now: float) -> None:
        self.circuit.record_failure(probe, now)
        if not self.probed:
            return
        if failure.reason is FallbackReason.CONNECT_FAILED:
            # Nothing listens: certain, so skip the upstream now; the prober brings it back.
            self._set_ready(False, "connection refused")
        if failure.reason in (FallbackReason.CONNECT_FAILED, FallbackReason.CONNECTION_RESET):
            self.wake.set()

    def released(self, probe: bool) -> None:
        if probe:
            self.circuit.release_probe()

    # -- the prober's verdicts ------------------------------------------------------------------

    def probed_result(self, result: ProbeResult, probe_started: float, now: float) -> None:
        if result is ProbeResult.OK:
            self._probe_failures = 0
            self._set_ready(True, "probe answered")
            self.circuit.nudge(now)
        elif result in (ProbeResult.FAILED, ProbeResult.HUNG):
            self._probe_failures += 1
            if self._probe_failures >= self._failures_to_unready:
                self._set_ready(False, f"probe {result.value}")
            if result is ProbeResult.HUNG:
                self._abort_waiting(started_before=probe_started, now=now)

    def presume_cold(self) -> None:
        if self.ready is not False:
            self._set_ready(False, "no traffic for a while: presumed scaled to zero")

    # -- attempts waiting for their first byte ----------------------------------------------------

    def track(self, started: float, deadline: asyncio.Timeout) -> int:
        key = id(deadline)
        self._waiting[key] = (started, deadline)
        return key

    def untrack(self, key: int) -> None:
        self._waiting.pop(key, None)

    def _abort_waiting(self, started_before: float, now: float) -> None:
        loop_now = asyncio.get_running_loop().time()
        for started, deadline in list(self._waiting.values()):
            if started <= started_before and not deadline.expired():
                deadline.reschedule(loop_now)
        log.debug("upstream %s hung: cut short the attempts waiting since before the probe", self.name)

    def _set_ready(self, ready: bool, why: str) -> None:
        if ready is not self.ready:
            log.info("upstream %s %s (%s)", self.name, "ready" if ready else "not ready", why)
            self.ready = ready
            self._on_ready(ready)
