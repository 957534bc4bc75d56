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
        for match in re.finditer(rf"(?:^|[\s;(|&]){re.escape(program)}\s+([^|;&)<>]*)", line):
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
    assert {"check", "test", "deploy-venv", "ops-venv"} <= targets
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
    assert {argv[0] for argv in calls} >= {"envs", "diff", "pins", "promote", "plan", "smoke", "upstream"}
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


# --- CI that really fails (issue #15, "CI steps that cannot fail") --------------------------------

# GitHub runs `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`, and a step without a
# shell as `bash -e {0}`: no pipefail, so `cmd | tee log` succeeds whatever cmd did
# (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax#exit-codes-and-error-action-preference).
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
GITHUB_DEFAULT = ["bash", "-e"]
PIPE = re.compile(r"(?<![|>&])\|(?![|&])")


def effective_shell(workflow: dict, job: dict, step: dict) -> str | None:
    for holder in (step, (job.get("defaults") or {}).get("run") or {}, (workflow.get("defaults") or {}).get("run") or {}):
        if "shell" in holder:
            return holder["shell"]
    return None


def _unquoted(script: str) -> str:
    """The script without quoted strings and comments (a `|` in a jq filter is not a pipe)."""
    text = re.sub(r"'[^']*'", "''", script)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    return re.sub(r"(?m)(^|\s)#.*$", r"\1", text)


def unprotected_pipes(workflow: dict) -> list[str]:
    """Steps with a shell pipe that do not run under bash with pipefail."""
    found = []
    for name, job in workflow.get("jobs", {}).items():
        for index, step in enumerate(job.get("steps", [])):
            if "run" not in step or not PIPE.search(_unquoted(step["run"])):
                continue
            shell = effective_shell(workflow, job, step)
            if shell == "bash" or (shell and "pipefail" in shell):
                continue
            found.append(f"{name} step {index} ({step.get('name', step['run'].splitlines()[0])}): shell {shell!r}")
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_runs_its_steps_under_pipefail(path):
    workflow = load(path)
    assert workflow.get("defaults", {}).get("run", {}).get("shell") == "bash", "defaults: run: shell: bash"
    assert unprotected_pipes(workflow) == []


def test_the_pipe_lint_finds_a_pipe_without_pipefail():
    plain = {"jobs": {"j": {"steps": [{"run": "make plan | tee plan.txt"}]}}}
    assert len(unprotected_pipes(plain)) == 1
    assert unprotected_pipes({**plain, "defaults": {"run": {"shell": "bash"}}}) == []
    quoted = {"jobs": {"j": {"steps": [{"run": "jq '.[] | .name' f.json\na || b"}]}}}
    assert unprotected_pipes(quoted) == []
    stepwise = {"jobs": {"j": {"steps": [{"run": "a | b", "shell": "sh"}]}}, "defaults": {"run": {"shell": "bash"}}}
    assert len(unprotected_pipes(stepwise)) == 1


def _step(path: str, name: str) -> tuple[dict, dict]:
    workflow = load(REPO_ROOT / ".github" / "workflows" / path)
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if step.get("name") == name:
                return job, step
    raise AssertionError(f"{path}: no step {name!r}")


