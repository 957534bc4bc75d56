"""The routing decision as typed data: why an attempt failed, and whether another upstream may try.

Every failed attempt becomes either `Retryable` (another upstream may serve the request) or
`Terminal` (the answer goes back to the client as it is). `Retryable.processed` records whether
the failed upstream may already have run the request: the rule for not duplicating work
silently lives here, in one table, and in `RetryBudget`, which bounds second attempts.

| trigger                                  | reason               | may have processed it |
|------------------------------------------|----------------------|-----------------------|
| circuit open / not ready / saturated     | (skipped, no attempt)| no                    |
| connection refused, DNS, connect timeout | connect_failed       | no                    |
| 429 or 503 (Ray Serve backpressure)      | backpressure         | no                    |
| other 5xx                                | upstream_5xx         | maybe                 |
| reset after the request was sent         | connection_reset     | maybe                 |
| no first byte / answer in time           | first_byte_timeout   | maybe                 |
| stream opens with an error event         | stream_error_event   | maybe                 |
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from serving.gateway.errors import error_body
from serving.gateway.http_client import UpstreamConnectError


class FallbackReason(enum.StrEnum):
    """Why a request left its primary. The values are metric labels and header values."""

    CONNECT_FAILED = "connect_failed"
    CONNECTION_RESET = "connection_reset"
    UPSTREAM_5XX = "upstream_5xx"
    BACKPRESSURE = "backpressure"
    FIRST_BYTE_TIMEOUT = "first_byte_timeout"
    STREAM_ERROR_EVENT = "stream_error_event"
    CIRCUIT_OPEN = "circuit_open"
    NOT_READY = "not_ready"
    SATURATED = "saturated"
    RETRY_BUDGET_EXHAUSTED = "retry_budget_exhausted"


@dataclass(frozen=True, slots=True)
class Retryable:
    """The upstream did not answer; another one may. `detail` goes to logs and never holds secrets."""

    reason: FallbackReason
    processed: bool
    detail: str
    retry_after_s: float = 1.0
    # The upstream is busy (it made progress), not failing: the circuit does not count it.
    slow: bool = False


@dataclass(frozen=True, slots=True)
class Terminal:
    """An answer for the client as it stands (an upstream's 4xx, or a failure nobody may retry)."""

    status: int
    body: bytes
    detail: str


def classify_status(status: int, body: bytes) -> Retryable | Terminal:
    """The decision for an upstream's HTTP error status (>= 400)."""
    if status in (429, 503):
        return Retryable(FallbackReason.BACKPRESSURE, processed=False, detail=f"HTTP {status}")
    if status >= 500:
        return Retryable(FallbackReason.UPSTREAM_5XX, processed=True, detail=f"HTTP {status}")
    if status in (401, 403, 407):
        # The upstream refused the gateway's own credentials. OpenAI's 401 body echoes part of
        # the key it was sent, so that body never goes anywhere.
        return Terminal(
            502,
            error_body("The upstream rejected the gateway's credentials.", "server_error", "upstream_auth_failed"),
            f"HTTP {status} from upstream (credentials)",
        )
    # Other 4xx are about the request itself (context too long, bad parameter): a different
    # upstream would not help, and the client needs the upstream's explanation.
    return Terminal(status, body, f"HTTP {status} from upstream")


def classify_exception(error: BaseException) -> Retryable:
    """The decision for a transport failure before the first byte reached the client."""
    # Order matters: both the connect error and TimeoutError are OSErrors.
    if isinstance(error, UpstreamConnectError):
        return Retryable(FallbackReason.CONNECT_FAILED, processed=False, detail=str(error) or "connect failed")
    if isinstance(error, TimeoutError):
        return Retryable(FallbackReason.FIRST_BYTE_TIMEOUT, processed=True, detail="no answer in time")
    return Retryable(FallbackReason.CONNECTION_RESET, processed=True, detail=type(error).__name__)


class RetryBudget:
    """Bounds second attempts across all requests (a token bucket, as in Finagle's RetryBudget).

    Each first attempt deposits `ratio` tokens, time deposits `min_per_s`, a retry withdraws one,
    and at most `burst` are saved. A sick primary therefore adds at most ~20% load to the
    fallback beyond what its circuit lets through, while the burst covers every request that
    was in flight when the primary died.
    """

    def __init__(self, ratio: float, min_per_s: float, burst: int, now: float) -> None:
        self._ratio = ratio
        self._min_per_s = min_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._min_per_s)
        self._updated = now

    def deposit(self, now: float) -> None:
        self._refill(now)
        self._tokens = min(self._burst, self._tokens + self._ratio)

    def try_withdraw(self, now: float) -> bool:
        self._refill(now)
        if self._tokens >= 1.0 - 1e-9:  # tolerate float sums like 10 x 0.2 = 1.9999999999999998
            self._tokens -= 1.0
            return True
        return False
