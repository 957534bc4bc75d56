"""Synthetic traces and the environments' cost models for the governor's tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from infra.catalog import load_catalog
from infra.config import environment_from_stack_file
from infra.config.models import GovernorConfig
from infra.cost.governor.build import cost_model
from infra.cost.governor.model import HourlyCost
from infra.cost.governor.trace import HOUR, HourSample
from infra.cost.prices import priced_catalog

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def model(env: str) -> HourlyCost:
    return cost_model(environment_from_stack_file(env), priced_catalog(load_catalog()))


def settings(env: str, **overrides) -> GovernorConfig:
    base = environment_from_stack_file(env).governor
    return base.model_copy(update=overrides)


def trace(hours: int, tokens: Callable[[datetime], float], sovereign: Callable[[datetime], float] = lambda _: 0.0):
    return [HourSample(MONDAY + HOUR * h, tokens(MONDAY + HOUR * h), sovereign(MONDAY + HOUR * h)) for h in range(hours)]
