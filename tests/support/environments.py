"""Helpers for environment and promotion tests: git in a scratch repository, a test digest."""

from __future__ import annotations

import subprocess
from pathlib import Path

DIGEST = "sha256:" + "ab" * 32


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60).stdout
