"""`python -m serving.gateway --config /etc/gateway/config/gateway.json`

One process per pod, one event loop (uvloop) and httptools' parser (server.py): the HPA scales
pods, so a pod never needs workers of its own, and one process keeps the circuit breakers, limits
and cost windows in one place. SIGTERM: /readyz fails, the listener closes, in-flight requests
get `server.graceful_shutdown_s` to finish, then streams still open end with an error event.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable

import prometheus_client
import uvloop

from serving.gateway.app import Gateway
from serving.gateway.auth import ClientsFileError
from serving.gateway.metrics_http import MetricsApp
from serving.gateway.server import GatewayServer
from serving.gateway.settings import SettingsError, load_settings
from serving.gateway.upstreams import api_key_problems

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Connections the /metrics listener may hold: Prometheus replicas and a person with curl.
METRICS_CONNECTIONS = 16


async def run(gateway: Gateway, host: str, port: int, stop: asyncio.Event, started: Callable[[], None] | None = None) -> None:
    """Start the gateway, serve until `stop` is set, shut down gracefully."""
    settings = gateway.settings
    await gateway.startup()
    server = GatewayServer(
        gateway,
        settings.server,
        max_body_bytes=settings.limits.max_request_bytes,
        reserved_fds=gateway.reserved_fds + METRICS_CONNECTIONS,
        on_connections=gateway.metrics.child(gateway.metrics.connections).set,
    )
    # /metrics on a port of its own (serving/gateway/metrics_http.py), with the same server limits
    # but a few connections (Prometheus scrapes with one), kept out of the client connections' files.
    metrics_limits = settings.server.model_copy(update={"max_connections": METRICS_CONNECTIONS})
    metrics_server = GatewayServer(MetricsApp(gateway.metrics.exposition), metrics_limits, max_body_bytes=1024)
    try:
        await server.start(host, port)
        await metrics_server.start(host, settings.metrics.port)
        if started is not None:
            started()
        await stop.wait()
        gateway.draining()
        await server.shutdown()
        await metrics_server.shutdown()
    finally:
        await gateway.shutdown()


def main(argv: list[str] | None = None) -> int:
    # __doc__ is None under `python -OO`, which strips docstrings.
    description = __doc__.splitlines()[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="python -m serving.gateway", description=description)
    parser.add_argument("--config", required=True, help="Settings file (JSON), e.g. /etc/gateway/config/gateway.json.")
    parser.add_argument("--host", help="Override the settings' listen address.")
    parser.add_argument("--port", type=int, help="Override the settings' listen port.")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="Override the log level.")
    args = parser.parse_args(argv)
    # A bad file is one message naming the file and the keys (exit 2), never a traceback.
    try:
        settings = load_settings(args.config)
    except SettingsError as error:
        print(f"gateway: {error}", file=sys.stderr)
        return 2
    problems = api_key_problems(settings)
    if problems:
        print(f"gateway: {args.config}: cannot start:\n" + "\n".join(f"  {p}" for p in problems), file=sys.stderr)
        return 2
    level = args.log_level or settings.log_level
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    # `*_created` series double the size of /metrics and nobody alerts on them.
    prometheus_client.disable_created_metrics()

    try:
        gateway = Gateway(settings)
    except ClientsFileError as error:
        print(f"gateway: {args.config}: clients_file: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.filename != settings.clients_file:
            raise
        print(f"gateway: {args.config}: clients_file: {settings.clients_file}: {error.strerror}", file=sys.stderr)
        return 2

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run(gateway, args.host or settings.host, args.port or settings.port, stop)

    uvloop.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
