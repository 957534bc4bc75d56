"""The gateway's HTTP/1.1 server: httptools on an asyncio (uvloop) event loop, built for hostile
clients and for no per-request waste.

Why not uvicorn: what a gateway in front of GPUs must do lives below ASGI, where uvicorn offers
no knob: a limit on header size and count (a 32 MiB header was accepted), deadlines for the head
and the body of a request and for a brand-new silent connection (they stayed open for ever), a
connection cap that answers in the OpenAI error shape and frees idle keep-alive connections
first, and cancelling the handler the moment the client's connection is lost, so the upstream
request is closed at once and the GPU stops working for nobody. Measured, it also costs a
fraction of uvicorn's CPU per request (docs/gateway.md "Benchmark").

Per connection (`_Connection`), two states as in h11's ConnectionState: what the parser reads
(`state`: idle, head, body) and whether a response is owed (`busy`). Every guard below keys on the
reading side, so it holds for every head, pipelined ones included:
- the head is parsed by httptools; a URL over the limit is 414, headers over their byte or count
  limit 431 (bytes counted while a head is incomplete, so one giant header never grows), a
  malformed request 400, a version other than HTTP/1.1 or 1.0 505, a missing, repeated or invalid
  Host (HTTP/1.1) 400, an `Upgrade` header 400 (never a protocol switch); each is an OpenAI-shaped
  error with a request id, counted and logged by the application (`HttpApp.refusal`), and the
  connection is closed after the responses owed before it;
- when a head is complete the application may refuse the request before its body is read
  (`HttpApp.check_head`: unknown path, missing key, declared size over the limit);
- a chunked body's trailer fields are bounded like a head and discarded, never read as headers;
- an absolute-form target (`GET http://host/path`) is routed by its path (RFC 9112 section 3.2.2);
- deadlines (the whole head from its first byte, the body, keep-alive idle, a client that stops
  reading) are checked by one sweeper for all connections, so a request pays for no timer of its own;
- one request runs at a time; complete pipelined requests wait their turn (a few, then reading pauses);
- when the connection is lost while a handler runs, that handler's task is cancelled at once;
- HEAD gets the head of the answer and no body (RFC 9110 section 9.3.2);
- HTTP/1.0 clients never get a chunked body: a body of unknown length (a stream) is delimited by
  closing the connection, which HTTP/1.0 allows (RFC 9112 section 6.3, rule 8).
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import os
import re
import resource
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Protocol, cast

import httptools

log = logging.getLogger("serving.gateway.server")

Headers = list[tuple[bytes, bytes]]
# Pipelined requests queued behind the running one before the connection stops being read.
MAX_PIPELINED = 4
# File descriptors kept free for upstream connections, secret reloads, logs and the 503 path.
FD_RESERVE = 64
# Why a connection's transport is set wherever it is used: asyncio calls connection_made first,
# and the server holds only connections it admitted there.
_MADE = "connection_made sets the transport before any other callback"


class Request:
    """One parsed request. Header names are lower-case; `body` is complete when the handler runs."""

    __slots__ = ("body", "context", "headers", "http_11", "id", "keep_alive", "method", "path", "query", "received")

    def __init__(self, method: bytes, url: bytes, headers: Headers, http_11: bool, keep_alive: bool, now: float):
        self.id = os.urandom(8).hex().encode()
        self.method = method
        path, _, query = url.partition(b"?")
        self.path = path
        self.query = query
        self.headers = headers
        self.http_11 = http_11
        self.keep_alive = keep_alive
        self.body = b""
        self.received = now
        self.context: object = None  # the application's own per-request data (e.g. the authenticated key)

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Refusal:
    """A whole error response the server writes for the application (the connection then closes)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class HttpApp(Protocol):
    def check_head(self, request: Request) -> Refusal | None:
        """Refuse a request from its head alone (path, method, key, declared size), or None."""

    async def handle(self, request: Request, responder: Responder) -> None:
        """Answer a complete request."""

    def refusal(self, status: int, code: str, message: str, request: Request | None) -> Refusal:
        """The OpenAI-shaped error for a refusal by the server itself (also counted and logged)."""
        ...


class CancelCause(enum.Enum):
    CLIENT_GONE = "client_gone"
    SHUTDOWN = "shutdown"


