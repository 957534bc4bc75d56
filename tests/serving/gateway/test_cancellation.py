"""A client that goes away frees the upstream at once: before the first byte, mid-stream, and while
waiting for a JSON answer. Measured: from the client closing its socket to the fake upstream
seeing its own connection closed, goal under 100 ms in every case."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.serving.harness import KEYS, PUBLIC_MODEL, wait_until

pytestmark = pytest.mark.slow

GOAL_S = 0.1


def send_and_abandon(gateway, body: dict, wait_for) -> float:
    """Send a request on a raw socket, wait until `wait_for(sock)` says the moment has come, then
    close the socket (RST, like a killed client); returns the monotonic time of the close."""
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", gateway.settings.port), timeout=5)
    sock.sendall(
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {KEYS['app']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    wait_for(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    closed_at = time.monotonic()
    sock.close()
    return closed_at


def upstream_saw_close(fake, after: float) -> float:
    wait_until(lambda: any(t >= after for t, _ in fake.closed_while_busy), timeout=3)
    return min(t for t, _ in fake.closed_while_busy if t >= after) - after


def until_upstream_has_it(fake):
    def wait(sock):
        wait_until(lambda: fake.running >= 1 or len(fake.chat_requests()) >= 1, timeout=3)
        time.sleep(0.05)

    return wait


def test_a_client_gone_before_the_first_byte_frees_the_upstream_at_once(gateway, primary):
    primary.set("slow_first_byte", delay_s=5)
    body = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True}
    closed_at = send_and_abandon(gateway, body, until_upstream_has_it(primary))
    assert upstream_saw_close(primary, closed_at) < GOAL_S
    wait_until(lambda: gateway.upstream("self-hosted").health.in_flight == 0, timeout=2)


def test_a_client_gone_mid_stream_frees_the_upstream_at_once(gateway, primary):
    # A 5 s gap between events: the close must not wait for the next one.
    primary.set("ok", token_delay_s=5, words=4)
    body = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True}

    def after_first_event(sock):
        data = b""
        while b"data:" not in data:
            data += sock.recv(4096)

    closed_at = send_and_abandon(gateway, body, after_first_event)
    assert upstream_saw_close(primary, closed_at) < GOAL_S
    wait_until(lambda: gateway.upstream("self-hosted").health.in_flight == 0, timeout=2)
    wait_until(lambda: gateway.metric("gateway_requests_total", code="499") == 1, timeout=2)


def test_a_client_gone_while_waiting_for_a_json_answer_frees_the_upstream_at_once(gateway, primary, managed):
    primary.set("slow_first_byte", delay_s=5)
    body = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}]}
    closed_at = send_and_abandon(gateway, body, until_upstream_has_it(primary))
    assert upstream_saw_close(primary, closed_at) < GOAL_S
    wait_until(lambda: gateway.metric("gateway_requests_total", code="499") == 1, timeout=2)
    assert managed.requests == []  # a client that left is not served elsewhere either


def test_after_a_cancelled_request_the_next_one_is_served_normally(gateway, primary):
    primary.set("slow_first_byte", delay_s=5)
    body = {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}]}
    send_and_abandon(gateway, body, until_upstream_has_it(primary))
    primary.set("ok")
    assert gateway.chat().headers["x-gateway-served-by"] == "self-hosted"
