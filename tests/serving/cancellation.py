"""A client that goes away mid-request, over a raw socket, in each phase of a request: the one copy
shared by the cancellation tests (tests/serving/gateway/test_cancellation.py) and the benchmark
that measures them (`gpt-oss-platform bench cancellation`, bench/cancellation.py).

A phase arms the fake upstream (every delay is `UPSTREAM_DELAY_S`) and says when the client leaves;
`abandon_in_phase` sends the request, closes the socket with a reset at that moment, and returns the
seconds from the close to the fake seeing its own connection closed.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import KEYS, PUBLIC_MODEL, RunningGateway, wait_until

# How long the fake upstream holds a request back (first byte, or the gap between two events): what
# a gateway that missed the disconnect would leave the upstream working for nobody.
UPSTREAM_DELAY_S = 5.0
# Gateway settings for these measurements: the primary's own timeouts far above the fake's delays,
# so that only the cancellation can close the upstream request early (with the test settings'
# sub-second timeouts a missed disconnect would still look fast), and no readiness probe in the
# middle of a run (the start-up probe only).
GATEWAY_OVERRIDES = {
    "primary": {
        "first_byte_timeout_s": 4 * UPSTREAM_DELAY_S,
        "response_timeout_s": 4 * UPSTREAM_DELAY_S,
        "stream_idle_timeout_s": 4 * UPSTREAM_DELAY_S,
        "readiness": {"probe": "generation", "interval_s": 600, "timeout_s": 0.6},
    }
}

WaitFor = Callable[[socket.socket], None]


@dataclass(frozen=True)
class Phase:
    name: str
    stream: bool
    arm: Callable[[FakeOpenAI], WaitFor]  # set the fake's behaviour; returns when the client leaves

    def body(self) -> dict:
        body: dict = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}]}
        if self.stream:
            body["stream"] = True
        return body


def until_upstream_has_it(fake: FakeOpenAI) -> WaitFor:
    """Leave once the upstream is working on this request (and a little later)."""
    seen = len(fake.chat_requests())

    def wait(sock: socket.socket) -> None:
        wait_until(lambda: len(fake.chat_requests()) > seen, timeout=3)
        time.sleep(0.05)

    return wait


def after_first_event(sock: socket.socket) -> None:
    """Leave once the first event of the stream has arrived."""
    data = b""
    while b"data:" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"the gateway closed the stream before its first event: {data!r}")
        data += chunk


def _before_the_first_byte(fake: FakeOpenAI) -> WaitFor:
    fake.set("slow_first_byte", delay_s=UPSTREAM_DELAY_S)
    return until_upstream_has_it(fake)


def _mid_stream(fake: FakeOpenAI) -> WaitFor:
    # A long gap between events: the close must not wait for the next one.
    fake.set("ok", token_delay_s=UPSTREAM_DELAY_S, words=4)
    return after_first_event


def _waiting_for_a_json_answer(fake: FakeOpenAI) -> WaitFor:
    fake.set("slow_first_byte", delay_s=UPSTREAM_DELAY_S)
    return until_upstream_has_it(fake)


BEFORE_FIRST_BYTE = Phase("before the first byte of a stream", stream=True, arm=_before_the_first_byte)
MID_STREAM = Phase("mid-stream, between two events", stream=True, arm=_mid_stream)
JSON_ANSWER = Phase("waiting for a JSON answer", stream=False, arm=_waiting_for_a_json_answer)
PHASES = (BEFORE_FIRST_BYTE, MID_STREAM, JSON_ANSWER)


def send_and_abandon(gateway: RunningGateway, body: dict, wait_for: WaitFor) -> float:
    """Send a request on a raw socket, wait until `wait_for(sock)` says the moment has come, then
    close the socket (RST, like a killed client); returns the monotonic time of the close."""
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", gateway.settings.port), timeout=5)
    try:
        sock.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {KEYS['app']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        wait_for(sock)
        # SO_LINGER on, 0 s: close() sends a reset instead of a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        closed_at = time.monotonic()
        sock.close()
    return closed_at


def upstream_saw_close(fake: FakeOpenAI, after: float, timeout: float = 3.0) -> float:
    """Seconds from `after` to the first connection the fake saw closed while answering it."""
    try:
        wait_until(lambda: any(t >= after for t, _ in fake.closed_while_busy), timeout=timeout)
    except AssertionError:
        raise AssertionError(f"the upstream did not see its connection closed within {timeout} s of the client's") from None
    return min(t for t, _ in fake.closed_while_busy if t >= after) - after


def abandon_in_phase(gateway: RunningGateway, fake: FakeOpenAI, phase: Phase) -> float:
    """One disconnect in `phase`: seconds from the client's close to the upstream seeing its close."""
    wait_for = phase.arm(fake)
    closed_at = send_and_abandon(gateway, phase.body(), wait_for)
    return upstream_saw_close(fake, closed_at)
