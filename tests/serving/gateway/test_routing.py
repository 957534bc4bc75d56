"""The decision table: which failures another upstream may take over, and whether the failed one
may already have processed the request."""

import pytest

from serving.gateway.http_client import UpstreamClosed, UpstreamConnectError, UpstreamProtocolError
from serving.gateway.routing import (
    FallbackReason,
    Retryable,
    RetryBudget,
    Terminal,
    classify_exception,
    classify_status,
)


@pytest.mark.parametrize(
    "status, reason, processed",
    [
        (429, FallbackReason.BACKPRESSURE, False),
        (503, FallbackReason.BACKPRESSURE, False),
        (500, FallbackReason.UPSTREAM_5XX, True),
        (502, FallbackReason.UPSTREAM_5XX, True),
        (504, FallbackReason.UPSTREAM_5XX, True),
    ],
)
def test_server_errors_are_retryable_and_say_whether_work_may_be_duplicated(status, reason, processed):
    decision = classify_status(status, b"{}")
    assert decision == Retryable(reason, processed, f"HTTP {status}")


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_request_errors_go_back_to_the_client_as_the_upstream_said_them(status):
    decision = classify_status(status, b'{"error": {"message": "context too long"}}')
    assert isinstance(decision, Terminal)
    assert (decision.status, decision.body) == (status, b'{"error": {"message": "context too long"}}')


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_gateway_credential_becomes_502_and_the_upstream_body_is_dropped(status):
    decision = classify_status(status, b'{"error": {"message": "Incorrect API key provided: sk-abc...xyz"}}')
    assert isinstance(decision, Terminal) and decision.status == 502
    assert b"sk-abc" not in decision.body


@pytest.mark.parametrize(
    "error, reason, processed",
    [
        (UpstreamConnectError("ConnectionRefusedError"), FallbackReason.CONNECT_FAILED, False),
        (UpstreamConnectError("connect timeout"), FallbackReason.CONNECT_FAILED, False),
        (UpstreamClosed("closed"), FallbackReason.CONNECTION_RESET, True),
        (UpstreamProtocolError("not http"), FallbackReason.CONNECTION_RESET, True),
        (ConnectionResetError(), FallbackReason.CONNECTION_RESET, True),
        (TimeoutError(), FallbackReason.FIRST_BYTE_TIMEOUT, True),
    ],
)
def test_transport_failures_are_retryable_and_classified(error, reason, processed):
    decision = classify_exception(error)
    assert (decision.reason, decision.processed) == (reason, processed)


def test_retry_budget_allows_a_burst_then_a_share_of_traffic():
    budget = RetryBudget(ratio=0.2, min_per_s=0.0, burst=3, now=0.0)
    assert [budget.try_withdraw(0.0) for _ in range(4)] == [True, True, True, False]
    for _ in range(10):
        budget.deposit(0.0)  # ten first attempts earn two retries
    assert [budget.try_withdraw(0.0) for _ in range(3)] == [True, True, False]


def test_retry_budget_refills_with_time():
    budget = RetryBudget(ratio=0.0, min_per_s=10.0, burst=5, now=0.0)
    for _ in range(5):
        budget.try_withdraw(0.0)
    assert not budget.try_withdraw(0.0)
    assert budget.try_withdraw(0.1)
    assert sum(budget.try_withdraw(100.0) for _ in range(10)) == 5  # never more than the burst
