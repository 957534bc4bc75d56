"""`gpt-oss-platform gateway --config FILE`: run the OpenAI-compatible gateway on this machine.

The same process the pods run (`python -m serving.gateway`, serving/gateway/__main__.py), for a
local run in front of any OpenAI-compatible server (docs/gateway.md "Settings and running it
locally"). It needs the `gateway` dependency group (httptools, uvloop, prometheus_client), which the
deploy environment leaves out: `make gateway CONFIG=FILE` installs it and starts the gateway. A bad
settings file, a missing or empty managed key file, or a missing clients file is one message naming
the file and the key (exit 2).
"""

from __future__ import annotations

import argparse
import importlib.util

from cli.errors import CliError

# What `python -m serving.gateway` imports beyond the deploy environment (pyproject.toml group `gateway`).
GATEWAY_MODULES = ("httptools", "uvloop", "prometheus_client")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gateway", help="run the gateway locally (make gateway CONFIG=...)", description=__doc__)
    parser.add_argument("--config", required=True, help="the gateway's settings file (JSON)")
    parser.add_argument("--host", help="override the settings' listen address")
    parser.add_argument("--port", type=int, help="override the settings' listen port")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="override the log level")
    parser.set_defaults(run=run)


def missing_modules() -> list[str]:
    return [name for name in GATEWAY_MODULES if importlib.util.find_spec(name) is None]


def run(args: argparse.Namespace) -> int:
    missing = missing_modules()
    if missing:
        raise CliError(
            f"the gateway needs the `gateway` dependency group ({', '.join(missing)} not installed): "
            f"`make gateway CONFIG={args.config}` installs it and starts the gateway "
            "(or `.uv/bin/uv sync --frozen --inexact --group gateway`)"
        )
    from serving.gateway.__main__ import main

    argv = ["--config", args.config]
    if args.host:
        argv += ["--host", args.host]
    if args.port:
        argv += ["--port", str(args.port)]
    if args.log_level:
        argv += ["--log-level", args.log_level]
    return main(argv)
