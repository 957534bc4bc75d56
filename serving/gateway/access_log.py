"""The access log: one line per request, in the format of the gateway's other log lines, written
in batches.

A `logging` record per request (a LogRecord, a formatter, a handler lock and a flushed write,
that is one syscall) cost about a tenth of the gateway's CPU per request. Lines are appended to a
buffer instead and written every `flush_interval_s` (and at shutdown), so a burst of requests
costs one write. Lines never carry a header, a body or a key (app.py writes them).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

FLUSH_INTERVAL_S = 0.2
# Written at once when the buffer grows past this many lines (a burst), not only on the timer.
MAX_BUFFERED = 512


class AccessLog:
    def __init__(self, stream: TextIO | None = None, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._stream = stream
        self._interval = flush_interval_s
        self._lines: list[str] = []
        self._second = -1
        self._prefix = ""

    def write(self, message: str) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            # logging's default asctime: "2026-11-30 18:54:57,123"
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        self._lines.append(f"{self._prefix},{int((now - second) * 1000):03d} INFO serving.gateway.access {message}\n")
        if len(self._lines) >= MAX_BUFFERED:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            stream = self._stream or sys.stderr
            stream.write("".join(self._lines))
            stream.flush()
            self._lines.clear()

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval)
                self.flush()
        finally:
            self.flush()