class ClientGone(Exception):
    """The client's connection is closed: nothing more can be written."""


class _State(enum.Enum):
    """The client's side of the connection (h11's `their_state`): what the parser reads now.

    Whether a handler runs is the other side (`_Connection.busy`), kept apart on purpose: with one
    state for both questions a head that began while a handler ran was never checked as a head
    (no byte limit, no deadline, no auth before its body).
    """

    IDLE = 0  # between requests (or before the first): waiting for a request's first byte
    HEAD = 1  # reading a request's head
    BODY = 2  # reading its body
    CLOSED = 4


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


_STATUS_LINES = {s.value: _status_line(s.value) for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Host = uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986 section 3.2.2): an IP literal in
# brackets or a reg-name (unreserved, pct-encoded, sub-delims); empty is allowed (no authority).
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?\Z")


class Responder:
    """Writes one response on its connection: whole (`send`) or streamed (`start`, `write`, `finish`)."""

    __slots__ = ("_chunked", "_close", "_conn", "_head", "_head_only", "cancel_cause", "finished", "started")

    def __init__(self, conn: _Connection, close: bool, head_only: bool = False) -> None:
        self._conn = conn
        self._chunked = False
        self._close = close
        # The answer to HEAD: the same head, never a body (RFC 9110 section 9.3.2).
        self._head_only = head_only
        # A started response's head waits for its first block: one write (one syscall) for both.
        self._head = b""
        self.started = False
        self.finished = False
        self.cancel_cause: CancelCause | None = None

    def _render_head(self, status: int, headers: Headers, framing: bytes) -> bytes:
        parts = [_STATUS_LINES.get(status) or _status_line(status)]
        for name, value in headers:
            parts.append(name + b": " + value + b"\r\n")
        parts.append(framing)
        parts.append(self._conn.server.date_header)
        parts.append(b"connection: close\r\n\r\n" if self._close else b"\r\n")
        return b"".join(parts)

    def send(self, status: int, headers: Headers, body: bytes) -> None:
        """The whole response at once."""
        self.started = self.finished = True
        framing = b"content-length: %d\r\n" % len(body)
        head = self._render_head(status, headers, framing)
        self._conn.write(head if self._head_only else head + body)
        self._conn.response_done(self._close)

    def start(self, status: int, headers: Headers) -> None:
        """A response whose length is not known yet (server-sent events)."""
        self.started = True
        if self._conn.request_http_11:
            self._chunked = True
            self._head = self._render_head(status, headers, b"transfer-encoding: chunked\r\n")
        else:
            self._close = True  # HTTP/1.0: the end of the body is the end of the connection
            self._head = self._render_head(status, headers, b"")

    async def write(self, data: bytes) -> None:
        """One block of a started response; waits while the client's socket buffer is full."""
        if not data or self._head_only:
            return
        conn = self._conn
        if conn.state is _State.CLOSED:
            raise ClientGone
        block = b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data
        if self._head:
            block, self._head = self._head + block, b""
        conn.write(block)
        if conn.write_paused:
            await conn.drained()

    def finish(self, data: bytes = b"") -> None:
        """The last block of a started response."""
        if self.finished:
            return
        self.finished = True
        conn = self._conn
        if conn.state is _State.CLOSED:
            return
        block = (b"%x\r\n%s\r\n" % (len(data), data) if data else b"") + b"0\r\n\r\n" if self._chunked else data
        conn.write(self._head if self._head_only else self._head + block)
        self._head = b""
        conn.response_done(self._close)


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_body",
        "_body_size",
        "_continue",
        "_drain",
        "_head_bytes",
        "_head_fresh",
        "_header_bytes",
        "_headers",
        "_hosts",
        "_parser",
        "_queue",
        "_reason",
        "_refused",
        "_request",
        "_responder",
        "_task",
        "_te_lines",
        "_upgrade",
        "_url",
        "busy",
        "deadline",
        "idle_since",
        "loop",
        "request_http_11",
        "send_deadline",
        "server",
        "state",
        "transport",
        "write_paused",
    )

    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        assert server.loop is not None, "connections come from the listener that start() opens, after it set the loop"
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        # Two sides, two states (h11's ConnectionState): `state` is what the parser reads, `busy`
        # whether a response is being produced. Every guard on a head keys on `state` alone.
        self.state = _State.IDLE
        self.busy = False
        self.deadline = 0.0  # the reading side's: head, body, or idle keep-alive
        self.send_deadline = 0.0  # the writing side's: a client that stopped reading
        self.idle_since = 0.0
        self.write_paused = False
        self.request_http_11 = True
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: Headers = []
        self._header_bytes = 0
        self._head_bytes = 0
        self._head_fresh = False
        self._hosts = 0
        self._te_lines = 0
        self._upgrade = False
        self._continue = False
        self._body: list[bytes] = []
        self._body_size = 0
        self._request: Request | None = None
        # Complete requests (and at most one final refusal) waiting for the running response.
        self._queue: collections.deque[Request | Refusal] = collections.deque()
        self._task: asyncio.Task | None = None
        self._responder: Responder | None = None
        self._drain: asyncio.Future | None = None
        self._reason: tuple[int, str, str] | None = None  # why a parser callback stopped the parser
        self._refused = False  # a refusal is written or queued: nothing more is read

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # typeshed types this argument as BaseTransport for every kind of protocol; a stream
        # server's protocol gets a Transport (docs.python.org, asyncio "Transports and
        # Protocols"). cast, not isinstance: uvloop's TCPTransport does not subclass asyncio's.
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        now = self.loop.time()
        if not server.admit(self, now):
            return
        self.idle_since = now
        # A brand-new connection must finish its first head within the head deadline of its accept.
        self.deadline = now + server.settings.header_timeout_s

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _State.CLOSED
        self.server.forget(self)
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ClientGone())
        if self.busy and self._task is not None and not self._task.done():
            # The client is gone: stop its handler now, which closes the upstream request.
            assert self._responder is not None, "_run sets the responder with the task"
            self._responder.cancel_cause = CancelCause.CLIENT_GONE
            self._task.cancel()

    def eof_received(self) -> bool:
        return False  # a half-closed client is treated as gone (the transport closes)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    @property
    def idle(self) -> bool:
        """Nothing in flight on either side: the connection may be closed without losing anything."""
        return self.state is _State.IDLE and not self.busy and not self._queue

    def data_received(self, data: bytes) -> None:
        if self.state is _State.CLOSED or self._refused:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT (an Upgrade header is refused at its head): never a protocol switch, in
            # which httptools would stop parsing and later bytes would be read as new requests.
            self._refuse(400, "upgrade_not_supported", "The gateway does not switch protocols (CONNECT, Upgrade).")
            return
        except httptools.HttpParserError:
            if not self._refused:
                self._refuse(*(self._reason or (400, "invalid_request", "The request is not valid HTTP/1.1.")))
            return
        # httptools buffers a header until it is complete: a head still incomplete after more than
        # the limit is refused here, so one giant header can never grow without bound. Counted for
        # every head, pipelined ones included; the chunk a head began in is not counted (its start
        # is not known), so the bound is the limit plus one read.
        if self.state is _State.HEAD and not self._refused:
            if self._head_fresh:
                self._head_fresh = False
            else:
                self._head_bytes += len(data)
                if self._head_bytes > self.server.settings.max_header_bytes:
                    self._refuse(431, "headers_too_large", "The request headers exceed the gateway's limit.")

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._head_bytes = 0
        self._head_fresh = True
        self._hosts = 0
        self._te_lines = 0
        self._upgrade = False
        self._body = []
        self._body_size = 0
        self.state = _State.HEAD
        # The whole head within the deadline of its first byte (or of the accept, for a new
        # connection's first request), whatever it trickles: one header line every few seconds
        # gains nothing.
        limit = self.loop.time() + self.server.settings.header_timeout_s
        self.deadline = min(self.deadline, limit) if self.deadline and not self.busy else limit

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.server.max_url_bytes:
            self._reason = (414, "url_too_long", "The request URL exceeds the gateway's limit.")
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.server.settings.max_header_bytes:
            self._reason = (431, "headers_too_large", "The request headers exceed the gateway's limit.")
            raise _Stop
        if self.state is not _State.HEAD:
            return  # a chunked body's trailer: bounded like a head, never read as a header
        if len(self._headers) >= self.server.settings.max_headers:
            self._reason = (431, "too_many_headers", "The request has more header fields than the gateway allows.")
            raise _Stop
        name = name.lower()
        if name == b"host":
            self._hosts += 1
            if self._hosts > 1 or not _HOST.match(value):
                self._reason = (400, "invalid_host", "The request needs exactly one valid Host header (RFC 9112 3.2).")
                raise _Stop
        elif name == b"upgrade":
            self._upgrade = True
        elif name == b"transfer-encoding":
            # Only `chunked`, once: a list (`identity, chunked`), a second line or an unknown coding
            # is read differently by different parsers in a chain, which is what smuggling needs.
            # h11 accepts exactly this; RFC 9112 section 6.1 answers an unknown coding with 501.
            self._te_lines += 1
            if self._te_lines > 1 or value.strip(b" \t").lower() != b"chunked":
                self._reason = (501, "transfer_encoding_not_supported", "Only one `Transfer-Encoding: chunked` is supported.")
                raise _Stop
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        server = self.server
        now = self.loop.time()
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            self._reason = (505, "http_version_not_supported", "The gateway speaks HTTP/1.1 and HTTP/1.0.")
            raise _Stop
        http_11 = version == "1.1"
        if http_11 and not self._hosts:
            self._reason = (400, "invalid_host", "The request needs exactly one valid Host header (RFC 9112 3.2).")
            raise _Stop
        method = parser.get_method()
        if self._upgrade or method == b"CONNECT":
            self._reason = (400, "upgrade_not_supported", "The gateway does not switch protocols (CONNECT, Upgrade).")
            raise _Stop
        url = self._url
        if url[:1] != b"/" and url[:4].lower() == b"http":
            url = _origin_form(url)
        request = Request(method, url, self._headers, http_11, parser.should_keep_alive(), now)
        self._request = request
        self.state = _State.BODY
        self.deadline = now + server.settings.body_timeout_s
        # Every head is checked when it arrives, pipelined or not: a refused one is answered
        # after the responses before it, and its body is never read.
        refusal = server.app.check_head(request)
        if refusal is not None:
            self._refuse_with(refusal, request.method == b"HEAD")
            raise _Stop
        expect = request.header(b"expect")
        if expect is not None and expect.strip().lower() == b"100-continue":
            if self.busy or self._queue:
                self._continue = True  # interim responses never interleave with another response
            else:
                assert self.transport is not None, _MADE
                self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.server.max_body_bytes:
            self._reason = (413, "request_too_large", f"The request body exceeds {self.server.max_body_bytes} bytes.")
            raise _Stop
        self._body.append(body)

    def on_message_complete(self) -> None:
        request = self._request
        assert request is not None, "httptools calls on_headers_complete, which sets the request, first"
        self._request = None
        body = self._body
        request.body = body[0] if len(body) == 1 else b"".join(body)
        self._body = []
        self._continue = False
        self.state = _State.IDLE
        self.deadline = 0.0  # no idle timeout while a response is owed; it starts when it is done
        if self.busy:
            self._queue.append(request)
            if len(self._queue) >= MAX_PIPELINED:
                assert self.transport is not None, _MADE
                self.transport.pause_reading()
            return
        self._run(request)

    # -- requests ----------------------------------------------------------------------------

    def _run(self, request: Request) -> None:
        self.busy = True
        self.request_http_11 = request.http_11
        close = not request.keep_alive or not request.http_11 or self.server.draining
        responder = self._responder = Responder(self, close, request.method == b"HEAD")
        self._task = self.loop.create_task(self._handle(request, responder))

    async def _handle(self, request: Request, responder: Responder) -> None:
        try:
            await self.server.app.handle(request, responder)
        except asyncio.CancelledError:
            if responder.cancel_cause is None:
                raise
            return  # cancelled on purpose (client gone, shutdown): the handler already accounted for it
        except ClientGone:
            return
        except Exception:
            log.exception("request %s: unhandled error", request.id.decode())
            if self.state is _State.CLOSED:
                return
            if not responder.started:
                refusal = self.server.app.refusal(500, "internal_error", "The gateway failed to handle the request.", request)
                responder._close = True
                responder.send(refusal.status, refusal.headers, refusal.body)
            else:
                assert self.transport is not None, _MADE
                self.transport.abort()
            return
        if not responder.finished and self.state is not _State.CLOSED:
            # A handler that did not answer must not leave the client waiting for ever.
            log.error("request %s: the handler returned without a response", request.id.decode())
            assert self.transport is not None, _MADE
            self.transport.abort()

    def response_done(self, close: bool) -> None:
        """The response was written completely: close, or answer the next request."""
        if self.state is _State.CLOSED:
            return
        assert self.transport is not None, _MADE
        if close or self.server.draining:
            self.state = _State.CLOSED
            self.transport.close()
            return
        self.busy = False
        self._task = None
        self._responder = None
        self.send_deadline = 0.0
        if self._queue:
            item = self._queue.popleft()
            if isinstance(item, Refusal):
                self._write_refusal(item, False)
                return
            if not self._refused:
                self.transport.resume_reading()
            self._run(item)
            return
        if self._continue:
            self._continue = False
            self.transport.write(_CONTINUE)
        if self.state is _State.IDLE:
            now = self.loop.time()
            self.idle_since = now
            self.deadline = now + self.server.settings.keepalive_timeout_s
        # HEAD or BODY: the next request is arriving, under its own deadline.

    def write(self, data: bytes) -> None:
        if self.state is not _State.CLOSED:
            assert self.transport is not None, _MADE
            self.transport.write(data)

    async def drained(self) -> None:
        """Wait until the client read enough of what was written (bounded by the send timeout)."""
        if self._drain is None:
            self._drain = self.loop.create_future()
        self.send_deadline = self.loop.time() + self.server.settings.send_timeout_s
        try:
            await self._drain
        finally:
            self.send_deadline = 0.0

    # -- refusals and deadlines ---------------------------------------------------------------

    def _refuse(self, status: int, code: str, message: str) -> None:
        request = self._request
        refusal = self.server.app.refusal(status, code, message, request)
        self._refuse_with(refusal, request is not None and request.method == b"HEAD")

    def _refuse_with(self, refusal: Refusal, head_only: bool) -> None:
        """Stop reading; write the refusal now, or after the responses owed before it; then close."""
        self._refused = True
        if self.busy:
            assert self.transport is not None, _MADE
            self.transport.pause_reading()
            self._queue.append(refusal)
            self.deadline = 0.0
            return
        self._write_refusal(refusal, head_only)

    def _write_refusal(self, refusal: Refusal, head_only: bool) -> None:
        """Write the refusal and close (whatever of the request is unread stays unread)."""
        if self.state is _State.CLOSED:
            return
        self.request_http_11 = True
        Responder(self, close=True, head_only=head_only).send(refusal.status, refusal.headers, refusal.body)

    def expired(self, now: float) -> None:
        """Called by the sweeper when the reading side's `deadline` passed."""
        assert self.transport is not None, _MADE
        self.deadline = 0.0
        state = self.state
        if state is _State.IDLE:
            if not self.busy:
                self.state = _State.CLOSED
                self.transport.close()  # idle keep-alive or a new connection that never spoke
        elif state is _State.HEAD or state is _State.BODY:
            self._refuse(408, "request_timeout", "The request did not arrive in time.")

    def send_expired(self) -> None:
        """Called by the sweeper when `send_deadline` passed: the client stopped reading."""
        assert self.transport is not None, _MADE
        self.send_deadline = 0.0
        log.info("closing a connection whose client stopped reading for %.0f s", self.server.settings.send_timeout_s)
        self.transport.abort()


