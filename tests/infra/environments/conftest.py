"""A scratch git repository holding a copy of this repository's environments (never this
repository itself), and smoke records written the way `gpt-oss-platform smoke` writes them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.environments.pins import load_pins
from infra.environments.records import SmokeCheck, SmokeRecord, write_smoke_record
from infra.paths import REPO_ROOT
from support.environments import git


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    """environments/ and the stack files of this repository, committed in a new repository."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(REPO_ROOT / "environments", repo / "environments", ignore=shutil.ignore_patterns("provenance"))
    for stack in REPO_ROOT.glob("Pulumi.*.yaml"):
        shutil.copy(stack, repo / stack.name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Release Manager")
    git(repo, "config", "user.email", "rm@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "environments")
    return repo


@pytest.fixture
def smoke(tmp_path: Path) -> Callable[..., Path]:
    """Write a smoke record for `env`'s current pins in `repo`, finished `hours_ago`."""
    records = tmp_path / "records"

    def write(repo: Path, env: str, hours_ago: float, passed: bool = True) -> Path:
        pins = load_pins(env, repo)
        finished = datetime.now(UTC) - timedelta(hours=hours_ago)
        checks = [
            SmokeCheck(name="chat", passed=True, served_by="self-hosted", duration_ms=800.0),
            SmokeCheck(name="stream", passed=passed, detail="" if passed else "no first byte in 20 s", ttft_ms=200.0),
        ]
        write_smoke_record(
            records,
            SmokeRecord(
                environment=env,
                release=pins.release_id,
                pins=pins,
                url=f"https://gateway.{env}.example.com/v1",
                started_at=finished - timedelta(minutes=1),
                finished_at=finished,
                checks=checks,
                passed=passed,
                host="test",
            ),
        )
        return records

    return write
