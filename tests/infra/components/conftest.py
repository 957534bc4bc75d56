"""Run the real Pulumi program under mocks once per stack (or per variant) and share the result."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from infra.config.load import PROJECT, read_stack_file
from infra.plan.mocks import Registration
from infra.plan.runner import ProgramRun, run_program


class Run:
    """A program run with helpers to find what it registered."""

    def __init__(self, run: ProgramRun):
        self.run = run
        self.registrations = run.registrations

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def named(self, type_token: str, name: str) -> Registration:
        matches = [r for r in self.of_type(type_token) if r.name == name]
        assert len(matches) == 1, f"{type_token} {name}: {[r.name for r in self.of_type(type_token)]}"
        return matches[0]


@pytest.fixture(scope="session")
def program() -> Callable[[str], Run]:
    cache: dict[str, Run] = {}

    def get(env_name: str) -> Run:
        if env_name not in cache:
            cache[env_name] = Run(run_program(env_name))
        return cache[env_name]

    return get


@pytest.fixture
def variant(tmp_path: Path) -> Callable[[str, Callable[[dict], None]], Run]:
    """Run the program on a copy of a stack file changed by `mutate(environment_dict)`."""

    def make(env_name: str, mutate: Callable[[dict], None]) -> Run:
        config = copy.deepcopy(read_stack_file(env_name))
        mutate(config[f"{PROJECT}:environment"])
        (tmp_path / f"Pulumi.{env_name}.yaml").write_text(yaml.safe_dump({"config": config}))
        return Run(run_program(env_name, tmp_path))

    return make
