"""Entry point of `gpt-oss-platform` (console script) and `python -m cli`."""

from __future__ import annotations

import argparse
import importlib
import sys

from cli.errors import BAD_INPUT, CliError

# Subcommand -> module; the order is the order of `--help`.
COMMANDS = {
    "plan": "cli.plan",
    "preflight": "cli.preflight",
    "values": "cli.values",
    "reference": "cli.reference",
    "check": "cli.check",
    "upstream": "cli.upstream",
    "bench": "cli.bench",
    "cost": "cli.cost",
    "audit": "cli.audit",
    "envs": "cli.envs",
    "new-env": "cli.new_env",
    "diff": "cli.diff",
    "pins": "cli.pins",
    "promote": "cli.promote",
    "gitops": "cli.gitops",
    "smoke": "cli.smoke",
    "drain": "cli.drain",
    "rotate-managed-key": "cli.rotate_key",
    "runbooks": "cli.runbooks",
    "gateway": "cli.gateway",
    "models": "cli.models",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpt-oss-platform",
        description="gpt-oss on your own Kubernetes GPUs, with a managed API as the safety net.",
        epilog="Exit codes: 0 done; 1 a check failed; 2 bad input (nothing changed). See docs/cli.md.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as error:
        # A configuration problem is bad input like any other: the message lists every problem
        # with its key path; a traceback would only hide it.
        from infra.config.errors import ConfigError

        if isinstance(error, ConfigError):
            print(f"error: {error}", file=sys.stderr)
            return BAD_INPUT
        raise


if __name__ == "__main__":
    sys.exit(main())
