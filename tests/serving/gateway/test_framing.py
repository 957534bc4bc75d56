"""HTTP framing a proxy in front of the gateway can trust, over raw sockets on 127.0.0.1.

Each test is a reproduction from issue 16 that the old server failed: a guard that did not hold
for a pipelined head (the head began while a handler ran), a protocol switch that made later body
bytes new requests, trailers read as headers, and deviations from RFC 9112 (Host, absolute-form,
version, HEAD, Expect). The framing corpus against h11 is in test_framing_differential.py.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest

from tests.serving.gateway.test_http_hardening import FAST_SERVER, assert_error, closed_by_peer, connect, read_response
from tests.serving.harness import KEYS, PUBLIC_MODEL

pytestmark = pytest.mark.slow

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
AUTH = f"Authorization: Bearer {KEYS['app']}\r\n"


def responses(sock: socket.socket, count: int, deadline_s: float = 5.0) -> list[tuple[int, dict[str, str], bytes]]:
    """`count` responses, or fewer if the peer closes first (every response here has a length)."""
    data = b""
    end = time.monotonic() + deadline_s
    parsed: list[tuple[int, dict[str, str], bytes]] = []
    while len(parsed) < count and time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            chunk = b""
        data += chunk
        while b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            if len(rest) < length:
                break
            parsed.append((int(lines[0].split()[1]), headers, rest[:length]))
            data = rest[length:]
        if not chunk:
            break
    return parsed


def nothing_more(sock: socket.socket, within_s: float = 0.5) -> bool:
    """The peer closes without sending another byte (no hidden response)."""
    sock.settimeout(within_s)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


# -- guards on every head, pipelined ones included ---------------------------------------------------


def test_a_pipelined_head_that_grows_while_a_handler_runs_gets_431(start_gateway):
    """The issue's reproduction: the second head begins in the same send as the first request, and
    then one header value grows by 64 KiB a send. Before, it grew for ever (160 MB in 23 s)."""
    gateway = start_gateway(server=FAST_SERVER | {"header_timeout_s": 30})
    with connect(gateway) as sock:
        sock.sendall(HEALTHZ + b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ")
        sent = 0
        try:
            while sent < 4 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        (first, _, _), (status, headers, body) = responses(sock, 2)
        assert first == 200
        assert_error(status, headers, body, 431, "headers_too_large")
        assert headers["connection"] == "close"
    # A limit of 4 KiB plus one read: far less than what was offered before the gateway stopped reading.
    assert sent < 4 * 1024 * 1024


def test_a_pipelined_keyless_post_is_refused_before_its_body_is_read(gateway):
    """GET /healthz and a key-less POST announcing 4 MB in one send: 401 at once, no body awaited."""
    with connect(gateway) as sock:
        sock.sendall(
            HEALTHZ + b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4000000\r\n\r\n"
        )
        started = time.monotonic()
        (first, _, _), (status, headers, body) = responses(sock, 2)
        assert first == 200
        assert_error(status, headers, body, 401, "invalid_api_key")
        # Answered without waiting for the body (the test settings' body timeout is longer).
        assert time.monotonic() - started < gateway.settings.server.body_timeout_s
        assert closed_by_peer(sock, 2)


def test_a_pipelined_head_that_trickles_gets_408_at_the_head_deadline(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(HEALTHZ + b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert read_response(sock)[0] == 200
        end = time.monotonic() + 3
        status = None
        while time.monotonic() < end:
            try:
                sock.sendall(b"X-Trickle: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
            sock.settimeout(0.01)
            try:
                peek = sock.recv(65536, socket.MSG_PEEK)
            except TimeoutError:
                continue
            if peek:
                sock.settimeout(3)
                status = read_response(sock)[0]
                break
        assert status == 408


def test_a_head_trickled_one_line_at_a_time_is_closed_at_the_head_deadline(start_gateway):
    """One header line well within any per-read timeout, for ever: the whole head has a deadline."""
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed = False
        while time.monotonic() - started < 3:
            time.sleep(0.1)
            try:
                sock.sendall(b"X-Trickle: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.01)
            try:
                if sock.recv(65536, socket.MSG_PEEK):
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed
        assert time.monotonic() - started < 0.4 + 0.5  # the head deadline and a sweep


# -- no protocol switch, no trailers as headers --------------------------------------------------


def test_an_upgrade_request_is_refused_and_its_body_never_becomes_a_request(gateway):
    """Before, httptools switched to upgrade mode: the body, sent later, was served as a request
    (through nginx's WebSocket snippet, a hidden chat completion)."""
    hidden = f"GET /v1/models HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode()
    with connect(gateway) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Content-Length: %d\r\n\r\n" % len(hidden)
        )
        time.sleep(0.1)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(hidden)
        status, headers, body = read_response(sock)
        assert_error(status, headers, body, 400, "upgrade_not_supported")
        assert headers["connection"] == "close"
        assert nothing_more(sock)


