"""The `pulumi` and `git` steps of every rendered prod runbook, EXECUTED in a scratch clone of
this repository (its committed HEAD): `git` for real (each `git log` must print history, so a path
that does not exist fails), `pulumi` through a recording stand-in on PATH that checks each
invocation against the real CLI's grammar (tests/support/pulumi_stand_in.py: the subcommand and
every flag exist upstream, `--stack` names a stack file, `--policy-pack` a directory).

Not run: `make plan` (the offline plan, minutes per stack; tests/infra/plan runs it) and `gh`
(no prod runbook calls it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runbooks.test_runbook_execution import blocks, run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = ROOT / "tests" / "support" / "pulumi_stand_in.py"
STEP = re.compile(r"^\s*(pulumi|git) ")


def tool_lines(stack: str = "prod") -> list[tuple[str, str]]:
    """(runbook, line) of every line of a block that runs pulumi or git, `a && b` split."""
    found = []
    for name, block in blocks(stack):
        for line in block.splitlines():
            for part in line.split("&&"):
                if STEP.match(part):
                    found.append((name, part.strip()))
    return found


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A clone of this repository's HEAD, with the stand-in as `pulumi` on PATH."""
    root = tmp_path_factory.mktemp("tools")
    clone = root / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STAND_IN}" "$@"\n')
    (bin_dir / "pulumi").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(root),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PULUMI_STAND_IN_LOG": str(root / "pulumi.log"),
    }
    return clone, env


def run_in(clone: Path, env: dict[str, str], line: str) -> subprocess.CompletedProcess[str]:
    return run(env, f"cd {clone} && set -eo pipefail\n{line}")


def test_every_pulumi_and_git_step_of_every_prod_runbook_runs(scratch):
    clone, env = scratch
    lines = tool_lines()
    assert any(line.startswith("pulumi ") for _, line in lines) and any(line.startswith("git ") for _, line in lines)
    failed = []
    for name, line in lines:
        done = run_in(clone, env, line)
        if done.returncode != 0:
            failed.append(f"{name}: {line}\n    exit {done.returncode}: {done.stderr.strip()[-300:]}")
        elif line.startswith("git log") and not done.stdout.strip():
            failed.append(f"{name}: {line}\n    printed no history (a path that does not exist?)")
    assert not failed, "runbook steps that do not run:\n" + "\n".join(failed)
    recorded = [json.loads(x) for x in Path(env["PULUMI_STAND_IN_LOG"]).read_text().splitlines()]
    assert len(recorded) == sum(line.startswith("pulumi ") for _, line in lines)


@pytest.mark.parametrize(
    ("planted", "why"),
    [
        ("pulumi up --stack prod --polcy-pack infra/policy", "unknown flag: --polcy-pack"),
        ("pulumi up --stack production", "no stack named 'production'"),
        ("pulumi preview --stack prod --policy-pack infra/policies", "is not a directory"),
        ("pulumi deploy --stack prod", 'unknown command "deploy"'),
        ("pulumi up --stack", "flag needs an argument"),
    ],
)
def test_a_planted_pulumi_mistake_fails(scratch, planted, why):
    clone, env = scratch
    done = run_in(clone, env, planted)
    assert done.returncode == 1 and why in done.stderr, done.stderr


def test_the_short_forms_and_the_alias_pass(scratch):
    clone, env = scratch
    for line in ("pulumi update -s prod -y", "pulumi preview --stack=prod --diff -C ."):
        done = run_in(clone, env, line)
        assert done.returncode == 0, (line, done.stderr)


def test_a_git_log_of_a_path_that_does_not_exist_prints_nothing(scratch):
    clone, env = scratch
    done = run_in(clone, env, "git log --oneline -5 -- infra/chart_value/")
    assert done.returncode == 0 and not done.stdout.strip()
