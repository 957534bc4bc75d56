"""Fixtures for the serving chart tests; the helpers live in tests/support/chart_kit.py."""

from __future__ import annotations

from types import ModuleType

import pytest

from support import chart_kit


@pytest.fixture(params=chart_kit.ALL_CASES)
def case(request) -> str:
    return request.param


@pytest.fixture(params=chart_kit.STACKS)
def stack_case(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def kit() -> ModuleType:
    """The chart kit (a module: its constants and helpers, e.g. `kit.values("prod")`)."""
    return chart_kit
