"""Hostile and careless clients, over raw sockets on 127.0.0.1: header size and count, slow and
silent connections, slow bodies, the connection cap, deep JSON, HTTP/1.0, pipelining.

Every refusal is an OpenAI-shaped error with a request id; every loop here is bounded in count
and in time.
"""

from __future__ import annotations

import json
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serving.harness import KEYS, PUBLIC_MODEL, settings_for_test, wait_until, write_secrets

pytestmark = pytest.mark.slow

FAST_SERVER = {
    "header_timeout_s": 0.4,
    "body_timeout_s": 0.4,
    "keepalive_timeout_s": 0.6,
    "send_timeout_s": 2.0,
    "max_header_bytes": 4096,
    "max_headers": 20,
}
BODY = json.dumps({"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()


def connect(gateway, timeout: float = 3.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.settings.port), timeout=timeout)
    return sock


def request(body: bytes = BODY, key: str = "app", version: str = "1.1", extra: str = "") -> bytes:
    return (
        f"POST /v1/chat/completions HTTP/{version}\r\nHost: gw\r\nAuthorization: Bearer {KEYS[key]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def read_response(sock: socket.socket, deadline_s: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case), body (by content-length, chunked, or to close)."""
    data = b""
    end = time.monotonic() + deadline_s
    while b"\r\n\r\n" not in data:
        if time.monotonic() > end:
            raise AssertionError("no response head in time")
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length and time.monotonic() < end:
            rest += sock.recv(65536)
        return status, headers, rest[:length]
    while time.monotonic() < end:  # chunked or close-delimited: read to the end
        if headers.get("transfer-encoding") == "chunked" and rest.endswith(b"0\r\n\r\n"):
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest


def closed_by_peer(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def assert_error(status: int, headers: dict, body: bytes, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert headers["content-type"] == "application/json"
    assert len(headers["x-gateway-request-id"]) == 16
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code


# -- header limits ----------------------------------------------------------------------------------


def test_an_oversized_header_is_431_and_never_buffered_whole(start_gateway, primary):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Junk: ")
        # Megabytes of one header value: refused once the limit is passed, not after all of it.
        sent = 0
        try:
            while sent < 32 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 32 * 1024 * 1024, "the gateway kept reading a 32 MiB header"
    assert primary.chat_requests() == []


def test_headers_over_the_byte_limit_get_431_in_the_openai_shape(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(request(extra="X-Big: " + "b" * 5000 + "\r\n"))
        assert_error(*read_response(sock), 431, "headers_too_large")
        assert closed_by_peer(sock, 2)
    assert gateway.metric("gateway_rejected_total", code="431") == 1


def test_too_many_header_fields_get_431(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(request(extra="".join(f"X-H{i}: v\r\n" for i in range(30))))
        assert_error(*read_response(sock), 431, "too_many_headers")


def test_an_overlong_url_gets_414(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(b"GET /v1/models?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert_error(*read_response(sock), 414, "url_too_long")


def test_malformed_http_gets_400_not_a_crash(gateway):
    with connect(gateway) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert_error(*read_response(sock), 400, "invalid_request")
    assert gateway.chat().status_code == 200


# -- time limits ------------------------------------------------------------------------------------


def test_a_head_that_arrives_too_slowly_gets_408_and_the_connection_closes(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n")
        started = time.monotonic()
        status, headers, body = read_response(sock)
        assert_error(status, headers, body, 408, "request_timeout")
        assert time.monotonic() - started < 2.0
        assert closed_by_peer(sock, 2)


def test_slow_header_connections_are_all_dropped(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    socks = [connect(gateway) for _ in range(50)]
    try:
        for sock in socks:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
        time.sleep(0.2)
        for sock in socks:
            sock.sendall(b"X-Drip: 1\r\n")  # still dripping, but the head deadline counts from its first byte
        for sock in socks:
            assert read_response(sock)[0] == 408
            assert closed_by_peer(sock, 3)
        # Only the connection that reads /metrics is left.
        wait_until(lambda: gateway.metric("gateway_open_connections") <= 1, timeout=3)
    finally:
        for sock in socks:
            sock.close()


def test_silent_connections_are_closed_after_the_head_timeout(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    socks = [connect(gateway) for _ in range(20)]
    try:
        assert all(closed_by_peer(sock, 3) for sock in socks)
    finally:
        for sock in socks:
            sock.close()


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(start_gateway):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(request())
        assert read_response(sock)[0] == 200
        started = time.monotonic()
        assert closed_by_peer(sock, 3)
        assert 0.4 <= time.monotonic() - started < 2.5


def test_a_body_that_arrives_too_slowly_gets_408(start_gateway, primary):
    gateway = start_gateway(server=FAST_SERVER)
    with connect(gateway) as sock:
        sock.sendall(request()[: -len(BODY) + 5])  # the head and 5 bytes of the body
        assert_error(*read_response(sock), 408, "request_timeout")
    assert primary.chat_requests() == []


# -- the connection cap ---------------------------------------------------------------------------


def test_idle_connections_at_the_cap_make_room_for_an_honest_request(start_gateway):
    gateway = start_gateway(server={**FAST_SERVER, "header_timeout_s": 30, "keepalive_timeout_s": 30, "max_connections": 16})
    idle = [connect(gateway) for _ in range(24)]  # more than the cap, all silent
    try:
        assert gateway.chat().status_code == 200
        assert gateway.metric("gateway_open_connections") <= 16
    finally:
        for sock in idle:
            sock.close()


def test_when_every_connection_is_busy_a_new_one_gets_503_too_many_connections(start_gateway):
    gateway = start_gateway(server={**FAST_SERVER, "header_timeout_s": 30, "max_connections": 8})
    busy = [connect(gateway) for _ in range(8)]
    try:
        for sock in busy:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")  # mid-head: not idle
        wait_until(lambda: gateway.app.metrics.child(gateway.app.metrics.connections)._value.get() == 8, timeout=3)
        with connect(gateway) as extra:
            status, headers, body = read_response(extra)
            assert_error(status, headers, body, 503, "too_many_connections")
            assert headers["retry-after"] == "1"
    finally:
        for sock in busy:
            sock.close()


def test_with_a_low_open_file_limit_idle_connections_never_starve_honest_requests(primary, managed, tmp_path):
    """With 256 files (the issue: 1,024 files, 1,074 idle connections), 300 idle connections and
    then an honest request: the cap sits below the limit, and idle connections give way."""
    clients_file, key_file = write_secrets(tmp_path)
    settings = settings_for_test(primary.base_url, managed.base_url, clients_file, key_file)
    settings["server"] = {"header_timeout_s": 60, "keepalive_timeout_s": 60}
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps(settings))

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    log = open(tmp_path / "gateway.log", "wb")  # noqa: SIM115 (the process writes it; closed in finally)
    process = subprocess.Popen(
        [sys.executable, "-m", "serving.gateway", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=low_limit,
        cwd=Path(__file__).resolve().parents[3],
    )
    idle: list[socket.socket] = []
    try:
        port = settings["port"]
        wait_until(lambda: _answers(port), timeout=40)  # a cold interpreter on 2 busy cores
        for _ in range(300):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request())
            assert read_response(sock)[0] == 200
    finally:
        for sock in idle:
            sock.close()
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        log.close()
    assert "client connections" in (tmp_path / "gateway.log").read_text()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
            return read_response(sock, 2)[0] == 200
    except (OSError, AssertionError):
        return False


# -- bodies -----------------------------------------------------------------------------------------


def test_a_deeply_nested_body_is_400_invalid_json_with_a_request_id(gateway, primary):
    nested = b'{"model": "gpt-oss-120b", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with connect(gateway) as sock:
        sock.sendall(request(nested))
        status, headers, body = read_response(sock)
    assert_error(status, headers, body, 400, "invalid_json")
    assert "nests" in json.loads(body)["error"]["message"]
    assert primary.chat_requests() == []
    assert gateway.metric("gateway_rejected_total", code="400") == 1


def test_a_body_nested_just_past_the_limit_is_refused_and_one_within_it_is_not(gateway, primary):
    def nested(depth: int) -> bytes:
        # messages[0].content is a list: depth = object + messages array + message + content list ...
        return (
            json.dumps({"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}], "metadata": {}}).encode()[:-1]
            + b', "tools": '
            + b"[" * depth
            + b"]" * depth
            + b"}"
        )

    assert (
        gateway.http.post("/v1/chat/completions", content=nested(70), headers=_auth()).json()["error"]["code"] == "invalid_json"
    )
    assert gateway.http.post("/v1/chat/completions", content=nested(3), headers=_auth()).status_code != 500


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS['app']}", "content-type": "application/json"}


def test_a_parse_error_is_400_invalid_json_with_a_request_id(gateway):
    response = gateway.http.post("/v1/chat/completions", content=b'{"model": ', headers=_auth())
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    assert response.headers["x-gateway-request-id"]


def test_expect_100_continue_is_answered(gateway):
    with connect(gateway) as sock:
        sock.sendall(request(extra="Expect: 100-continue\r\n")[: -len(BODY)])
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(BODY)
        assert read_response(sock)[0] == 200


def test_pipelined_requests_are_answered_in_order(gateway):
    with connect(gateway) as sock:
        sock.sendall(request() + request(key="sovereign") + b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        first, second, third = read_pipelined(sock, 3)
    assert first[0] == second[0] == third[0] == 200
    assert json.loads(first[1])["object"] == json.loads(second[1])["object"] == "chat.completion"
    assert json.loads(third[1]) == {"status": "ok"}


def read_pipelined(sock: socket.socket, count: int, deadline_s: float = 5.0) -> list[tuple[int, bytes]]:
    """`count` responses with a content-length from one connection, in order (one buffer: a read
    may hold several of them)."""
    data, out = b"", []
    end = time.monotonic() + deadline_s
    while len(out) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").split("\r\n")
            length = next(int(line.split(":")[1]) for line in head if line.lower().startswith("content-length"))
            if len(data) >= head_end + 4 + length:
                out.append((int(head[0].split()[1]), data[head_end + 4 : head_end + 4 + length]))
                data = data[head_end + 4 + length :]
                continue
        if time.monotonic() > end:
            raise AssertionError(f"{len(out)} of {count} responses in time")
        data += sock.recv(65536)
    return out


# -- HTTP/1.0 -----------------------------------------------------------------------------------------


def test_an_http_10_client_gets_a_stream_without_chunked_encoding(gateway):
    body = json.dumps({"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}).encode()
    with connect(gateway) as sock:
        sock.sendall(request(body, version="1.0"))
        status, headers, payload = read_response(sock)
        assert closed_by_peer(sock, 2)
    assert status == 200
    assert "transfer-encoding" not in headers and headers["connection"] == "close"
    assert payload.startswith(b"data: {") and payload.endswith(b"data: [DONE]\n\n")
    assert b"\r\n0\r\n" not in payload  # no chunk framing anywhere


def test_an_http_10_client_gets_a_json_answer_with_its_length(gateway):
    with connect(gateway) as sock:
        sock.sendall(request(version="1.0"))
        status, headers, payload = read_response(sock)
    assert status == 200 and int(headers["content-length"]) == len(payload)
    assert json.loads(payload)["object"] == "chat.completion"
