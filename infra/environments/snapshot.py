"""What one environment's offline plan holds, keyed so two environments can be compared:
every resource the program registers and every object the chart renders, with its inputs, and
the monthly cost floor and max. Runs the real program under Pulumi's mocks (infra/plan/runner.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.output import Unknown

from infra.config.overlays import get_path
from infra.plan import cost, manifests
from infra.plan.runner import run_program

ENV_TOKEN = "<env>"
COMPUTED = "<computed at apply>"


@dataclass
class Snapshot:
    env: str
    resources: dict[str, Any]  # "<type> <name>" -> inputs, names and env-specific values normalised
    cost_floor: float
    cost_max: float


def _normaliser(values: dict[str, str]) -> Any:
    """Replace the values every environment must have its own of (name, cluster, CIDR, cost
    center) with placeholders, so two environments compare on what they choose, not on what
    they must differ in. The name is replaced only as a whole word between separators."""
    rules = []
    for placeholder, value in values.items():
        if value:
            rules.append((re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"), placeholder))
    # Longest first: the cluster name `gpt-oss-dev` before the environment name `dev`.
    rules.sort(key=lambda rule: -len(rule[0].pattern))

    def normalise(value: Any) -> Any:
        if isinstance(value, Unknown):
            return COMPUTED  # a preview's unknown output: equal to any other
        if isinstance(value, str):
            for pattern, placeholder in rules:
                value = pattern.sub(placeholder, value)
            return value
        if isinstance(value, dict):
            return {normalise(k): normalise(v) for k, v in value.items()}
        if isinstance(value, list):
            return [normalise(v) for v in value]
        return value

    return normalise


def take_snapshot(env: str, root: Path) -> Snapshot:
    program = run_program(env, root)
    raw = program.env.model_dump(by_alias=True)
    normalise = _normaliser(
        {
            "<cluster>": get_path(raw, "cluster.name")[1],
            "<vpc-cidr>": get_path(raw, "cluster.network.vpc_cidr")[1],
            "<cost-center>": get_path(raw, "tags.cost-center")[1],
            ENV_TOKEN: env,
        }
    )
    resources: dict[str, Any] = {}
    for r in program.registrations:
        if r.custom and not r.type.startswith("pulumi:providers:"):
            resources[normalise(f"{r.type} {r.name}")] = normalise(r.inputs)
    for release in manifests.local_releases(program.registrations, program.workdir):
        for document in release.documents:
            name = (document.get("metadata") or {}).get("name")
            key = normalise(f"kubernetes:{document.get('apiVersion')}:{document.get('kind')} {release.name}/{name}")
            resources[key] = normalise(manifests.redact_secret_values(document))
    money = cost.monthly_cost(program.env, program.registrations)
    return Snapshot(env=env, resources=resources, cost_floor=money["floor"], cost_max=money["max"])
