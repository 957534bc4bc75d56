"""`python -m infra.operate.governor --config governor.json`: the loop and /metrics, /healthz."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pydantic import ValidationError

from infra.operate.governor.settings import ControllerSettings

METRICS_PORT = 9464


def load_settings(path: Path) -> ControllerSettings:
    try:
        return ControllerSettings.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        if isinstance(error, ValidationError):
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SystemExit(f"{path}: {where}: {first['msg']} (got {first.get('input')!r})") from None
        raise SystemExit(f"{path}: cannot read it as JSON ({error})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.operate.governor")
    parser.add_argument("--config", type=Path, required=True, help="governor.json (the chart's governor.settings)")
    parser.add_argument("--once", action="store_true", help="one step, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    settings = load_settings(args.config)

    import boto3
    from kubernetes import client, config
    from prometheus_client import generate_latest

    from infra.operate.governor.cluster import Cluster
    from infra.operate.governor.controller import Controller

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    eks = None
    if settings.policy.mode == "enforce" and settings.target.provisioner == "managed_node_group":
        eks = boto3.client("eks", region_name=settings.target.region)
    identity = os.environ.get("POD_NAME") or os.uname().nodename
    controller = Controller(settings, Cluster(client.ApiClient(), settings.target), identity, eks=eks)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, kind = generate_latest(controller.metrics.registry), "text/plain; version=0.0.4"
            elif self.path == "/healthz":
                body, kind = b"ok\n", "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", METRICS_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:
        try:
            controller.step(datetime.now(UTC))
        except Exception as error:  # one failed step must not end the loop; it is counted and logged
            controller.metrics.errors.labels(settings.environment, type(error).__name__).inc()
            logging.getLogger("infra.operate.governor").warning(
                json.dumps({"event": "governor_step_failed", "error": f"{type(error).__name__}: {error}"})
            )
        if args.once:
            return 0
        time.sleep(settings.interval_s)


if __name__ == "__main__":
    raise SystemExit(main())
