"""Whether an upstream may take a request right now (readiness, circuit, saturation), and
whether a silent upstream is slow or hung.

Three independent signals, checked before any byte is sent (so skipping is always safe):
- readiness: the prober's verdict (a one-token generation, because vLLM's /health stays 200 while
  its engine hangs), plus passive signals: a refused connection marks the upstream not ready at
  once, and a pool allowed to scale to zero is presumed cold after `idle_after_s` of silence;
- the circuit breaker (circuit.py);
- saturation: this pod's in-flight requests against `max_in_flight`.

Slow or hung. *Progress* is any byte this pod receives from the upstream (a stream event, a
finished answer, a probe's answer) or, where `engine_metrics_url` is set, a rising count of
generated tokens in the engine's own metrics. An upstream that makes progress is slow, never hung:
- the generation probe is not sent while this pod's own requests are in flight and made progress
  within the last probe interval (it would only queue behind them); once a whole interval passes
  without progress the probe goes out, however many requests are in flight, so a hung engine is
  always probed. A probe that times out while progress was seen is "busy", not a failure;
- the probe has its own timeout (`readiness.timeout_s`, a one-token generation answers in well
  under a second), not the clients' first-byte timeout; after a failed probe the next one follows
  after `recovery_interval_s`, so the verdict comes `failures_to_unready` probe timeouts after the
  first failed probe;
- readiness falls only after `failures_to_unready` consecutive failed probes with no progress in
  between; any answered probe resets the count;
- a timeout of an attempt while the upstream made progress is slowness: a JSON request is then
  answered 504 and not replayed (it may still be running there), a stream that has not started
  falls back (its upstream request is closed, so nothing is paid twice); neither counts against
  the circuit. Without any progress since the attempt began, it is a failure and may be replayed.
When consecutive failed probes prove the engine hung, EVERY attempt still waiting for its first
byte on it (a JSON request waiting for its answer, a stream waiting for its first event) is cut at
once, whenever it began, and counts as a failure that may have been processed: it is replayed on
the fallback under the replay rule (`retry.replay_maybe_processed`, routing.py), never answered 504
as slow. From then on the upstream is not ready and new requests go straight to the fallback until
a probe is answered.

Waking a pool scaled to zero (`readiness.wake_timeout_s`). A probe cut at its own timeout does
not wake Ray Serve from zero: Serve's autoscaler scales from zero on requests queued at a
deployment handle (ray/serve/autoscaling_policy.py: `_get_cold_start_scale_up_replicas`, and the
ingress is at zero too), and a cancelled request leaves that queue before the replica it asked for
is placed, started and answering. So while the upstream is not ready (and clients are asking for
it), ONE generation request with the cold-start budget as its timeout stays open beside the probes:
the demand Serve sees until a replica answers it. Its answer counts as an answered probe.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Protocol

from serving.gateway.circuit import CircuitBreaker, CircuitState
from serving.gateway.errors import error_body
from serving.gateway.routing import FallbackReason, Retryable, Terminal, classify_exception
from serving.gateway.settings import UpstreamSettings

log = logging.getLogger("serving.gateway.health")


class ProbeResult(enum.Enum):
    OK = "ok"
    BUSY = "busy"  # answered 429/503: alive but saturated; readiness unchanged
    FAILED = "failed"
    HUNG = "hung"  # no answer within the probe timeout
    PROGRESSING = "progressing"  # not probed: this pod's own requests are making progress


class ProgressSource(Protocol):
    last_progress: float  # monotonic time of the last byte received from the upstream


class _NoProgress:
    last_progress = 0.0


SLOW_JSON_MESSAGE = (
    "The self-hosted model is busy and did not finish this request in time. It was not sent to another "
    "model, because it may still be running; retry later or with a smaller max_tokens."
)


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
        self.probes = 0  # verdicts so far
        self._on_ready = on_ready
        self.last_demand = now
        self.wake = asyncio.Event()
        self._waiting: dict[int, tuple[float, asyncio.Timeout]] = {}
        self._cut: set[int] = set()  # attempts cut by a hung verdict (tracked keys)
        self._probe_interval_s = settings.readiness.interval_s
        self._recovery_interval_s = settings.readiness.recovery_interval_s
        self._skipped = False  # the last probe was skipped because requests progressed
        self.progress_source: ProgressSource = _NoProgress()
        self._engine_progress = 0.0
        self._generated_tokens: float | None = None
        self._wake_timeout_s = settings.readiness.wake_timeout_s
        self.waking = False  # a wake request is open

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
        if failure.slow:
            if probe:
                self.circuit.release_probe()
            return  # slowness is not a failure: the circuit stays as it is
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

    # -- slow or hung ---------------------------------------------------------------------------

    def last_progress(self) -> float:
        return max(self.progress_source.last_progress, self._engine_progress)

    def progress_since(self, since: float) -> bool:
        return self.last_progress() > since

    def engine_counters(self, generated_tokens: float, now: float) -> None:
        """The engine's generated-token counter (engine metrics): a rise is progress."""
        previous, self._generated_tokens = self._generated_tokens, generated_tokens
        if previous is not None and generated_tokens > previous:
            self._engine_progress = now

    def should_probe(self, now: float) -> bool:
        """False while this pod's own requests are in flight and made progress within the last probe
        interval: a generation probe would only queue behind them, and their progress already proves
        the engine works. The window is the interval, not the probe timeout, so requests that stopped
        progressing (a hung engine) cannot postpone the probe by more than one interval."""
        return not (self.in_flight > 0 and self.progress_since(now - self._probe_interval_s))

    def probe_interval(self, now: float) -> float:
        """Seconds until the next probe. Not ready: often, so traffic returns within a fraction of a
        second of recovery. After a failed probe: as often, so a hung engine's verdict comes
        `failures_to_unready` probe timeouts after its first failed probe, not intervals later.
        After a probe skipped for progress: one interval after that progress, not after the skip,
        so the first probe of a hang goes out at most one interval after the engine's last byte."""
        if not self.ready or self._probe_failures:
            return self._recovery_interval_s
        if self._skipped:
            return max(self._recovery_interval_s, self.last_progress() + self._probe_interval_s - now)
        return self._probe_interval_s

    def classify_failure(self, error: BaseException, started: float, stream: bool, cut: bool = False) -> Retryable | Terminal:
        """The decision for an attempt that failed before its first byte reached the client.
        `cut`: the attempt was cut short by a hung verdict (never slowness, whatever else progressed)."""
        if cut and isinstance(error, TimeoutError):
            return Retryable(FallbackReason.FIRST_BYTE_TIMEOUT, True, "upstream declared hung: attempt cut short")
        if not isinstance(error, TimeoutError) or not self.progress_since(started):
            return classify_exception(error)
        if stream:
            return Retryable(FallbackReason.FIRST_BYTE_TIMEOUT, False, "no first event in time; the upstream is busy", slow=True)
        return Terminal(504, error_body(SLOW_JSON_MESSAGE, "server_error", "upstream_timeout"), "slow upstream: not replayed")

    # -- the prober's verdicts ------------------------------------------------------------------

    def probed_result(self, result: ProbeResult, probe_started: float, now: float) -> None:
        self.probes += 1
        self._skipped = result is ProbeResult.PROGRESSING
        if result in (ProbeResult.FAILED, ProbeResult.HUNG) and self.progress_since(probe_started):
            result = ProbeResult.BUSY  # it answered other requests meanwhile: slow, not hung
        if result is ProbeResult.OK or result is ProbeResult.PROGRESSING:
            self._probe_failures = 0
            self._set_ready(True, "probe answered" if result is ProbeResult.OK else "requests progressing")
            self.circuit.nudge(now)
        elif result is ProbeResult.BUSY:
            self._probe_failures = 0
        else:
            self._probe_failures += 1
            if self._probe_failures >= self._failures_to_unready:
                self._set_ready(False, f"{self._probe_failures} probes {result.value} in a row")
                if result is ProbeResult.HUNG:
                    self._abort_waiting()

    # -- waking a pool scaled to zero -----------------------------------------------------------

    def begin_wake(self, now: float) -> float | None:
        """The timeout of a wake request to open now, or None: not configured, ready (or not yet
        probed), idle (no client asks, so let the pool sleep) or one is already open."""
        if self._wake_timeout_s is None or self.ready is not False or self.waking or self.idle(now):
            return None
        self.waking = True
        return self._wake_timeout_s

    def woke(self, result: ProbeResult, started: float, now: float) -> None:
        """A wake request ended. Answered: the pool is awake (as an answered probe). Otherwise the
        probes carry on, and the next wake request opens at the next probe while still not ready."""
        self.waking = False
        if result is ProbeResult.OK:
            self.probed_result(result, started, now)

    def credentials(self, accepted: bool) -> None:
        """The credential probe's verdict (credential_probe.py; unprobed upstreams only)."""
        self._set_ready(accepted, "API key accepted" if accepted else "API key refused (HTTP 401/403)")

    def presume_cold(self) -> None:
        if self.ready is not False:
            self._set_ready(False, "no traffic for a while: presumed scaled to zero")

    # -- attempts waiting for their first byte ----------------------------------------------------

    def track(self, started: float, deadline: asyncio.Timeout) -> int:
        key = id(deadline)
        self._waiting[key] = (started, deadline)
        return key

    def untrack(self, key: int) -> bool:
        """Stop tracking an attempt; True when a hung verdict cut it short."""
        self._waiting.pop(key, None)
        if key in self._cut:
            self._cut.discard(key)
            return True
        return False

    def _abort_waiting(self) -> None:
        """The engine is hung: every attempt waiting for its first byte gets nothing from it, whenever
        it began (one that began after the first failed probe waits on the same hung engine)."""
        loop_now = asyncio.get_running_loop().time()
        cut = 0
        for key, (_, deadline) in list(self._waiting.items()):
            if not deadline.expired():
                deadline.reschedule(loop_now)
                self._cut.add(key)
                cut += 1
        if cut:
            log.warning("upstream %s hung: cut short %d attempts waiting for their first byte", self.name, cut)

    def _set_ready(self, ready: bool, why: str) -> None:
        if ready is not self.ready:
            log.info("upstream %s %s (%s)", self.name, "ready" if ready else "not ready", why)
            self.ready = ready
            self._on_ready(ready)
