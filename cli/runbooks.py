"""`gpt-oss-platform runbooks --env ENV|all`: render the runbooks of one or every environment.

One source, runbooks/templates/ (jinja2), rendered into runbooks/<env>/ with the environment's
region, cluster, node group names, namespaces, dashboards and escalation path (its `oncall`
section), so that every command can be pasted as is. `--check` writes nothing and exits 1 when a
rendered file is stale (what the tests check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runbooks",
        help="render the runbooks of an environment -> runbooks/<env>/",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="stack name (Pulumi.<env>.yaml), a comma-separated list, or `all`")
    parser.add_argument("--out", type=Path, help="folder to render into (default: runbooks/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a rendered file is stale")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.config import environment_from_stack_file, stack_names
    from infra.runbooks.context import RunbookConfigError
    from infra.runbooks.render import RUNBOOKS_DIR, stale, write_environment

    out = args.out or RUNBOOKS_DIR
    names = stack_names() if args.env == "all" else [n.strip() for n in args.env.split(",") if n.strip()]
    status = OK
    for name in names:
        env = environment_from_stack_file(name)
        try:
            if args.check:
                found = stale(env, out)
                for path in found:
                    print(f"stale: runbooks/{path}")
                status = max(status, CHECK_FAILED if found else OK)
                continue
            for path in write_environment(env, out):
                print(f"wrote {path}", file=sys.stderr)
        except RunbookConfigError as error:
            raise CliError(str(error)) from None
    if args.check and status:
        print("render them with `gpt-oss-platform runbooks --env all`", file=sys.stderr)
    return status
