"""Golden files: the rendered prod manifests and prod values file, and the chart's ci/ scenario
values, reviewed like code. A change to the chart, to infra/chart_values.py, to a stack file or
to the gateway's settings shows up here as a diff.

Regenerate after an intended change, then review the diff:
    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/charts/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
import yaml

from infra.chart_values.values_file import render_values_file

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/charts/test_golden.py"


def manifests_text(rendered: dict[str, str]) -> str:
    """What `helm template` prints: each template's documents under a `# Source:` line."""
    parts = []
    for template in sorted(rendered):
        text = rendered[template].strip()
        if text:
            parts.append(f"---\n# Source: {template}\n{text}\n")
    return "".join(parts)


def check(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with: {REGENERATE}")
    expected = path.read_text()
    if expected != actual:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(path), "rendered", n=2))
        pytest.fail(f"{path.name} differs from the rendered output (if intended: {REGENERATE}):\n{diff[:6000]}")


def test_prod_manifests_match_the_golden_file(kit):
    check(kit.GOLDEN_DIR / "prod-manifests.yaml", manifests_text(kit.rendered_text("prod")))


def test_prod_values_file_matches_the_golden_file(kit):
    env, stack = kit.environment("prod")
    check(kit.GOLDEN_DIR / "prod-values.yaml", render_values_file(env, stack, kit.outputs(env, stack)))


@pytest.mark.parametrize("scenario", ["l4-20b", "h100-120b-tp1", "l40s-120b-tp2", "spot-dev-scale-to-zero"])
def test_ci_scenario_values_are_generated_from_their_scenario(kit, scenario):
    header = (
        f"# Scenario {scenario} of tests/charts/conftest.py, produced by infra/chart_values/.\n"
        f"# Generated; regenerate with: {REGENERATE}\n"
    )
    body = yaml.safe_dump(kit.values(scenario), sort_keys=False, width=120)
    check(kit.CI_DIR / f"{scenario}-values.yaml", header + body)


def test_every_ci_values_file_is_a_known_scenario(kit):
    files = {p.name for p in kit.CI_DIR.glob("*-values.yaml")}
    assert files == {f"{s}-values.yaml" for s in kit.SCENARIOS}
