"""A scratch git repository holding the tests' own environments (tests/support/environments.py,
never this repository's pins), and smoke records written the way `gpt-oss-platform smoke`
writes them in CI: bound to the run and signed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.environments.pins import load_pins
from infra.environments.records import SmokeCheck, SmokeRecord, write_smoke_record
from support.environments import build_environments, ci_environ


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    """The fixture environments, committed in a new repository."""
    return build_environments(tmp_path / "repo")


@pytest.fixture
def smoke(tmp_path: Path) -> Callable[..., Path]:
    """Write a smoke record for `env`'s current pins in `repo`, finished `hours_ago`."""
    records = tmp_path / "records"

    def write(repo: Path, env: str, hours_ago: float, passed: bool = True, environ: dict | None = None) -> Path:
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
            environ=ci_environ(repo) if environ is None else environ,
        )
        return records

    return write
