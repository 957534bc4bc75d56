"""`python -m serving.gateway --config /etc/gateway/config/gateway.json`

One process per pod, one event loop (uvloop) and httptools' parser: the HPA scales pods, so a
pod never needs workers of its own, and one process keeps the circuit breakers, limits and
cost windows in one place.
"""

from __future__ import annotations

import argparse
import logging
import sys

import prometheus_client
import uvicorn

from serving.gateway.app import Gateway
from serving.gateway.settings import load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="Settings file (JSON), e.g. /etc/gateway/config/gateway.json.")
    parser.add_argument("--host", help="Override the settings' listen address.")
    parser.add_argument("--port", type=int, help="Override the settings' listen port.")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="Override the log level.")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    level = args.log_level or settings.log_level
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    # `*_created` series double the size of /metrics and nobody alerts on them.
    prometheus_client.disable_created_metrics()
    gateway = Gateway(settings)
    config = uvicorn.Config(
        gateway,
        host=args.host or settings.host,
        port=args.port or settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        # The gateway writes its own access line (with who served the request, never a header);
        # uvicorn's would add nothing but cost.
        access_log=False,
        log_config=None,
        log_level=level.lower(),
        server_header=False,
        proxy_headers=False,
        # Longer than any load balancer's idle timeout in front of us, so they close first.
        timeout_keep_alive=75,
        # Time for in-flight streams to finish after SIGTERM (the chart's grace period is longer).
        timeout_graceful_shutdown=25,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
