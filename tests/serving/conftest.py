"""Fixtures for the gateway tests: fake upstreams and a gateway, on 127.0.0.1 free ports.

Every server started here is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import MANAGED_API_KEY, RunningGateway, settings_for_test, wait_until, write_secrets


@pytest.fixture
def primary() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI("self-hosted").start()
    yield fake
    fake.stop()


@pytest.fixture
def managed() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI("managed", api_key=MANAGED_API_KEY, usage_null_in_chunks=True).start()
    yield fake
    fake.stop()


@pytest.fixture
def secrets(tmp_path: Path) -> tuple[Path, Path]:
    return write_secrets(tmp_path)


@pytest.fixture
def start_gateway(
    primary: FakeOpenAI, managed: FakeOpenAI, secrets: tuple[Path, Path]
) -> Iterator[Callable[..., RunningGateway]]:
    """Start a gateway in front of the two fakes; keyword arguments override test settings."""
    running: list[RunningGateway] = []

    def start(**overrides: Any) -> RunningGateway:
        settings = settings_for_test(primary.base_url, managed.base_url, *secrets, **overrides)
        gateway = RunningGateway(settings).start()
        running.append(gateway)
        # Wait for the start-up probe, so tests begin from a known state.
        wait_until(lambda: gateway.upstream("self-hosted").health.probes >= 1)
        return gateway

    yield start
    for gateway in running:
        gateway.stop()


@pytest.fixture
def gateway(start_gateway: Callable[..., RunningGateway]) -> RunningGateway:
    return start_gateway()
