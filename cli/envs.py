"""`gpt-oss-platform envs`: the environments of this repository (docs/environments.md).

envs list [--json]            every environment: tier, region, cluster, model, release, CI runner,
                              strict plan (CI builds its matrices from the JSON)
envs render [--env ENV]       validate each overlay, then rewrite Pulumi.<env>.yaml from environments/
                              (keeps Pulumi's keys); exit 2, nothing written, on an invalid overlay
envs check                    every stack file current and every environment valid (exit 1 if not)
envs affected --base REF      environments a change touches (CI: which stacks to plan and preview)
envs promoted --base REF      environments promoted between REF and HEAD (CI: which stacks to apply)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.errors import BAD_INPUT, CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "envs",
        help="list, render and check environments",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from infra.paths import REPO_ROOT

    # --root on every action, so it may follow the action like every other flag.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=REPO_ROOT, help="repository holding environments/ (default: this one)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="every environment")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    render = actions.add_parser("render", parents=[common], help="rewrite Pulumi.<env>.yaml from environments/")
    render.add_argument("--env", help="one environment (default: every environment with an overlay)")
    actions.add_parser("check", parents=[common], help="stack files current and every environment valid")
    affected = actions.add_parser("affected", parents=[common], help="environments a change touches")
    affected.add_argument("--base", required=True, help="git ref to compare with (e.g. origin/main)")
    affected.add_argument("--json", action="store_true", help="print a JSON list (for a CI matrix)")
    promoted = actions.add_parser("promoted", parents=[common], help="environments promoted between a ref and HEAD")
    promoted.add_argument("--base", required=True, help="git ref before the push (e.g. github.event.before)")
    promoted.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    actions = {"list": _list, "render": _render, "check": _check, "affected": _affected, "promoted": _promoted}
    return actions[args.action](args)


def _list(args: argparse.Namespace) -> int:
    from infra.environments.overview import overview

    rows = overview(args.root)
    if args.json:
        print(json.dumps(rows, indent=2))
        return OK
    print(f"{'environment':<12} {'tier':<8} {'region':<14} {'cluster':<20} {'model':<14} release")
    for row in rows:
        if "problem" in row:
            print(f"{row['name']:<12} PROBLEM: {row['problem']}")
        else:
            print(
                f"{row['name']:<12} {row['tier']:<8} {row['region']:<14} {row['cluster'] or '-':<20} {row['model']:<14} {row['release']}"
            )
    return OK


def _render(args: argparse.Namespace) -> int:
    from infra.config import ConfigError
    from infra.config.load import validate_overlay
    from infra.config.overlays import overlay_names
    from infra.config.stack_files import render_stack_file

    names = [args.env] if args.env else overlay_names(args.root)
    if not names:
        raise CliError(f"no overlays under {args.root / 'environments'}")
    # Every overlay is validated where it is written before any stack file is: an invalid one
    # is refused (exit 2) naming its file and key, and nothing is rewritten.
    refused = []
    for name in names:
        try:
            validate_overlay(name, args.root)
        except ConfigError as error:
            refused.append(str(error))
    if refused:
        print("error: " + "\n".join(refused) + "\nNothing was rendered.", file=sys.stderr)
        return BAD_INPUT
    for name in names:
        path, changed = render_stack_file(name, args.root)
        print(f"{'rewrote' if changed else 'unchanged'} {path.name}")
    return OK


def _check(args: argparse.Namespace) -> int:
    from infra.config import ConfigError, environment_from_stack_file, stack_names

    failed = 0
    for name in stack_names(args.root):
        try:
            environment_from_stack_file(name, args.root)
        except ConfigError as error:
            failed += 1
            print(f"FAIL {name}: {error}", file=sys.stderr)
        else:
            print(f"ok   {name}")
    return CHECK_FAILED if failed else OK


def _affected(args: argparse.Namespace) -> int:
    from infra.environments.git import GitError
    from infra.environments.overview import affected

    try:
        result = affected(args.root, args.base)
    except GitError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(result["environments"]))
    else:
        print(" ".join(result["environments"]) or "(none)")
        print(result["reason"], file=sys.stderr)
    return OK


def _promoted(args: argparse.Namespace) -> int:
    from infra.environments.git import GitError
    from infra.environments.overview import promoted

    try:
        result = promoted(args.root, args.base)
    except GitError as error:
        raise CliError(str(error)) from None
    for line in result["refused"]:
        print(f"not applied: {line}", file=sys.stderr)
    print(json.dumps(result["environments"]) if args.json else (" ".join(result["environments"]) or "(none)"))
    return OK
