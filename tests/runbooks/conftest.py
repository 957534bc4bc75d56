"""Fixtures for the alerts (charts/gpt-oss-serving/files/alerts.yaml, rendered by
templates/prometheusrule.yaml) and their runbooks (runbooks/).

The PrometheusRule is rendered with Helm's own engine from the values of each stack, through the
chart kit (tests/support/chart_kit.py). promtool is fetched by tools/promtool/fetch.sh; without it the tests
that need it skip, unless REQUIRE_ALL_TOOLS=1 (`make test`), where they fail.
"""

from __future__ import annotations

import copy
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import chart_kit
from support.tools import require_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS_DIR = REPO_ROOT / "runbooks"
PROMTOOL = REPO_ROOT / "tools" / "promtool" / "bin" / "promtool"
PROMTOOL_FETCH = "tools/promtool/fetch.sh"
UNIT_TESTS_DIR = Path(__file__).parent / "promtool"
STACKS = ("dev", "staging", "prod")
SECTIONS = ["Meaning", "Impact", "Diagnosis", "Mitigation"]
SEVERITIES = {"critical", "warning", "info"}


def values(case: str) -> dict[str, Any]:
    return copy.deepcopy(chart_kit.values(case))


def prometheus_rules(values_: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in chart_kit.documents(chart_kit.render(values_)) if d["kind"] == "PrometheusRule"]


@cache
def _rule_object(case: str) -> dict[str, Any]:
    found = prometheus_rules(values(case))
    assert len(found) == 1, f"{case}: expected one PrometheusRule, found {len(found)}"
    return found[0]


def rule_object(case: str) -> dict[str, Any]:
    """The rendered PrometheusRule of a stack."""
    return copy.deepcopy(_rule_object(case))


def alert_rules(case: str) -> list[dict[str, Any]]:
    return [r for g in rule_object(case)["spec"]["groups"] for r in g["rules"] if "alert" in r]


def all_rules(case: str) -> list[dict[str, Any]]:
    return [r for g in rule_object(case)["spec"]["groups"] for r in g["rules"]]


def runbook_files(stack: str = "prod") -> dict[str, Path]:
    """Alert name -> the runbook rendered for `stack` (README.md is the index, not a runbook)."""
    return {p.stem: p for p in sorted((RUNBOOKS_DIR / stack).glob("*.md")) if p.name != "README.md"}


def h2_sections(text: str) -> list[tuple[str, str]]:
    """(title, body) of each `## ` section, fenced code blocks ignored when looking for headings."""
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"^##\s", line):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
    return [(title, "\n".join(body).strip()) for title, body in sections]


def unit_test_rules(case: str) -> dict[str, Any]:
    """The rule groups of a stack as a Prometheus rule file, annotations left out: promtool
    compares annotations in full, and their text (and runbook link) is tested elsewhere."""
    spec = rule_object(case)["spec"]
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return spec


def promtool_path() -> Path:
    return require_tool(PROMTOOL, PROMTOOL_FETCH)


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(promtool_path()), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def write_rules(case: str, folder: Path, *, annotations: bool) -> Path:
    spec = rule_object(case)["spec"] if annotations else unit_test_rules(case)
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, width=200))
    return path


class Alerting:
    """The helpers above, handed to test modules as a fixture (with --import-mode=importlib a
    test module cannot import this conftest)."""

    REPO_ROOT = REPO_ROOT
    RUNBOOKS_DIR = RUNBOOKS_DIR
    UNIT_TESTS_DIR = UNIT_TESTS_DIR
    STACKS = STACKS
    SECTIONS = SECTIONS
    SEVERITIES = SEVERITIES
    values = staticmethod(values)
    prometheus_rules = staticmethod(prometheus_rules)
    rule_object = staticmethod(rule_object)
    alert_rules = staticmethod(alert_rules)
    all_rules = staticmethod(all_rules)
    runbook_files = staticmethod(runbook_files)
    h2_sections = staticmethod(h2_sections)
    run_promtool = staticmethod(run_promtool)
    write_rules = staticmethod(write_rules)
    environment = staticmethod(chart_kit.environment)


@pytest.fixture(scope="session")
def alerting() -> type[Alerting]:
    return Alerting


@pytest.fixture(params=STACKS)
def stack(request) -> str:
    return request.param
