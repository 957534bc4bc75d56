"""`gpt-oss-platform reference`: regenerate (or check) every generated page and block of the
docs: the configuration reference, docs/contracts.md, the sizing table and the latest measured
results. `--write` names each file it rewrote; `--check` exits 1 when any is stale."""

from __future__ import annotations

import argparse
import sys

from cli.errors import CHECK_FAILED, OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reference", help="regenerate or check the generated docs", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite what is stale and name each file")
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated page or block is stale")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from cli import docs as blocks

    if args.write:
        changed = blocks.write()
        for path in changed:
            print(f"rewrote {path}")
        if not changed:
            print("every generated page and block is current")
        return OK
    stale = blocks.stale()
    if stale:
        print(f"stale: {', '.join(stale)}; run `gpt-oss-platform reference --write`", file=sys.stderr)
        return CHECK_FAILED
    return OK
