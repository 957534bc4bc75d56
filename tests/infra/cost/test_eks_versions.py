"""EKS version support windows: the price of the control plane, the plan's warning, the refusal.

Dates from the Amazon EKS Kubernetes release calendar (infra/catalog/eks_versions.yaml). Extended
support bills from the start of the end-of-standard-support day, UTC.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest

from infra.catalog import load_catalog
from infra.config import ConfigError, read_stack_file, validate_environment
from infra.config.load import PROJECT
from infra.config.models import KUBERNETES_VERSIONS


def test_every_version_the_config_accepts_has_a_support_window():
    assert set(KUBERNETES_VERSIONS) <= set(load_catalog().eks.versions)


@pytest.mark.parametrize(
    ("day", "window", "rate"),
    [
        (date(2026, 7, 28), "standard", 0.10),
        (date(2026, 7, 29), "extended", 0.60),
        (date(2027, 7, 28), "extended", 0.60),
        (date(2027, 7, 29), "ended", 0.60),
    ],
)
def test_kubernetes_1_33_windows_follow_the_calendar(day, window, rate):
    eks = load_catalog().eks
    assert eks.support("1.33", day) == window
    assert eks.usd_per_cluster_hour("1.33", day) == rate


def test_a_version_past_extended_support_is_refused_at_the_config_boundary(monkeypatch):
    catalog = load_catalog()
    ended = catalog.eks.versions["1.32"].model_copy(update={"end_of_extended_support": date(2026, 1, 1)})
    eks = catalog.eks.model_copy(update={"versions": {**catalog.eks.versions, "1.32": ended}})
    monkeypatch.setattr("infra.config.models.load_catalog", lambda: catalog.model_copy(update={"eks": eks}))
    raw = copy.deepcopy(read_stack_file("dev")[f"{PROJECT}:environment"])
    raw["cluster"]["kubernetes_version"] = "1.32"
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw, stack="dev")
    message = str(caught.value)
    assert "cluster.kubernetes_version: EKS ended extended support for Kubernetes 1.32 on 2026-01-01" in message
    assert "(got '1.32')" in message


def test_a_version_in_extended_support_is_accepted():
    raw = copy.deepcopy(read_stack_file("dev")[f"{PROJECT}:environment"])
    if load_catalog().eks.support(raw["cluster"]["kubernetes_version"], date.today()) == "ended":
        pytest.fail("the committed stacks run a version EKS no longer supports: upgrade cluster.kubernetes_version")
    assert validate_environment(raw, stack="dev").cluster.kubernetes_version == raw["cluster"]["kubernetes_version"]
