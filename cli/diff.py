"""`gpt-oss-platform diff A B`: what differs between two environments.

Resolved config key by key, resources added / removed / changed in their offline plans (names and
the values each environment must have its own of are normalised, so `dev-network` and
`staging-network` compare), the monthly cost floor and max, and the release pins. `ENV@REF`
reads an environment as it is at a git ref (its overlay, pins and stack file; the program is this
checkout's): `diff prod@origin/main prod` is what a change does to prod.
Exit 0 whether or not they differ; 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from cli.errors import OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="what differs between two environments",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from infra.paths import REPO_ROOT

    parser.add_argument("a", metavar="A", help="environment, or ENV@REF")
    parser.add_argument("b", metavar="B", help="environment, or ENV@REF")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-plan", action="store_true", help="config and pins only (skips the two offline plans)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository holding environments/ (default: this one)")
    parser.set_defaults(run=run)


def _side(spec: str, root: Path, scratch: Path) -> tuple[str, Path]:
    from infra.config.overlays import has_overlay
    from infra.environments.git import GitError, export_paths

    name, _, ref = spec.partition("@")
    if ref:
        target = scratch / ref.replace("/", "_")
        try:
            export_paths(root, ref, ["environments", f"Pulumi.{name}.yaml"], target)
        except GitError as error:
            raise CliError(f"{spec}: {error}") from None
        root = target
    if not has_overlay(name, root):
        raise CliError(f"{spec}: no environment {name!r} (no environments/{name}.yaml{' at ' + ref if ref else ''})")
    return name, root


def run(args: argparse.Namespace) -> int:
    from infra.environments.diff import diff_environments, render_table

    with tempfile.TemporaryDirectory() as tmp:
        a, a_root = _side(args.a, args.root, Path(tmp))
        b, b_root = _side(args.b, args.root, Path(tmp))
        result = diff_environments(a, a_root, b, b_root, with_plan=not args.no_plan)
    result["a"], result["b"] = args.a, args.b
    print(json.dumps(result, indent=2, default=str) if args.json else render_table(result))
    return OK
