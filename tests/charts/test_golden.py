"""Golden files, reviewed like code: one small snapshot per concern of the prod release, so a diff
says what changed in intent (a GPU request, a policy peer, an alert group), plus the prod values
file `gpt-oss-platform values` writes. A change to the chart, to infra/chart_values/, to a stack
file or to the gateway's settings shows up here as a diff.

Object labels are left out of the snapshots: they repeat the cost labels on every object, and
tests/charts/test_chart_render.py checks them on every object and pod template of every case.

Regenerate after an intended change, then review the diff:
    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/charts/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.chart_values.values_file import render_values_file

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/charts/test_golden.py"
CASE = "prod"


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


def without_labels(node: Any) -> Any:
    """The object with every `metadata.labels` left out (selectors stay: they are intent)."""
    if isinstance(node, list):
        return [without_labels(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: without_labels(value) for key, value in node.items()}
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k != "labels"}
    return out


def snapshot(title: str, body: Any) -> str:
    header = f"# {title}\n# Golden file of tests/charts/test_golden.py; regenerate with: {REGENERATE}\n"
    return header + yaml.safe_dump(body, sort_keys=False, width=120, allow_unicode=True)


def _named(docs: list[dict[str, Any]], kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "kind": d["kind"],
            "name": d["metadata"]["name"],
            **without_labels({k: v for k, v in d.items() if k in ("metadata", "spec")}),
        }
        for d in docs
        if d["kind"] in kinds
    ]


def rayservice(kit) -> Any:
    """The RayService: head, GPU worker group, upgrade strategy; serveConfigV2 parsed from its YAML string."""
    service = without_labels(kit.one(kit.rendered_docs(CASE), "RayService"))
    service["spec"]["serveConfigV2"] = yaml.safe_load(service["spec"]["serveConfigV2"])
    return {"metadata": service["metadata"], "spec": service["spec"]}


def gateway(kit) -> Any:
    """The gateway's Deployment, Services and HorizontalPodAutoscaler."""
    docs = [d for d in kit.rendered_docs(CASE) if d["metadata"]["name"].startswith("gpt-oss-gateway")]
    return _named(docs, ("Deployment", "Service", "HorizontalPodAutoscaler"))


def network_policies(kit) -> Any:
    """Every NetworkPolicy: who may reach each pod, and where each pod may go."""
    return {d["metadata"]["name"]: d["spec"] for d in kit.rendered_docs(CASE) if d["kind"] == "NetworkPolicy"}


def alert_groups(kit) -> Any:
    """The PrometheusRule's groups and the alerts and recording rules in each (the rules themselves
    are tested with promtool in tests/runbooks)."""
    rule = kit.one(kit.rendered_docs(CASE), "PrometheusRule")
    return {g["name"]: [r.get("alert") or r["record"] for r in g["rules"]] for g in rule["spec"]["groups"]}


SNAPSHOTS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "rayservice.yaml": ("The prod RayService.", rayservice),
    "gateway.yaml": ("The prod gateway: Deployment, Services, HorizontalPodAutoscaler.", gateway),
    "network-policies.yaml": ("The prod NetworkPolicies, by name.", network_policies),
    "alert-groups.yaml": ("The prod PrometheusRule: group -> alerts and recording rules.", alert_groups),
}


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_prod_release_matches_its_golden_snapshot(kit, name):
    title, build = SNAPSHOTS[name]
    check(kit.GOLDEN_DIR / CASE / name, snapshot(title, build(kit)))


def test_prod_values_file_matches_the_golden_file(kit):
    env, stack = kit.environment(CASE)
    check(kit.GOLDEN_DIR / CASE / "values.yaml", render_values_file(env, stack, kit.outputs(env, stack)))


def test_every_golden_file_is_one_the_tests_write(kit):
    """A snapshot nobody writes any more would sit there unreviewed."""
    files = {p.relative_to(kit.GOLDEN_DIR).as_posix() for p in kit.GOLDEN_DIR.rglob("*") if p.is_file()}
    assert files == {f"{CASE}/{name}" for name in [*SNAPSHOTS, "values.yaml"]}