def test_a_key_only_in_a_chunked_trailer_is_not_a_key(gateway):
    with connect(gateway) as sock:
        sock.sendall(f"GET /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n{AUTH}\r\n".encode())
        status, headers, body = read_response(sock)
        assert_error(status, headers, body, 401, "invalid_api_key")


def test_trailers_are_bounded_like_a_head(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")
        try:
            for _ in range(64):
                sock.sendall(b"X-T: " + b"a" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, body = read_response(sock)
        assert_error(status, headers, body, 431, "headers_too_large")


# -- RFC 9112: Host, target forms, version, HEAD, Expect, Authorization --------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a@b\r\n\r\n",
        b"GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
    ],
    ids=["missing", "two-values", "twice-same", "space", "slash", "userinfo", "http10-two"],
)
def test_a_missing_duplicate_or_invalid_host_is_400(gateway, head):
    with connect(gateway) as sock:
        sock.sendall(head)
        status, headers, body = read_response(sock)
        assert_error(status, headers, body, 400, "invalid_host")
        assert closed_by_peer(sock, 2)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.0\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: gw.example:8080\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: \r\n\r\n",
    ],
    ids=["http10-none", "name-port", "ipv6", "empty"],
)
def test_a_valid_host_or_none_on_http_10_is_served(gateway, head):
    with connect(gateway) as sock:
        sock.sendall(head)
        assert read_response(sock)[0] == 200


def test_an_absolute_form_target_is_routed_by_its_path(gateway):
    with connect(gateway) as sock:
        sock.sendall(f"GET http://gw.example/v1/models HTTP/1.1\r\nHost: gw.example\r\n{AUTH}\r\n".encode())
        status, _, body = read_response(sock)
        assert status == 200
        assert PUBLIC_MODEL in [m["id"] for m in json.loads(body)["data"]]


@pytest.mark.parametrize("version", [b"2.0", b"1.2", b"0.9"])
def test_a_request_line_of_another_http_version_is_refused(gateway, version):
    with connect(gateway) as sock:
        sock.sendall(b"GET /healthz HTTP/" + version + b"\r\nHost: x\r\n\r\n")
        status, _, _ = read_response(sock)
        assert status in (400, 505)
        assert closed_by_peer(sock, 2)


def test_head_is_answered_without_a_body_and_the_next_response_follows_intact(gateway):
    with connect(gateway) as sock:
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + HEALTHZ)
        data = b""
        end = time.monotonic() + 5
        while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b'{"status":"ok"}'):
            assert time.monotonic() < end, data
            data += sock.recv(65536)
        first, second = data.split(b"\r\n\r\n", 1)
        assert first.startswith(b"HTTP/1.1 200 ") and b"content-length: 15" in first
        assert second.startswith(b"HTTP/1.1 200 ")  # no body between the two heads


def test_a_refusal_of_head_has_no_body(gateway):
    with connect(gateway) as sock:
        sock.sendall(b"HEAD /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(3)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404 ") and rest == b""


@pytest.mark.parametrize("expect", [b"100-continue", b"100-Continue", b"100-CONTINUE "])
def test_expect_100_continue_is_case_insensitive(gateway, primary, expect):
    body = json.dumps({"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
    with connect(gateway) as sock:
        sock.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\n".encode()
            + b"Content-Length: %d\r\nExpect: %s\r\n\r\n" % (len(body), expect)
        )
        sock.settimeout(3)
        interim = b""
        while len(interim) < 25:
            interim += sock.recv(25 - len(interim))
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert read_response(sock)[0] == 200


def test_two_authorization_headers_are_400(gateway, primary):
    other = KEYS["sovereign"]
    with connect(gateway) as sock:
        sock.sendall(f"GET /v1/models HTTP/1.1\r\nHost: x\r\n{AUTH}Authorization: Bearer {other}\r\n\r\n".encode())
        status, headers, body = read_response(sock)
        assert_error(status, headers, body, 400, "duplicate_authorization")
