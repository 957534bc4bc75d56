"""The circuit breaker, driven by a hand-held clock."""

from serving.gateway.circuit import CircuitBreaker, CircuitState
from serving.gateway.settings import CircuitSettings


def breaker(**settings) -> tuple[CircuitBreaker, list[CircuitState]]:
    changes: list[CircuitState] = []
    defaults = {"failure_threshold": 3, "failure_ratio": 0.5, "window_s": 10, "min_requests": 10, "open_s": 5}
    return CircuitBreaker(CircuitSettings(**{**defaults, **settings}), changes.append), changes


def test_opens_after_the_configured_consecutive_failures():
    c, changes = breaker()
    for now in (1.0, 1.1):
        assert c.admit(now) is False
        c.record_failure(False, now)
    assert c.state is CircuitState.CLOSED
    c.record_failure(False, 1.2)
    assert c.state is CircuitState.OPEN
    assert changes == [CircuitState.OPEN]
    assert c.admit(1.3) is None


def test_a_success_resets_the_consecutive_count():
    c, _ = breaker()
    c.record_failure(False, 1.0)
    c.record_failure(False, 1.0)
    c.record_success(False, 1.0)
    c.record_failure(False, 1.0)
    c.record_failure(False, 1.0)
    assert c.state is CircuitState.CLOSED


def test_opens_on_the_failure_ratio_in_the_window_when_enough_requests_were_seen():
    c, _ = breaker(failure_threshold=100, min_requests=10, failure_ratio=0.5)
    for i in range(10):
        now = 1.0 + i * 0.1
        # alternate: never 2 consecutive failures, but half of all requests fail
        (c.record_failure if i % 2 else c.record_success)(False, now)
    assert c.state is CircuitState.OPEN


def test_old_failures_leave_the_window():
    c, _ = breaker(failure_threshold=100, min_requests=10, failure_ratio=0.5, window_s=10)
    for _ in range(5):
        c.record_failure(False, 1.0)
        c.record_success(False, 1.0)
    # 20 s later the earlier failures no longer count: 9 successes and 1 failure.
    for _ in range(9):
        c.record_success(False, 21.0)
    c.record_failure(False, 21.0)
    assert c.state is CircuitState.CLOSED


def test_half_opens_after_open_s_with_exactly_one_probe_at_a_time():
    c, changes = breaker(open_s=5)
    for _ in range(3):
        c.record_failure(False, 0.0)
    assert c.admit(4.9) is None
    assert c.admit(5.0) is True  # the probe
    assert c.state is CircuitState.HALF_OPEN
    assert c.admit(5.0) is None  # a second request while the probe is out is refused
    c.record_success(True, 5.1)
    assert c.state is CircuitState.CLOSED
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]
    assert c.admit(5.2) is False


def test_a_failed_probe_opens_the_circuit_again_for_another_open_s():
    c, _ = breaker(open_s=5)
    for _ in range(3):
        c.record_failure(False, 0.0)
    assert c.admit(5.0) is True
    c.record_failure(True, 5.0)
    assert c.state is CircuitState.OPEN
    assert c.admit(9.9) is None
    assert c.admit(10.0) is True


def test_a_probe_without_verdict_frees_the_slot_for_the_next_request():
    c, _ = breaker(open_s=5)
    for _ in range(3):
        c.record_failure(False, 0.0)
    assert c.admit(5.0) is True
    c.release_probe()
    assert c.admit(5.0) is True


def test_closing_forgets_the_failures_that_opened_it():
    c, _ = breaker(failure_threshold=100, min_requests=4, failure_ratio=0.5, open_s=1)
    for _ in range(4):
        c.record_failure(False, 0.0)
    assert c.state is CircuitState.OPEN
    assert c.admit(1.0) is True
    c.record_success(True, 1.0)
    c.record_success(False, 1.1)
    c.record_failure(False, 1.2)
    assert c.state is CircuitState.CLOSED


def test_a_successful_readiness_probe_lets_real_traffic_probe_at_once():
    c, _ = breaker(open_s=60)
    for _ in range(3):
        c.record_failure(False, 0.0)
    c.nudge(1.0)
    assert c.admit(1.0) is True


def test_retry_after_counts_down_the_open_period():
    c, _ = breaker(open_s=10)
    for _ in range(3):
        c.record_failure(False, 0.0)
    assert c.retry_after(2.5) == 8
    assert c.retry_after(9.9) == 1
