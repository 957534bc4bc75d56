"""`gpt-oss-platform check`: the gates every change passes before the tests (`make check`, CI).

- ruff: lint and format (`--fix` applies what ruff can fix and formats the tree);
- pyright on contracts/, infra/, serving/ and cli/ (pyproject.toml [tool.pyright]);
- the serving chart through Helm's own linter (helm-python-sdk `lint`, strict), once with its
  defaults and once with each environment's values;
- yamllint on the YAML people write (.yamllint.yaml);
- the generated docs are current (`reference --check`).

Exit 0 when every gate passes, 1 when one fails (each failing gate prints its findings).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from cli.errors import CHECK_FAILED, OK

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="lint, format, types, chart and YAML gates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--fix", action="store_true", help="apply ruff's fixes and format the tree first")
    parser.add_argument("--only", choices=sorted(GATES), action="append", help="run only this gate (repeatable)")
    parser.set_defaults(run=run)


def _tool(*command: str) -> tuple[bool, str]:
    try:
        done = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        return False, f"{command[0]} is not installed in {BIN}: run `make venv`"
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def ruff(fix: bool) -> tuple[bool, str]:
    if fix:
        _tool("ruff", "check", "--fix", ".")
        _tool("ruff", "format", ".")
    ok_lint, lint = _tool("ruff", "check", ".")
    ok_format, formatting = _tool("ruff", "format", "--check", ".")
    return ok_lint and ok_format, "\n".join(part for part, ok in ((lint, ok_lint), (formatting, ok_format)) if not ok)


def pyright(fix: bool) -> tuple[bool, str]:
    return _tool("pyright")


def yamllint(fix: bool) -> tuple[bool, str]:
    return _tool("yamllint", "--strict", "-f", "parsable", ".")


def chart(fix: bool) -> tuple[bool, str]:
    """Helm's linter, strict, with the defaults and with every environment's values (stand-ins for
    what only the deployed stack knows: the image digest, the bucket, the Redis endpoint)."""
    import helm_python as helm

    from infra.chart_values import StackOutputs, chart_values
    from infra.config import environment_from_stack_file, stack_names
    from infra.paths import CHART_DIR

    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-gateway@sha256:" + "0" * 64
    cases: list[tuple[str, dict | None]] = [("defaults", None)]
    for name in stack_names():
        env = environment_from_stack_file(name)
        outputs = StackOutputs(image, env.cluster.effective_network.service_cidr, f"{name}-weights", "gcs.example:6379")
        cases.append((name, chart_values(env, name, outputs)))
    problems = []
    for case, values in cases:
        report = helm.lint(str(CHART_DIR), values, strict=True, namespace="gpt-oss", kube_version="v1.35.0")
        for message in report.get("messages") or []:
            if int(message.get("severity", 0)) >= 2:  # warning or error
                problems.append(f"{case}: {message.get('path')}: {message.get('error')}")
        problems += [f"{case}: {error}" for error in report.get("errors") or []]
    return not problems, "\n".join(problems)


def docs(fix: bool) -> tuple[bool, str]:
    from cli import docs as blocks

    if fix:
        blocks.write()
    stale = blocks.stale()
    return not stale, f"stale: {', '.join(stale)}; run `gpt-oss-platform reference --write`" if stale else ""


GATES: dict[str, Callable[[bool], tuple[bool, str]]] = {
    "ruff": ruff,
    "pyright": pyright,
    "chart": chart,
    "yamllint": yamllint,
    "docs": docs,
}


def run(args: argparse.Namespace) -> int:
    status = OK
    for name in args.only or GATES:
        passed, output = GATES[name](args.fix)
        print(f"{'ok' if passed else 'FAILED'}: {name}")
        if not passed:
            print(output)
            status = CHECK_FAILED
    return status
