"""Environments the tests own: a scratch git repository holding a base, the dev/staging/prod
overlays and release pins written here, and the stack files rendered from them.

The overlays are this repository's (the shape a user keeps valid, so a user's valid edit keeps
the tests valid); the pins are the fixture's, never the live ones: `pins set --env dev
--gateway-digest ...` (what the image workflow does on every merge) or `new-env perf` in the
user's repository change nothing here. Other environments a user added are not copied.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DIGEST = "sha256:" + "ab" * 32
# The fixture's Ray image digest: staging and prod refuse a release without one.
RAY_DIGEST = "sha256:" + "0e" * 32
# The records key the fixture's CI signs smoke records with (GPT_OSS_RECORDS_KEY).
RECORDS_KEY = "test-records-key"
FIXTURE_ENVIRONMENTS = ("dev", "staging", "prod")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60).stdout


def fixture_pins(source: Path):
    """The fixture's release: the checkout's Ray image (with RAY_DIGEST) and chart, the models of
    the source's pins files, a gateway image without a digest."""
    from infra.environments.checkout import checkout_chart, checkout_ray_image
    from infra.environments.pins import ChartPin, ImagePin, ReleasePins, load_pins

    models: dict[str, str] = {}
    for env in FIXTURE_ENVIRONMENTS:
        models |= load_pins(env, source).models
    repository, tag = checkout_ray_image()
    chart = checkout_chart()
    return ReleasePins(
        models=models,
        ray_image=ImagePin(repository=repository, tag=tag, digest=RAY_DIGEST),
        gateway_image=ImagePin(repository="ghcr.io/example/gpt-oss-gateway", tag="0.1.0", digest=None),
        chart=ChartPin(name=chart.name, version=chart.version),
    )


def build_environments(root: Path, source: Path | None = None) -> Path:
    """Write the fixture environments under `root` (base and overlays from `source`, default
    this repository; pins and stack files the fixture's) and commit them in a new repository."""
    from infra.config.stack_files import render_stack_file
    from infra.environments.pins import write_pins
    from infra.paths import REPO_ROOT

    source = source or REPO_ROOT
    (root / "environments").mkdir(parents=True)
    shutil.copy(source / "environments" / "base.yaml", root / "environments" / "base.yaml")
    pins = fixture_pins(source)
    for env in FIXTURE_ENVIRONMENTS:
        shutil.copy(source / "environments" / f"{env}.yaml", root / "environments" / f"{env}.yaml")
        write_pins(env, pins, root)
        render_stack_file(env, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Release Manager")
    git(root, "config", "user.email", "rm@example.com")
    git(root, "config", "commit.gpgsign", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "environments")
    return root


def ci_environ(repo: Path, run_id: str = "4242") -> dict[str, str]:
    """What GitHub Actions gives a deploy job of `repo` at its HEAD, with the records key."""
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": run_id,
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_SHA": git(repo, "rev-parse", "HEAD").strip(),
        "GITHUB_REPOSITORY": "example/gpt-oss-platform",
        "GITHUB_WORKFLOW": "deploy",
        "GPT_OSS_RECORDS_KEY": RECORDS_KEY,
    }