def _origin_form(url: bytes) -> bytes:
    """The path and query of an absolute-form target (`http://host/path?q`), which a server must
    accept (RFC 9112 section 3.2.2); anything else is returned as is (and routes nowhere)."""
    scheme, sep, rest = url.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return url
    slash = rest.find(b"/")
    query = rest.find(b"?")
    if slash < 0 or (0 <= query < slash):
        return b"/" + rest[query:] if query >= 0 else b"/"
    return rest[slash:]


class _Stop(Exception):
    """Raised in a parser callback to stop parsing; the reason is in `_Connection._refused`."""


class ServerLimits(Protocol):
    max_connections: int
    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float
    keepalive_timeout_s: float
    send_timeout_s: float
    graceful_shutdown_s: float


class GatewayServer:
    """Listens, holds the connections, sweeps their deadlines, and shuts down gracefully."""

    def __init__(
        self,
        app: HttpApp,
        settings: ServerLimits,
        *,
        max_body_bytes: int,
        reserved_fds: int = 0,
        on_connections: Callable[[int], None] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.max_body_bytes = max_body_bytes
        self.max_url_bytes = min(8192, settings.max_header_bytes)
        self.max_connections = _connection_cap(settings.max_connections, reserved_fds)
        self.connections: set[_Connection] = set()
        self.draining = False
        self.date_header = b""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._on_connections = on_connections
        shortest = min(settings.header_timeout_s, settings.body_timeout_s, settings.send_timeout_s)
        self._sweep_s = max(0.02, min(1.0, shortest / 4))

    async def start(self, host: str, port: int) -> None:
        self.loop = asyncio.get_running_loop()
        self._tick_date()
        self._server = await self.loop.create_server(lambda: _Connection(self), host, port, reuse_address=True, backlog=2048)
        self._sweeper = self.loop.call_later(self._sweep_s, self._sweep)
        log.info("listening on %s:%d (at most %d connections)", host, port, self.max_connections)

    # -- connections ---------------------------------------------------------------------------

    def admit(self, conn: _Connection, now: float) -> bool:
        if len(self.connections) >= self.max_connections and not self._close_longest_idle():
            refusal = self.app.refusal(
                503, "too_many_connections", "The gateway has too many open connections; retry shortly.", None
            )
            conn.state = _State.CLOSED
            assert conn.transport is not None, _MADE
            head = _STATUS_LINES[503] + b"".join(n + b": " + v + b"\r\n" for n, v in refusal.headers)
            conn.transport.write(head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(refusal.body) + refusal.body)
            conn.transport.close()
            return False
        self.connections.add(conn)
        if self._on_connections is not None:
            self._on_connections(len(self.connections))
        return True

    def forget(self, conn: _Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            if self._on_connections is not None:
                self._on_connections(len(self.connections))

    def _close_longest_idle(self) -> bool:
        idle = [c for c in self.connections if c.idle]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.idle_since)
        oldest.state = _State.CLOSED
        assert oldest.transport is not None, _MADE
        oldest.transport.close()
        self.forget(oldest)
        return True

    def _sweep(self) -> None:
        assert self.loop is not None, "start() sets the loop, then schedules the sweeper"
        now = self.loop.time()
        self._tick_date()
        for conn in list(self.connections):
            if conn.deadline and now >= conn.deadline:
                conn.expired(now)
            if conn.send_deadline and now >= conn.send_deadline and conn.state is not _State.CLOSED:
                conn.send_expired()
        self._sweeper = self.loop.call_later(self._sweep_s, self._sweep)

    def _tick_date(self) -> None:
        self.date_header = b"date: " + formatdate(time.time(), usegmt=True).encode() + b"\r\n"

    # -- shutdown ----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop accepting; let running requests finish within the grace time; then cancel them
        (a stream then ends with an explicit error event) and close every connection."""
        self.draining = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.idle:
                conn.state = _State.CLOSED
                assert conn.transport is not None, _MADE
                conn.transport.close()
        assert self.loop is not None, "shutdown() follows start(), which sets the loop"
        deadline = self.loop.time() + self.settings.graceful_shutdown_s
        while self._running() and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        tasks = []
        for conn in list(self.connections):
            task = conn._task
            if task is not None and not task.done():
                assert conn._responder is not None, "_run sets the responder with the task"
                conn._responder.cancel_cause = CancelCause.SHUTDOWN
                task.cancel()
                tasks.append(task)
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        if self._sweeper is not None:
            self._sweeper.cancel()

    def _running(self) -> bool:
        return any(c._task is not None and not c._task.done() for c in self.connections)


def _connection_cap(wanted: int, reserved_fds: int) -> int:
    """`wanted`, lowered to what the open-file limit allows (raised to its hard limit first):
    with 1,024 files, 1,074 idle connections once made honest requests fail."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    # Upstream pools rarely fill up; never let their size starve client connections below half the limit.
    allowed = soft - min(reserved_fds, soft // 4) - FD_RESERVE
    if allowed < wanted:
        log.warning("open-file limit %d allows %d client connections, not %d", soft, max(allowed, 1), wanted)
    return max(1, min(wanted, allowed))
