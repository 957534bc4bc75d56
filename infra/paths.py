"""Where things are in a checkout of this repository (one definition, imported everywhere)."""

from __future__ import annotations

from pathlib import Path

from contracts import CHART_PATH

REPO_ROOT = Path(__file__).resolve().parents[1]
CHART_DIR = REPO_ROOT / CHART_PATH
BUILD_DIR = REPO_ROOT / "build"
PULUMI_PROJECT_FILE = REPO_ROOT / "Pulumi.yaml"
