"""`gpt-oss-platform plan --env ENV`: the offline plan of one or more environments.

Runs the real Pulumi program under Pulumi's mock engine (no CLI, no cloud), checks tags,
policies and the rules of the systems it configures, estimates the monthly cost and writes
build/<env>/plan.json and build/<env>/manifests/. An environment with an overlay has its
Pulumi.<env>.yaml rendered first (after its overlay validates). Exit 0 when every check passes, 1 when one
fails (the plan is written, marked failed), 2 when the configuration is invalid (nothing was
registered). Several environments (a comma-separated list, or `all`) are planned at once, one
forked process each after the shared imports, and printed in the order asked; the exit code is
the worst of theirs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.errors import BAD_INPUT, CHECK_FAILED, OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plan", help="offline plan of an environment -> build/<env>/", description=__doc__)
    parser.add_argument("--env", required=True, help="stack name (Pulumi.<env>.yaml), a comma-separated list, or `all`")
    from infra.paths import BUILD_DIR, REPO_ROOT

    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output root (default: build/)")
    parser.add_argument("--stacks", type=Path, default=REPO_ROOT, help="folder holding Pulumi.<env>.yaml (default: repo root)")
    parser.add_argument("--json", action="store_true", help="print plan.json instead of the report")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also fail (exit 1) on placeholders (documentation CIDRs, example.com addresses, account 123456789012), "
        "a budget below the estimated maximum and a Kubernetes version outside EKS standard support; CI runs it for "
        "staging- and prod-tier environments",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.config import stack_names

    names = stack_names(args.stacks) if args.env == "all" else [n.strip() for n in args.env.split(",") if n.strip()]
    outcomes = _in_parallel(names, args) if len(names) > 1 else None
    status = OK
    for index, name in enumerate(names):
        if index and not args.json:
            print("\n" + "=" * 100 + "\n")
        if outcomes is None:
            status = max(status, _plan_one(name, args.out, args.stacks, args.json, args.strict))
            continue
        code, out, err = outcomes[index]
        sys.stdout.write(out)
        sys.stdout.flush()
        sys.stderr.write(err)
        status = max(status, code)
    return status


def _captured(name: str, args: argparse.Namespace) -> tuple[int, str, str]:
    """One environment's plan in a worker process: its exit code and what it printed."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _plan_one(name, args.out, args.stacks, args.json, args.strict)
    return code, out.getvalue(), err.getvalue()


def _in_parallel(names: list[str], args: argparse.Namespace) -> list[tuple[int, str, str]] | None:
    """Several environments at once: one forked process per environment (the program's globals,
    Pulumi's mock runtime included, are per process), after the imports they all need were paid
    once here. Output is printed in the order asked, as a sequential run prints it. None where
    fork is not available (the caller then plans them one after the other)."""
    import multiprocessing
    import os

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    import infra.plan.build  # noqa: F401  (paid once, before the fork)
    from infra.plan.runner import import_program_dependencies

    import_program_dependencies()
    workers = min(len(names), os.cpu_count() or 1)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.starmap(_captured, [(name, args) for name in names])


def _render_stack_file(env: str, stacks: Path) -> None:
    """Pulumi.<env>.yaml from environments/ before planning, so an overlay edit needs no separate
    `envs render`; the overlay is validated first and a problem names its file and key. CI's
    `envs check` still refuses a committed stack file that is not current."""
    from infra.config.load import validate_overlay
    from infra.config.overlays import has_overlay
    from infra.config.stack_files import render_stack_file

    if not has_overlay(env, stacks):
        return
    validate_overlay(env, stacks)
    path, changed = render_stack_file(env, stacks)
    if changed:
        print(f"rendered {path.name} from environments/ (commit it with the overlay)", file=sys.stderr)


def _plan_one(env: str, out: Path, stacks: Path, as_json: bool, strict: bool = False) -> int:
    from infra.config import ConfigError
    from infra.plan.build import build_plan
    from infra.plan.report import render_report
    from infra.upstream import UpstreamMissing

    try:
        _render_stack_file(env, stacks)
    except ConfigError as error:
        print(f"error: {error}\nNothing was rendered or planned for {env}.", file=sys.stderr)
        return BAD_INPUT
    try:
        plan = build_plan(env, out, stacks, strict=strict)
    except UpstreamMissing as error:
        # Not a traceback: the plan needs the pinned upstream charts and says where to get them.
        print(f"error: {error}\nNothing was planned for {env}.", file=sys.stderr)
        return BAD_INPUT
    except ConfigError as error:
        print(
            f"error: {error}\nNothing was registered. {out / env / 'plan.json'} records the refusal (status: invalid).",
            file=sys.stderr,
        )
        return BAD_INPUT
    if as_json:
        print(json.dumps(plan.data, indent=2))
    else:
        try:
            shown = plan.out_dir.relative_to(Path.cwd())
        except ValueError:
            shown = plan.out_dir
        print(render_report(plan.data, str(shown), plan.manifest_count))
    if not plan.ok:
        print(f"\nPLAN FAILED ({env}): {'; '.join(plan.failures)}", file=sys.stderr)
        return CHECK_FAILED
    return OK