def _run_step(script: str, shell: list[str], tmp_path: Path, fakes: dict[str, str], env: dict[str, str]) -> int:
    """Run a workflow step's script under `shell` with fake programs first on PATH."""
    bin_dir = tmp_path / "bin"
    (tmp_path / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    bin_dir.mkdir(exist_ok=True)
    for name, body in fakes.items():
        target = tmp_path / name if "/" in name else bin_dir / name
        target.write_text("#!/bin/sh\n" + body + "\n")
        target.chmod(0o755)
    (tmp_path / "out").write_text("")
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_OUTPUT": str(tmp_path / "out"), "HOME": str(tmp_path), **env}
    result = subprocess.run([*shell, "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
    return result.returncode


def test_drift_fails_when_the_preview_finds_changes(tmp_path):
    """`pulumi preview --expect-no-changes` exits non-zero on drift; under GitHub's `shell: bash`
    the step fails with it. Under the old default shell the same script succeeded."""
    _job, step = _step("drift.yml", "Refresh and expect no changes")
    fakes = {"pulumi": "echo '~ 1 to update'; exit 255"}
    env = {"ENV_NAME": "dev"}
    assert _run_step(step["run"], GITHUB_BASH, tmp_path, fakes, env) == 255
    assert _run_step(step["run"], GITHUB_DEFAULT, tmp_path, fakes, env) == 0, "the pipe hid it before"
    assert (tmp_path / "drift-dev.txt").read_text().startswith("~ 1 to update")


def test_a_refused_promotion_stops_before_anything_is_pushed(tmp_path):
    _, step = _step("promote.yml", "Gates and promotion commit")
    refused = '{"ok": false, "release": "r-0123456789ab", "branch": null, "gates": []}'
    fakes = {
        ".venv/bin/gpt-oss-platform": f"echo '{refused}'; exit 1",
        "git": "exit 0",
        "jq": 'exec /usr/bin/jq "$@"' if Path("/usr/bin/jq").exists() else "echo",
    }
    env = {
        "FROM_ENV": "dev",
        "TO_ENV": "staging",
        "ROLLBACK": "false",
        "DRY_RUN": "false",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "s"),
    }
    assert _run_step(step["run"], GITHUB_BASH, tmp_path, fakes, env) == 1
    assert "branch=" not in (tmp_path / "out").read_text()
    # The push step only runs after this one succeeded (no `if: always()`).
    _, push = _step("promote.yml", "Push the branch and open the pull request")
    assert "always()" not in str(push.get("if", "")) and "failure()" not in str(push.get("if", ""))


def test_every_job_has_a_timeout():
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: {name} has no timeout-minutes"


def test_promotions_and_deploys_run_one_at_a_time():
    promote = load(REPO_ROOT / ".github" / "workflows" / "promote.yml")
    assert promote["concurrency"] == {"group": "promote", "cancel-in-progress": False}
    deploy = load(REPO_ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]["deploy"]
    assert deploy["concurrency"] == {"group": "deploy-${{ matrix.env }}", "cancel-in-progress": False}


def test_environment_matrices_come_from_envs_list():
    """No workflow that deploys, previews or drift-checks names the environments: an environment
    made with `new-env` is in the matrix because `envs list --json` lists it."""
    for path in ("ci.yml", "deploy.yml", "drift.yml"):
        workflow = load(REPO_ROOT / ".github" / "workflows" / path)
        text = (REPO_ROOT / ".github" / "workflows" / path).read_text()
        assert "gpt-oss-platform envs list --json" in text, path
        for name, job in workflow["jobs"].items():
            matrix = (job.get("strategy") or {}).get("matrix")
            if matrix is None:
                continue
            assert set(matrix) == {"include"} and "fromJSON(needs." in matrix["include"], f"{path}: {name}"


def test_bot_pull_requests_are_opened_with_the_app_token():
    """A pull request opened with GITHUB_TOKEN triggers no workflow (GitHub docs, "Triggering a
    workflow from a workflow"): the required `ci` check would never run on it."""
    seen = 0
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            steps = job.get("steps", [])
            for step in steps:
                if "gh pr create" not in step.get("run", ""):
                    continue
                seen += 1
                assert step["env"]["GH_TOKEN"] == "${{ steps.app-token.outputs.token }}", f"{path.name}: {name}"
                app = [s for s in steps if s.get("id") == "app-token"]
                assert app and app[0]["uses"].startswith("actions/create-github-app-token@"), f"{path.name}: {name}"
                assert "pull-requests" not in job["permissions"] and job["permissions"].get("contents") != "write"
    assert seen >= 2
    assert "RELEASE_APP_PRIVATE_KEY" in (REPO_ROOT / "docs" / "environments.md").read_text()


# --- OIDC subjects: derived from each job, compared with the documented trust conditions ---------

SUBJECT_DOC = REPO_ROOT / "docs" / "environments.md"
MATRIX_EXPR = re.compile(r"\$\{\{\s*matrix\.(?:env|environment)\s*\}\}")


def job_subjects() -> dict[str, str]:
    """`<workflow>:<job>` -> the `sub` claim its OIDC token carries: `repo:<org>/<repo>:environment:
    <name>` for a job that names an environment (GitHub docs, "OpenID Connect reference", example
    subject claims), with a matrix environment written `<env>`."""
    subjects = {}
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            if (job.get("permissions") or {}).get("id-token") != "write":
                continue
            environment = job.get("environment")
            assert environment, f"{path.name}: {name} asks for an OIDC token without an environment (its sub would be the branch)"
            environment = environment["name"] if isinstance(environment, dict) else environment
            subjects[f"{path.name}:{name}"] = "repo:<org>/<repo>:environment:" + MATRIX_EXPR.sub("<env>", environment)
    return subjects


def documented_subjects() -> set[str]:
    """The first column of the trust-condition table in docs/environments.md, "CI/CD"."""
    return set(re.findall(r"(?m)^\s*\| `(repo:<org>/<repo>:environment:[\w<>-]+)` \|", SUBJECT_DOC.read_text()))


def test_every_oidc_subject_is_a_documented_trust_condition():
    derived = job_subjects()
    documented = documented_subjects()
    assert derived, "no job asks for an OIDC token"
    assert len(documented) == 4, documented
    missing = {job: sub for job, sub in derived.items() if sub not in documented}
    assert missing == {}, f"trust conditions missing from {SUBJECT_DOC.name}: {missing}"
    stale = documented - set(derived.values())
    assert stale == set(), f"{SUBJECT_DOC.name} documents subjects no job presents: {stale}"


def test_no_docs_tell_users_to_trust_the_branch_for_environment_jobs():
    for path in [SUBJECT_DOC, REPO_ROOT / "docs" / "operating.md", *WORKFLOWS]:
        text = path.read_text()
        assert not re.search(r"repo:[^\s\"`]*:ref:refs/heads/", text), f"{path.name}: a branch subject"
        assert not re.search(r"trusting token\.actions\.githubusercontent\.com for this repository's main", text), path.name


def test_the_deploy_session_outlasts_a_first_up():
    deploy = load(REPO_ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]["deploy"]
    creds = next(s for s in deploy["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert int(creds["with"]["role-duration-seconds"]) >= 3 * 3600
    assert deploy["timeout-minutes"] * 60 <= int(creds["with"]["role-duration-seconds"]) + 3600
    assert "MaxSessionDuration" in SUBJECT_DOC.read_text()


# --- Runners: a job that reaches a cluster runs where the cluster's endpoint admits it ----------

CLUSTER_COMMANDS = re.compile(r"\bpulumi (up|preview)\b|\bkubectl\b")


def test_jobs_that_reach_a_cluster_run_on_the_environments_runner():
    """GitHub-hosted runners leave from GitHub's changing ranges; a restricted `public_cidrs` or a
    private endpoint refuses them. Such jobs take `runs-on` from `envs list` (runner_for)."""
    seen = 0
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            if not any(CLUSTER_COMMANDS.search(step.get("run", "")) for step in job.get("steps", [])):
                continue
            seen += 1
            assert job["runs-on"] == "${{ matrix.runner }}", f"{path.name}: {name} runs on {job['runs-on']!r}"
    assert seen >= 3


def test_the_runner_follows_the_endpoint():
    from infra.environments.overview import HOSTED_RUNNER, runner_for

    def env(mode: str, cidrs: list[str]) -> dict:
        return {"cluster": {"api_access": {"mode": mode, "public_cidrs": cidrs}}}

    assert runner_for("dev", env("public", ["0.0.0.0/0"])) == HOSTED_RUNNER
    assert runner_for("dev", env("public", ["203.0.113.0/24"])) == ["self-hosted", "gpt-oss-dev"]
    assert runner_for("prod", env("private", [])) == ["self-hosted", "gpt-oss-prod"]


def test_staging_and_prod_plans_are_strict():
    for path in ("ci.yml", "deploy.yml"):
        text = (REPO_ROOT / ".github" / "workflows" / path).read_text()
        assert 'if [ "${STRICT}" = "true" ]; then flags+=(--strict); fi' in text, path
        assert "STRICT: ${{ matrix.strict }}" in text, path
    from infra.environments.overview import STRICT_TIERS

    assert set(STRICT_TIERS) == {"staging", "prod"}


def test_deploy_matrix_is_every_dev_tier_environment_and_the_promoted_ones(tmp_path):
    """The `changes` job's script with real jq: dev-tier environments always, others only when the
    push promoted (or rolled back) them, each with its runner and strictness; broken rows dropped."""
    if shutil.which("jq") is None:
        pytest.fail("jq is not installed (apt-get install jq): GitHub's runners have it")
    _, step = _step("deploy.yml", "Environments this push deploys (dev tier always, the others when promoted or rolled back)")
    rows = [
        {"name": "dev", "tier": "dev", "runner": "ubuntu-24.04", "strict": False},
        {"name": "staging", "tier": "staging", "runner": ["self-hosted", "gpt-oss-staging"], "strict": True},
        {"name": "prod", "tier": "prod", "runner": ["self-hosted", "gpt-oss-prod"], "strict": True},
        {"name": "perf", "problem": "environments/perf.yaml: cluster.name: required"},
    ]
    import json

    fake = 'case "$2" in promoted) echo \'["staging"]\';; list) echo \'' + json.dumps(rows) + "';; esac"
    fakes = {".venv/bin/gpt-oss-platform": fake, "jq": 'exec "' + shutil.which("jq") + '" "$@"'}
    env = {"BEFORE": "0" * 40, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    assert _run_step(step["run"], GITHUB_BASH, tmp_path, fakes, env) == 0
    (line,) = (tmp_path / "out").read_text().splitlines()
    matrix = json.loads(line.removeprefix("matrix="))
    assert matrix == [
        {"env": "dev", "tier": "dev", "runner": "ubuntu-24.04", "strict": False},
        {"env": "staging", "tier": "staging", "runner": ["self-hosted", "gpt-oss-staging"], "strict": True},
    ]
