"""The /metrics listener: the gateway's own HTTP server (server.py, with all its limits) on a port
of its own, serving only `GET /metrics`.

Why a port of its own and not the client port: the series name client keys, teams, token counts
and spend, and Prometheus sends no key. On a separate port the chart lets only Prometheus in
(NetworkPolicy) and the client Service and load balancer never carry it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from serving.gateway.errors import H_REQUEST_ID, error_body
from serving.gateway.server import Refusal, Request, Responder

METRICS_HEADERS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
_JSON = [(b"content-type", b"application/json")]


class MetricsApp:
    """server.HttpApp for the metrics port."""

    def __init__(self, exposition: Callable[[], bytes]) -> None:
        self._exposition = exposition

    def check_head(self, request: Request) -> Refusal | None:
        if request.path != b"/metrics":
            return self.refusal(404, "not_found", "Only /metrics is served on this port.", request)
        if request.method not in (b"GET", b"HEAD"):
            return self.refusal(405, "method_not_allowed", "Method not allowed on this path.", request)
        return None

    async def handle(self, request: Request, responder: Responder) -> None:
        responder.send(200, list(METRICS_HEADERS), self._exposition())

    def refusal(self, status: int, code: str, message: str, request: Request | None) -> Refusal:
        request_id = request.id if request is not None else os.urandom(8).hex().encode()
        kind = "server_error" if status >= 500 else "invalid_request_error"
        return Refusal(status, [(H_REQUEST_ID, request_id), *_JSON], error_body(message, kind, code))
