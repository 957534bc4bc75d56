"""The planned stack of an environment (program under mocks, every Helm release rendered), built
once per stack and copied for each test that plants a defect in it."""

from __future__ import annotations

import copy
from collections.abc import Callable

from infra.plan import manifests
from infra.plan.build import collect_manifests
from infra.plan.checks import PlannedStack
from infra.plan.mocks import Registration
from infra.plan.runner import ProgramRun, run_program
from infra.plan.third_party import upstream_releases

_RUNS: dict[str, ProgramRun] = {}


def planned(run: ProgramRun, registrations: list[Registration]) -> PlannedStack:
    stack = PlannedStack(
        run.env,
        registrations,
        manifests.local_releases(registrations, run.workdir),
        upstream_releases(registrations),
        run.workdir,
    )
    collect_manifests(stack)
    return stack


def stack_of(env_name: str, mutate: Callable[[list[Registration]], None] | None = None) -> PlannedStack:
    """The planned stack of `env_name`, after `mutate(registrations)` changed a copy of what the
    program registered (the way a defect would reach the engine)."""
    if env_name not in _RUNS:
        _RUNS[env_name] = run_program(env_name)
    run = _RUNS[env_name]
    registrations = copy.deepcopy(run.registrations)
    if mutate:
        mutate(registrations)
    return planned(run, registrations)


def named(registrations: list[Registration], type_token: str, name_part: str) -> Registration:
    found = [r for r in registrations if r.type == type_token and name_part in r.name]
    assert found, f"no {type_token} named like {name_part}"
    return found[0]


def release(registrations: list[Registration], name: str) -> Registration:
    (found,) = [r for r in registrations if r.type == manifests.RELEASE and r.inputs.get("name") == name]
    return found
