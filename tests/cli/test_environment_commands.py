"""The environment commands as a user runs them: exit codes and messages, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

from infra.paths import REPO_ROOT
from support.environments import build_environments


def test_a_yaml_syntax_error_exits_2_naming_file_line_and_column(tmp_path):
    build_environments(tmp_path)
    (tmp_path / "environments" / "dev.yaml").write_text("tier: dev\ncluster:\n  name: gpt-oss-dev\n   mode: create\n")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "envs", "render", "--env", "dev", "--root", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "environments/dev.yaml:4:8: YAML syntax error: mapping values are not allowed here" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 2


def test_envs_check_and_list_on_this_repository():
    check = subprocess.run(
        [sys.executable, "-m", "cli", "envs", "check"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0 and check.stdout.split() == ["ok", "dev", "ok", "staging", "ok", "prod"], check.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "cli", "envs", "list"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert listing.returncode == 0 and "prod         prod     us-east-1" in listing.stdout
