"""Security scan of the rendered manifests: checkov's Kubernetes checks, zero findings outside
the commented skip list in tools/checkov/skips.yaml.

checkov lives in its own environment (its pins conflict with the main lock file):
    uv sync --frozen --project tools/checkov
Without it the test skips, unless REQUIRE_ALL_TOOLS=1 (`make test`), where it fails.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from support.tools import require_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = REPO_ROOT / "tools" / "checkov" / ".venv" / "bin" / "checkov"
SKIPS = REPO_ROOT / "tools" / "checkov" / "skips.yaml"
INSTALL = "uv sync --frozen --project tools/checkov"
MAX_SKIPS = 6


@pytest.fixture(scope="session")
def scan(kit, tmp_path_factory) -> dict:
    """Render every environment and scenario into one folder and run checkov once over it."""
    require_tool(CHECKOV, INSTALL)
    root = tmp_path_factory.mktemp("rendered")
    for case in kit.ALL_CASES:
        folder = root / case
        folder.mkdir()
        for template, text in kit.rendered_text(case).items():
            if text.strip():
                (folder / Path(template).name).write_text(text)
        pods = kit.synthetic_pods(kit.rendered_docs(case))
        (folder / "ray-pods.yaml").write_text(yaml.safe_dump_all(pods, sort_keys=False))
    result = subprocess.run(
        [str(CHECKOV), "-d", str(root), "--framework", "kubernetes", "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not print JSON (exit {result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    if isinstance(report, list):
        (report,) = [r for r in report if r.get("check_type") == "kubernetes"]
    return report


def _skips() -> list[dict]:
    return yaml.safe_load(SKIPS.read_text())["skips"]


def _skipped(finding: dict, skips: list[dict]) -> dict | None:
    for skip in skips:
        if finding["check_id"] == skip["check"] and any(fnmatch.fnmatch(finding["resource"], p) for p in skip["resources"]):
            return skip
    return None


def test_every_skip_is_justified_and_the_list_stays_short():
    skips = _skips()
    assert len(skips) <= MAX_SKIPS
    for skip in skips:
        assert skip["check"].startswith("CKV") and skip["resources"], skip
        assert len(skip["reason"]) > 80, f"{skip['check']}: say why the finding is acceptable"
        assert "*" not in skip["resources"], f"{skip['check']}: scope the skip to the resources it is justified for"


def test_the_scan_covered_every_object_including_the_ray_pods(kit, scan):
    assert scan["summary"]["parsing_errors"] == 0
    scanned = {c["resource"] for c in scan["results"]["passed_checks"] + scan["results"]["failed_checks"]}
    for expected in ("Deployment.gpt-oss.gpt-oss-gateway", "Pod.gpt-oss.gpt-oss-head", "ServiceAccount.gpt-oss.gpt-oss-ray"):
        assert expected in scanned
    for case in kit.ALL_CASES:
        env, _ = kit.environment(case)
        assert f"Pod.gpt-oss.gpt-oss-worker-{env.serving_pool().name}" in scanned


def test_checkov_finds_nothing_outside_the_skip_list(scan):
    skips = _skips()
    unexpected = [
        f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})"
        for f in scan["results"]["failed_checks"]
        if not _skipped(f, skips)
    ]
    assert not unexpected, "checkov findings (fix them, or justify them in tools/checkov/skips.yaml):\n" + "\n".join(unexpected)


def test_no_skip_is_stale(scan):
    skips = _skips()
    used = {s["check"] for f in scan["results"]["failed_checks"] for s in [_skipped(f, skips)] if s}
    stale = [s["check"] for s in skips if s["check"] not in used]
    assert not stale, f"skips that match no finding any more, remove them: {stale}"
