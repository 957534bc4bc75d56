"""The gateway's HTTP/1.1 framing against h11, the reference, over a generated corpus of framings.

For each framing (smuggling classics, obfuscated Transfer-Encoding, Content-Length oddities, bare
LF, NUL bytes, pipelining, Upgrade, trailers, Host variants, versions) both sides are asked the
same question: which requests, with which bodies, does this byte string hold, and does it end in a
protocol error? h11 is fed the bytes directly (as a server, answering each request so that it
reads the next); the gateway's server gets them over a real socket on 127.0.0.1, in front of an
application that echoes each request's method, target and body.

A difference is either a bug, or listed with its reason: `DIFFERENCES` where the gateway is the
stricter side (it refuses), `LENIENT` where it accepts what h11 refuses (both also in
docs/gateway.md "Framing"). The test fails on an unlisted difference and on a listed one
that no longer differs, so the table stays true.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import pytest
import uvloop

from serving.gateway.server import GatewayServer, Refusal, Request, Responder
from tests.serving.harness import free_port

pytestmark = pytest.mark.slow

H = b"Host: x\r\n"
GET = b"GET /a HTTP/1.1\r\n" + H + b"\r\n"

CORPUS: dict[str, bytes] = {
    # plain and pipelined
    "get": GET,
    "pipelined-3": GET + b"GET /b HTTP/1.1\r\n" + H + b"\r\n" + b"GET /c?q=1 HTTP/1.1\r\n" + H + b"\r\n",
    "post-length": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello" + GET,
    "get-with-body": b"GET /a HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc" + GET,
    "chunked": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + GET,
    "chunk-extension": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\n\r\n" + GET,
    "trailer": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nAuthorization: k\r\n\r\n" + GET,
    "connection-close-then-more": b"GET /a HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n" + GET,
    "http10-keep-alive": b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + GET,
    "http10-then-more": b"GET /a HTTP/1.0\r\n\r\n" + GET,
    # Content-Length
    "cl-cl-same": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + GET,
    "cl-cl-differ": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 5\r\n\r\nabcde" + GET,
    "cl-list": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc" + GET,
    "cl-negative": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n" + GET,
    "cl-plus": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n\r\nabc" + GET,
    "cl-hex": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 0x3\r\n\r\nabc" + GET,
    "cl-leading-zero": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 003\r\n\r\nabc" + GET,
    "cl-inner-space": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 1 2\r\n\r\nabc" + GET,
    "cl-huge": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\nabc",
    # Transfer-Encoding and its obfuscations
    "cl-te": b"POST /a HTTP/1.1\r\n" + H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX" + GET,
    "te-cl": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + GET,
    "te-trailing-space": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n" + GET,
    "te-xchunked": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + GET,
    "te-chunked-identity": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-identity-chunked": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-tab": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding:\tchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + GET,
    "te-upper": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + GET,
    "te-two-lines": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-folded": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + GET,
    "te-space-before-colon": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te-http10": b"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "chunk-size-overflow": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc",
    "chunk-no-crlf": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n" + GET,
    "chunk-lf-only": b"POST /a HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n" + GET,
    # line endings, whitespace, bytes
    "bare-lf": b"GET /a HTTP/1.1\nHost: x\n\n" + GET,
    "space-first-header": b"GET /a HTTP/1.1\r\n Host: x\r\n\r\n",
    "double-space-request-line": b"GET  /a HTTP/1.1\r\n" + H + b"\r\n",
    "leading-crlf": b"\r\n" + GET,
    "nul-in-value": b"GET /a HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
    "nul-in-target": b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n",
    "nul-in-name": b"GET /a HTTP/1.1\r\n" + H + b"X\x00A: b\r\n\r\n",
    "ctl-in-name": b"GET /a HTTP/1.1\r\n" + H + b"X\x01A: b\r\n\r\n",
    "obs-text-value": b"GET /a HTTP/1.1\r\n" + H + b"X-A: caf\xe9\r\n\r\n" + GET,
    "bad-method": b"G(T /a HTTP/1.1\r\n" + H + b"\r\n",
    "lowercase-version": b"GET /a http/1.1\r\n" + H + b"\r\n",
    # Upgrade and CONNECT
    "upgrade-websocket": b"GET /a HTTP/1.1\r\n"
    + H
    + b"Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc"
    + GET,
    "upgrade-h2c": b"GET /a HTTP/1.1\r\n"
    + H
    + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AA\r\n\r\n",
    "upgrade-without-connection": b"GET /a HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\n\r\n" + GET,
    "connect": b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n" + GET,
    # Host
    "host-missing": b"GET /a HTTP/1.1\r\n\r\n",
    "host-twice": b"GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "host-invalid": b"GET /a HTTP/1.1\r\nHost: a b\r\n\r\n",
    "host-empty": b"GET /a HTTP/1.1\r\nHost:\r\n\r\n",
    "host-ipv6-port": b"GET /a HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    "http10-no-host": b"GET /a HTTP/1.0\r\n\r\n",
    # target forms and versions
    "absolute-form": b"GET http://x/a?q=1 HTTP/1.1\r\n" + H + b"\r\n",
    "absolute-form-no-path": b"GET http://x HTTP/1.1\r\n" + H + b"\r\n",
    "asterisk-form": b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "http-2.0": b"GET /a HTTP/2.0\r\n" + H + b"\r\n",
    "http-1.2": b"GET /a HTTP/1.2\r\n" + H + b"\r\n",
    "http-0.9": b"GET /a HTTP/0.9\r\n" + H + b"\r\n",
    "expect-continue": b"POST /a HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc" + GET,
}

# Deliberate differences: the gateway refuses (or h11 refuses) where the other does not. Each
# entry: (h11's view, the gateway's view, why). Mirrored in docs/gateway.md "Framing".
DIFFERENCES: dict[str, str] = {
    "upgrade-websocket": "h11 reads an Upgrade request and lets the server decline; the gateway refuses any Upgrade "
    "header (400, close): a proxy that forwards Upgrade may have switched to tunnelling, so later bytes on the "
    "connection are never read as requests (issue 16: a smuggled chat completion through nginx).",
    "upgrade-h2c": "as upgrade-websocket.",
    "upgrade-without-connection": "as upgrade-websocket: refused even without `Connection: upgrade`.",
    "host-invalid": "h11 checks only that a Host field exists once; the gateway also checks its syntax (RFC 9112 "
    "section 3.2: a server MUST answer 400 to an invalid Host).",
    "http-2.0": "h11 accepts any HTTP/1.x-shaped version; the gateway answers 505 to versions other than 1.0 and 1.1.",
    "http-1.2": "as http-2.0.",
    "connect": "h11 reads CONNECT and lets the server decline it; httptools treats CONNECT as a protocol switch, so "
    "the gateway refuses it (400, close) and reads nothing after it.",
    "http-0.9": "as http-2.0 (h11 reads `HTTP/0.9` with headers as HTTP/1.0).",
    "cl-te": "h11 lets Transfer-Encoding override Content-Length (RFC 9112 section 6.1 allows either); the gateway "
    "(llhttp) refuses a request with both (400, close): the classic CL.TE/TE.CL smuggling needs a parser that accepts it.",
    "te-cl": "as cl-te.",
    "cl-cl-same": "h11 accepts a repeated Content-Length of one value (RFC 9110 section 8.6 allows it); the gateway "
    "(llhttp) refuses any repeated Content-Length (400).",
    "cl-list": "as cl-cl-same (`Content-Length: 3, 3`).",
    "te-folded": "h11 unfolds an obs-fold line; the gateway refuses it (400), which RFC 9112 section 5.2 allows.",
    "chunk-size-overflow": "h11 waits for 2^72 bytes of chunk; the gateway refuses a chunk size over 64 bits (400).",
    "bare-lf": "h11 accepts a bare LF as a line end (RFC 9112 section 2.2: MAY); the gateway (llhttp) refuses it (400).",
}

# The gateway accepts where h11 refuses: harmless, each for the reason given. A request here is
# read the same way by any parser that accepts it at all (no second reading of the bytes exists).
LENIENT: dict[str, str] = {
    "leading-crlf": "RFC 9112 section 2.2: a server SHOULD ignore at least one empty line before a request-line; h11 refuses it.",
    "double-space-request-line": "RFC 9112 section 3: recipients MAY split the request-line on whitespace; the target "
    "is the same either way (`/a`).",
}


@dataclass(frozen=True)
class Seen:
    """What one side made of a byte string: the requests it accepted, and how it ended."""

    requests: tuple[tuple[str, str, bytes], ...]
    error: bool


def _target(raw: bytes) -> str:
    text = raw.decode("latin-1")
    if text.lower().startswith(("http://", "https://")):
        parts = urlsplit(text)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return text


def h11_view(data: bytes) -> Seen:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    requests: list[tuple[str, str, bytes]] = []
    current: list = []
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                return Seen(tuple(requests), False)
            if isinstance(event, h11.Request):
                current = [event.method.decode(), _target(event.target), b""]
            elif isinstance(event, h11.Data):
                current[2] += event.data
            elif isinstance(event, h11.EndOfMessage):
                requests.append((current[0], current[1], bytes(current[2])))
                # A CONNECT is declined (a 2xx would switch h11 to a tunnel); anything else is served.
                status = 405 if current[0] == "CONNECT" else 200
                conn.send(h11.Response(status_code=status, headers=[("content-length", "0")]))
                conn.send(h11.EndOfMessage())
                if conn.our_state is h11.MUST_CLOSE:
                    return Seen(tuple(requests), False)
                conn.start_next_cycle()
    except h11.RemoteProtocolError:
        return Seen(tuple(requests), True)


class EchoApp:
    """Accepts every head; answers each request with its method, target and body."""

    def check_head(self, request: Request) -> Refusal | None:
        return None

    async def handle(self, request: Request, responder: Responder) -> None:
        target = request.path + (b"?" + request.query if request.query else b"")
        echo = {"method": request.method.decode("latin-1"), "target": target.decode("latin-1"), "body": request.body.hex()}
        responder.send(200, [(b"content-type", b"application/json")], json.dumps(echo).encode())

    def refusal(self, status: int, code: str, message: str, request: Request | None) -> Refusal:
        return Refusal(status, [(b"x-code", code.encode())], b"")


class Limits:
    max_connections = 256
    max_header_bytes = 16 * 1024
    max_headers = 100
    header_timeout_s = 0.3
    body_timeout_s = 0.3
    keepalive_timeout_s = 0.3
    send_timeout_s = 2.0
    graceful_shutdown_s = 0.5


@pytest.fixture(scope="module")
def echo_port():
    port = free_port()
    ready = threading.Event()
    stop: list = []

    async def main() -> None:
        server = GatewayServer(EchoApp(), Limits(), max_body_bytes=1 << 20)
        await server.start("127.0.0.1", port)
        done = asyncio.Event()
        stop.append((asyncio.get_running_loop(), done))
        ready.set()
        await done.wait()
        await server.shutdown()

    thread = threading.Thread(target=uvloop.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port
    loop, done = stop[0]
    loop.call_soon_threadsafe(done.set)
    thread.join(10)


def gateway_view(port: int, data: bytes) -> Seen:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        received = b""
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            received += chunk
    requests: list[tuple[str, str, bytes]] = []
    error = False
    while b"\r\n\r\n" in received:
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        body, received = rest[:length], rest[length:]
        if status == 100:
            continue
        if status == 200:
            echo = json.loads(body)
            requests.append((echo["method"], echo["target"], bytes.fromhex(echo["body"])))
        elif status == 408:
            pass  # an incomplete request that h11 would still be waiting for
        else:
            error = True
    return Seen(tuple(requests), error)


def test_the_corpus_is_framed_as_h11_frames_it_apart_from_the_listed_differences(echo_port):
    with ThreadPoolExecutor(16) as pool:
        gateway = dict(zip(CORPUS, pool.map(lambda data: gateway_view(echo_port, data), CORPUS.values()), strict=True))
    reference = {name: h11_view(data) for name, data in CORPUS.items()}
    differ = {name for name in CORPUS if gateway[name] != reference[name]}
    listed = set(DIFFERENCES) | set(LENIENT)
    unexplained = {name: (reference[name], gateway[name]) for name in sorted(differ - listed)}
    assert not unexplained, f"framings where the gateway and h11 disagree (h11, gateway): {unexplained}"
    stale = sorted(listed - differ)
    assert not stale, f"listed as different but now the same (remove from DIFFERENCES and the docs): {stale}"


def test_where_the_gateway_is_stricter_it_refuses_and_never_serves_an_extra_request(echo_port):
    """Where the two disagree the gateway must be the stricter side: it serves a prefix of what
    h11 serves, and ends in an error; it never serves a request h11 does not see."""
    for name in DIFFERENCES:
        ours, theirs = gateway_view(echo_port, CORPUS[name]), h11_view(CORPUS[name])
        assert ours.error, name
        assert ours.requests == theirs.requests[: len(ours.requests)], name


def test_the_corpus_covers_the_smuggling_classics():
    names = set(CORPUS)
    for required in ("cl-te", "te-cl", "cl-cl-differ", "te-xchunked", "te-folded", "bare-lf", "nul-in-value", "trailer"):
        assert required in names


def test_where_the_gateway_is_more_lenient_it_serves_one_request_per_head(echo_port):
    for name in LENIENT:
        ours, theirs = gateway_view(echo_port, CORPUS[name]), h11_view(CORPUS[name])
        assert theirs.error and ours.requests == (("GET", "/a", b""),), name
