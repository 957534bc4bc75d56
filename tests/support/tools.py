"""Tools the tests run (checkov, promtool) are installed next to the main venv by `make test`.

Missing, they make their tests skip with the command that installs them; under `make test`
(REQUIRE_ALL_TOOLS=1) a missing tool is a failure instead, so CI cannot go green without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def require_all_tools() -> bool:
    return os.environ.get("REQUIRE_ALL_TOOLS") == "1"


def require_tool(path: Path, install: str) -> Path:
    """`path` if the tool is there; otherwise skip (or fail under `make test`) saying `install`."""
    if path.exists():
        return path
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    message = f"{path.name} is not installed at {shown}; install it with `{install}`"
    if require_all_tools():
        pytest.fail(message)
    pytest.skip(message)
