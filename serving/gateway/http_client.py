"""A pooled HTTP/1.1 client for the upstreams: httptools' response parser on asyncio transports.

Why not aiohttp: per request it built a URL, a header multidict, a request and a response object
and ran a dozen coroutines: about a third of the gateway's CPU per request. This client writes a
request as one pre-assembled byte string on a kept-alive connection and parses the answer with
httptools, and it closes the connection the moment its caller is cancelled (a client that went
away), so the upstream sees the close within the same event-loop turn.

Errors: `UpstreamConnectError` (nothing was sent: refused, DNS, connect timeout),
`UpstreamClosed` (the connection broke after the request was sent), `UpstreamProtocolError`
(the answer is not HTTP). Timeouts are the caller's (`asyncio.timeout`), except the connect
timeout and the per-chunk idle timeout of a stream.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from typing import cast
from urllib.parse import urlsplit

import httptools

# Why a connection's transport is set wherever it is used: asyncio calls connection_made before
# create_connection returns it, and the pool only holds connections it got from there.
_MADE = "connection_made sets the transport before create_connection returns"


class UpstreamConnectError(OSError):
    """No connection: the request was not sent."""


class UpstreamClosed(ConnectionError):
    """The connection closed after the request was sent, before the answer was complete."""


class UpstreamProtocolError(ValueError):
    """The upstream's answer is not valid HTTP/1.1."""


class Response:
    """One upstream answer. Read it whole (`read`) or block by block (`next_chunk`), then
    `release()` it (the connection returns to the pool) or `close()` it."""

    __slots__ = ("_chunks", "_conn", "_done", "_error", "_size", "_waiter", "headers", "keep_alive", "status")

    def __init__(self, conn: _Connection) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self._conn = conn
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._waiter: asyncio.Future | None = None
        self._done = False
        self._error: BaseException | None = None

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def content_length(self) -> int | None:
        value = self.header(b"content-length")
        return int(value) if value is not None and value.isdigit() else None

    # -- fed by the connection ------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if not self._done and self._error is None:
            self._error = error
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    # -- read by the caller ---------------------------------------------------------------------

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = self._conn.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def read(self, limit: int) -> bytes | None:
        """The whole body, or None (and the connection closed) when it is longer than `limit`."""
        length = self.content_length
        if length is not None and length > limit:
            self.close()
            return None
        while not self._done:
            if self._size > limit:
                self.close()
                return None
            await self._wait()
        if self._size > limit:
            self.close()
            return None
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        return data

    async def next_chunk(self, idle_timeout: float) -> bytes:
        """Whatever body bytes arrived since the last call (waiting up to `idle_timeout` seconds
        for some); b"" at the end of the body. Raises TimeoutError after a silence that long."""
        chunks = self._chunks
        if not chunks:
            if self._done:
                return b""
            if self._error is not None:
                raise self._error
            loop = self._conn.loop
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(idle_timeout, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
            if not chunks:
                return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        return data

    def release(self) -> None:
        """Back to the pool when the answer was read to its end on a kept-alive connection."""
        conn = self._conn
        if self._done and self.keep_alive and not conn.closed:
            conn.response = None
            conn.pool.put_back(conn)
        else:
            self.close()

    def close(self) -> None:
        self._conn.abort()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Connection(asyncio.Protocol):
    __slots__ = ("closed", "idle_since", "loop", "parser", "pool", "response", "transport")

    def __init__(self, pool: ConnectionPool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # typeshed types this argument as BaseTransport for every kind of protocol; a stream
        # connection's protocol gets a Transport (docs.python.org, asyncio "Transports and
        # Protocols"). cast, not isinstance: uvloop's TCPTransport does not subclass asyncio's.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self.response
        if response is not None:
            response._fail(UpstreamClosed("the upstream closed the connection"))
        self.pool.lost(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.response is not None:
                self.response._fail(UpstreamProtocolError("the upstream's answer is not HTTP/1.1"))
            self.abort()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        response = self.response
        if response is not None:
            response.status = self.parser.get_status_code()
            response.keep_alive = self.parser.should_keep_alive()
            response._wake()

    def on_body(self, body: bytes) -> None:
        response = self.response
        if response is not None:
            if response.status < 400:
                # Body bytes of an answer are progress (an event, a completion); a stream's
                # headers only say "accepted", and an error answer is no generation.
                self.pool.last_progress = time.monotonic()
            response._chunks.append(body)
            response._size += len(body)
            response._wake()

    def on_message_complete(self) -> None:
        response = self.response
        if response is not None:
            if response.status < 400:
                self.pool.last_progress = time.monotonic()
            response._done = True
            response._wake()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            assert self.transport is not None, _MADE
            self.transport.abort()  # immediate: the upstream sees the close now, not after a flush


class ConnectionPool:
    """Kept-alive connections to one upstream origin, at most `max_connections` at once."""

    def __init__(self, base_url: str, max_connections: int, keepalive_s: float, connect_timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/").encode()
        self.host_header = b"host: " + parts.netloc.encode() + b"\r\n"
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._max = max_connections
        self._keepalive_s = keepalive_s
        self._connect_timeout_s = connect_timeout_s
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self.last_progress = 0.0  # monotonic time of the last body byte or complete answer received

    async def request(self, head: bytes, body: bytes) -> Response:
        """Send `head` (request line and headers, without content-length) and `body`; return once
        the answer's status and headers arrived. Cancelling the caller closes the connection."""
        conn = await self._acquire()
        response = conn.response = Response(conn)
        assert conn.transport is not None, _MADE
        conn.transport.write(b"%scontent-length: %d\r\n\r\n%s" % (head, len(body), body))
        try:
            while response.status == 0:
                await response._wait()
        except BaseException:
            conn.abort()
            raise
        return response

    async def _acquire(self) -> _Connection:
        idle = self._idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive_s:
                return conn
            conn.abort()
        while self._open >= self._max:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    handed = waiter.result()  # handed over just as we were cancelled: pass it on
                    if handed is not None:
                        self.put_back(handed)
                    else:
                        self._wake_one()
                raise
            if conn is not None and not conn.closed:
                return conn
        self._open += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, loop),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                )
        except TimeoutError:
            self._gone()
            raise UpstreamConnectError("connect timeout") from None
        except OSError as error:
            self._gone()
            raise UpstreamConnectError(type(error).__name__) from None
        except BaseException:
            self._gone()
            raise
        return conn

    def put_back(self, conn: _Connection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def lost(self, conn: _Connection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
        self._gone()

    def _gone(self) -> None:
        self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # room for a new connection: the waiter opens it
                return

    @property
    def open_connections(self) -> int:
        return self._open

    def close(self) -> None:
        for conn in list(self._idle):
            conn.abort()
        self._idle.clear()
