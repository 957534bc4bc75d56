"""The gateway image, everything up to `docker build` (no container engine here):

- the build context (.dockerignore over the repository) holds exactly the files the Dockerfile
  copies into the image, nothing more (no tests, infra, secrets, venvs, bytecode) and nothing less;
- the same dependency set the image installs (`uv export --only-group gateway`, hashes required)
  installs into a fresh venv, and the gateway starts from the build context alone, on a read-only
  copy, as a non-root process, and answers /healthz, /readyz and, on its own port, /metrics.

.dockerignore semantics (docs.docker.com, "Build context", ".dockerignore files"; moby/patternmatcher):
patterns are Go filepath.Match globs with `**` for any number of directories, relative to the
context root; a path is excluded when the last pattern matching it or one of its parent
directories is an exclusion, and `!` re-includes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.ports import free_port as _free_port

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "serving" / "gateway" / "Dockerfile"
UV = REPO / ".uv" / "bin" / "uv"


def _pattern_regex(pattern: str) -> re.Pattern:
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + "$")


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((negate, _pattern_regex(os.path.normpath(pattern))))
    return rules


def excluded(path: str, rules: list[tuple[bool, re.Pattern]]) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.match(c) for c in candidates):
            result = not negate
    return result


def build_context() -> set[str]:
    """Every file docker would send: the working tree (what a CI checkout holds plus local
    leftovers such as __pycache__ and .venv) less .dockerignore."""
    rules = dockerignore_rules()
    found = set()
    for root, dirs, files in os.walk(REPO):
        rel_root = os.path.relpath(root, REPO)
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            rel = os.path.normpath(os.path.join(rel_root, name))
            if not excluded(rel, rules):
                found.add(rel)
    return found


def copied_sources() -> list[str]:
    """Sources of the Dockerfile's COPY instructions from the context (not from other stages)."""
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    return sources


def needed_files() -> set[str]:
    """What the COPY instructions take: files, and every tracked file under copied directories."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    needed = set()
    for source in copied_sources():
        source = source.rstrip("/")
        if (REPO / source).is_dir():
            needed |= {f for f in tracked if f.startswith(source + "/")}
        else:
            needed.add(source)
    # The Dockerfile itself is read by the builder from outside the context.
    return needed - {"serving/gateway/Dockerfile"}


def test_the_matcher_follows_dockerignore_rules():
    rules = [(False, _pattern_regex("*")), (True, _pattern_regex("serving/gateway")), (False, _pattern_regex("**/__pycache__"))]
    assert excluded("infra/config/models.py", rules)
    assert not excluded("serving/gateway/app.py", rules)
    assert excluded("serving/gateway/__pycache__/app.cpython-311.pyc", rules)
    assert excluded("serving/other.py", rules)


def test_the_build_context_is_exactly_what_the_image_copies():
    context = build_context()
    needed = needed_files()
    assert needed <= context, f"the Dockerfile copies files .dockerignore leaves out: {sorted(needed - context)}"
    extra = sorted(context - needed)
    assert not extra, f"the build context holds files the image does not need: {extra[:20]}"
    assert not [f for f in context if f.startswith(("infra/", "tests/", "cli/", ".venv/")) or f.endswith((".pyc", ".key"))]


def test_the_dockerfile_copies_nothing_that_is_not_in_the_context():
    context = build_context()
    for source in copied_sources():
        source = source.rstrip("/")
        assert source in context or any(f.startswith(source + "/") for f in context), source


@pytest.mark.slow
def test_the_locked_gateway_dependencies_install_fresh_and_the_gateway_starts_from_the_context(tmp_path):
    started = time.monotonic()
    requirements = tmp_path / "requirements.txt"
    export = subprocess.run(
        [
            str(UV),
            "export",
            "--frozen",
            "--only-group",
            "gateway",
            "--no-emit-project",
            "--format",
            "requirements.txt",
            "-o",
            str(requirements),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert export.returncode == 0, export.stderr
    assert "--hash=sha256:" in requirements.read_text()
    venv = tmp_path / "venv"
    subprocess.run([str(UV), "venv", str(venv), "--python", sys.executable, "-q"], check=True, timeout=60)
    install = subprocess.run(
        [str(UV), "pip", "install", "--python", str(venv / "bin" / "python"), "--require-hashes", "-q", "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr
    python = str(venv / "bin" / "python")
    for absent in ("pulumi", "pytest", "infra"):
        probe = subprocess.run([python, "-c", f"import {absent}"], capture_output=True, cwd=tmp_path, timeout=30)
        assert probe.returncode != 0, f"{absent} is importable in the gateway's environment"

    # The application exactly as the image lays it out: the context's files, read-only.
    app = tmp_path / "app"
    for rel in build_context():
        if rel.startswith(("contracts/", "serving/")):
            target = app / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / rel, target)
    for path in sorted(app.rglob("*"), reverse=True):
        path.chmod(
            stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if path.is_dir() else 0)
        )
    app.chmod(0o555)

    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps({"clients": []}))
    port, metrics_port = _free_port(), _free_port()
    config = tmp_path / "gateway.json"
    config.write_text(
        json.dumps(
            {
                "environment": "image-test",
                "team": "ml-platform",
                "host": "127.0.0.1",
                "port": port,
                "metrics": {"port": metrics_port},
                "clients_file": str(clients),
                "routes": [{"model": "gpt-oss-20b", "primary": "self-hosted", "fallback": None}],
                "upstreams": [
                    {
                        "name": "self-hosted",
                        "adapter": "self_hosted",
                        "base_url": f"http://127.0.0.1:{_free_port()}/v1",
                        "model": "gpt-oss-20b",
                        "readiness": {"probe": "models", "interval_s": 60},
                        "cost": {"kind": "amortised_fleet", "fleet_usd_per_hour": 0.8048},
                    }
                ],
            }
        )
    )
    env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "PYTHONPATH": str(app), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(tmp_path)}
    process = subprocess.Popen(
        [python, "-m", "serving.gateway", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
        assert 'gateway_route_override{environment="image-test",route="auto"} 1.0' in metrics
    finally:
        process.terminate()
        process.wait(15)
    assert not list(app.rglob("__pycache__")), "the gateway wrote bytecode into the application directory"
    assert time.monotonic() - started < 90
