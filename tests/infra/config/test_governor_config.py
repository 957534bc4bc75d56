"""The governor's config section: defaults (recommend everywhere) and every validator fed bad input."""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError, environment_from_stack_file, read_stack_file, validate_environment
from infra.config.load import PROJECT


def stack_env(name: str) -> dict:
    return copy.deepcopy(read_stack_file(name)[f"{PROJECT}:environment"])


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw)
    return [p.render() for p in caught.value.problems]


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_environment_runs_the_governor_in_recommend_mode_by_default(name):
    assert environment_from_stack_file(name).governor.mode == "recommend"


@pytest.mark.parametrize(
    ("governor", "expected"),
    [
        ({"mode": "auto"}, "'off', 'recommend' or 'enforce'"),
        ({"interval_s": 10}, "greater than or equal to 60"),
        ({"horizon_hours": 1}, "greater than or equal to 2"),
        ({"history_days": 0}, "greater than or equal to 1"),
        ({"min_dwell_minutes": -1}, "greater than or equal to 0"),
        ({"max_changes_per_day": 0}, "greater than or equal to 1"),
        ({"hysteresis_usd_per_month": -5}, "greater than or equal to 0"),
        ({"sovereign_min_replicas": -1}, "greater than or equal to 0"),
        ({"sovereign_learning_hours": -1}, "greater than or equal to 0"),
        ({"sovereign_min_replicas": 2}, "governor.sovereign_min_replicas (2) is above serving.max_replicas (1)"),
        ({"typo": 1}, "unknown key"),
        ({"image": {"digest": "sha256:abc"}}, "governor.image.digest"),
        ({"image": {"repository": "Not Valid"}}, "governor.image.repository"),
    ],
)
def test_each_bad_governor_value_is_refused_with_its_path(governor, expected):
    raw = stack_env("dev")
    raw["governor"] = governor
    problems = problems_of(raw)
    assert any("governor" in p and expected in p for p in problems), problems


def test_a_bad_governor_repository_name_is_refused_with_its_path():
    raw = stack_env("dev")
    raw["registry"] = {"governor_repository": "Upper/Case"}
    assert any("registry.governor_repository" in p for p in problems_of(raw))
