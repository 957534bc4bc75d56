"""A free TCP port on 127.0.0.1 for a server a test starts, picked BELOW the kernel's ephemeral range.

`bind(("127.0.0.1", 0))` hands out a port from the ephemeral range (net.ipv4.ip_local_port_range,
32768-60999 by default), the range every outgoing connection of the machine also draws its local
port from. Between picking the port and the server binding it, a client connection of another test
can take it: the gateway then fails with EADDRINUSE (seen under pytest-xdist). Below the range only
servers bind, and the ports this process handed out are never handed out again.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000  # above the registered ports most services listen on
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    top = _ephemeral_start()
    candidates = list(range(_LOWEST, top)) if top > _LOWEST + 100 else []
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:  # no room below the range: the kernel's pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
