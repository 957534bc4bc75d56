"""The CI/CD workflows: zizmor finds nothing, every action is pinned by commit, permissions are
declared, and every command they call exists (make targets, gpt-oss-platform subcommands and flags)."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli.__main__ import build_parser
from infra.paths import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
# Written by another part of the toolkit (the gateway image pipeline); linted like the others.
MINE = {"ci.yml", "deploy.yml", "drift.yml", "promote.yml"}
ZIZMOR = Path(sys.executable).parent / "zizmor"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


CI_ENTRY = REPO_ROOT / ".ci" / "run"


def run_scripts(workflow: dict) -> list[str]:
    """The shell of every `run:` step, with `.ci/run` (the project's CI entry point) read in where
    a step calls it, so that the make targets it runs are checked like the others."""
    scripts = [step["run"] for job in workflow["jobs"].values() for step in job.get("steps", []) if "run" in step]
    return [script + ("\n" + CI_ENTRY.read_text() if ".ci/run" in script else "") for script in scripts]


def commands(script: str, program: str) -> list[list[str]]:
    """Every invocation of `program` in a shell script, as argv after the program, with
    `${VAR}` and `$(...)` replaced by a placeholder value."""
    found = []
    text = re.sub(r"\$\{\{[^}]*\}\}", "X", script)
    for line in text.replace("\\\n", " ").splitlines():
        for match in re.finditer(rf"(?:^|[\s;(|&]){re.escape(program)}\s+([^|;&)]*)", line):
            words = match.group(1).replace('"${flags[@]}"', "")
            argv = shlex.split(re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "X", words), comments=True)
            found.append(argv)
    return found


def test_the_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= MINE


def test_zizmor_finds_nothing():
    """zizmor (static analysis of GitHub Actions, https://docs.zizmor.sh/audits/): template
    injection, unpinned actions, excessive permissions, persisted credentials and the rest."""
    if not ZIZMOR.exists():
        pytest.fail("zizmor is not installed: make venv (dev group)")
    result = subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", str(REPO_ROOT / ".github" / "workflows")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit(path):
    uses = [step["uses"] for job in load(path)["jobs"].values() for step in job.get("steps", []) if "uses" in step]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
        line = next(line for line in path.read_text().splitlines() if ref in line)
        assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{ref}: say which release the commit is"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_empty_by_default_and_granted_per_job(path):
    workflow = load(path)
    assert workflow.get("permissions") == {}, "top-level `permissions: {}`"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, name


@pytest.mark.parametrize("path", [p for p in WORKFLOWS if p.name in MINE], ids=lambda p: p.name)
def test_aws_comes_only_through_oidc_roles(path):
    text = path.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    workflow = load(path)
    for name, job in workflow["jobs"].items():
        uses_aws = any("configure-aws-credentials" in step.get("uses", "") for step in job.get("steps", []))
        if uses_aws:
            assert job["permissions"].get("id-token") == "write", name
            assert "environment" in job, f"{name}: the role comes from a GitHub environment (its `sub` claim)"


def test_ci_runs_the_gates_then_the_tests_through_the_entry_point():
    """`.ci/run` is what CI runs on a clean clone: `make check`, then `make test` (issue #8)."""
    steps = run_scripts(load(REPO_ROOT / ".github" / "workflows" / "ci.yml"))
    entry = [argv for script in steps if ".ci/run" in script for argv in commands(script, "make")]
    assert entry == [["check"], ["test"]]


def test_every_make_target_they_call_exists():
    targets = set()
    for path in WORKFLOWS:
        for script in run_scripts(load(path)):
            targets |= {argv[0] for argv in commands(script, "make") if argv}
    assert {"check", "test", "plan", "deploy-venv"} <= targets
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    for target in sorted(targets):
        result = subprocess.run(["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert "No rule to make target" not in result.stderr, target


def test_every_toolkit_command_they_call_parses():
    parser = build_parser()
    calls = []
    for path in WORKFLOWS:
        for script in run_scripts(load(path)):
            calls += commands(script, ".venv/bin/gpt-oss-platform")
    assert {argv[0] for argv in calls} >= {"envs", "diff", "pins", "promote"}
    for argv in calls:
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"gpt-oss-platform {' '.join(argv)}: not a valid command line")
        assert isinstance(args, argparse.Namespace) and callable(args.run)


def test_the_helper_finds_commands_in_scripts():
    script = 'echo "x=$(.venv/bin/gpt-oss-platform envs affected --base "origin/${BASE_REF}" --json)"\nmake plan ENV="${ENV_NAME}" | tee f'
    assert commands(script, ".venv/bin/gpt-oss-platform") == [["envs", "affected", "--base", "origin/X", "--json"]]
    assert commands(script, "make") == [["plan", "ENV=X"]]
