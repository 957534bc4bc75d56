"""Shared test settings. Tests mirror the source tree; each area keeps its own fixtures."""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def require_all_tools() -> bool:
    """`make test` sets REQUIRE_ALL_TOOLS=1: a missing tool is then a failure, not a skip."""
    return os.environ.get("REQUIRE_ALL_TOOLS") == "1"
