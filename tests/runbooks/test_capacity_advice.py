"""Runbook advice to lower or raise a capacity key is advice the plan accepts.

`serving.max_ongoing_requests` and `gateway.max_in_flight` are derived from one sizing and the plan
refuses values that contradict it (infra/config/rules.py `capacity_problems`). Each runbook that
suggests changing one renders the range the plan accepts for its environment (infra/capacity.py
`accepted_ranges`, through runbooks/templates/_macros.j2 `accepts` / `lower`). These tests read
the range FROM THE RENDERED RUNBOOKS, write each end into the environment's overlay of a scratch
repository, and run the plan's validation on it (`validate_overlay`, what `envs render` and `plan`
run): both ends are accepted, one step beyond either end is refused naming the key.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from infra.config.errors import ConfigError
from infra.config.load import validate_overlay
from support.environments import build_environments

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
STACKS = ("dev", "staging", "prod")
KEYS = ("serving.max_ongoing_requests", "gateway.max_in_flight")
RANGE = re.compile(r"`(?P<key>[a-z_.]+)` \(now (?P<now>\d+)(?:, derived)?; the plan accepts (?P<low>\d+)\.\.(?P<high>\d+)\)")
ADVICE = re.compile(r"\b(?:lower|raise)\s+`(" + "|".join(map(re.escape, KEYS)) + r")`")


def ranges(stack: str) -> dict[str, set[tuple[int, int, int]]]:
    """Key -> every (now, low, high) the rendered runbooks of `stack` state for it."""
    found: dict[str, set[tuple[int, int, int]]] = {}
    for path in (RUNBOOKS / stack).rglob("*.md"):
        for m in RANGE.finditer(path.read_text()):
            found.setdefault(m["key"], set()).add((int(m["now"]), int(m["low"]), int(m["high"])))
    return found


def unranged_advice(text: str) -> list[str]:
    """Advice to lower or raise a capacity key that does not name the range the plan accepts."""
    return [m.group(0) for m in ADVICE.finditer(text) if not RANGE.match(text, m.end() - len(m[1]) - 2)]


def problems_after(root: Path, stack: str, key: str, value: int) -> list[str]:
    """The plan's problems once the overlay of `stack` sets `key` to `value` ([] = accepted)."""
    overlay = root / "environments" / f"{stack}.yaml"
    original = overlay.read_text()
    data = yaml.safe_load(original)
    section, _, name = key.partition(".")
    data.setdefault(section, {})[name] = value
    overlay.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        validate_overlay(stack, root)
        return []
    except ConfigError as error:
        return [f"{p.path}: {p.message}" for p in error.problems]
    finally:
        overlay.write_text(original)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return build_environments(tmp_path_factory.mktemp("capacity") / "repo")


def test_every_capacity_advice_names_the_range_the_plan_accepts():
    bare = []
    for stack in STACKS:
        for path in sorted((RUNBOOKS / stack).rglob("*.md")):
            bare += [f"{path.relative_to(RUNBOOKS)}: {a}" for a in unranged_advice(path.read_text())]
    assert not bare, "advice to change a capacity key without the range the plan accepts:\n" + "\n".join(bare)
    # The alerts whose mitigation changes these keys (the list of the issue): each states a range.
    for stack in STACKS:
        assert set(ranges(stack)) == set(KEYS), f"{stack}: the runbooks state ranges for {sorted(ranges(stack))}"


def test_a_planted_advice_without_its_range_is_found():
    assert unranged_advice("- lower `serving.max_ongoing_requests` so Ray Serve back-pressures") == [
        "lower `serving.max_ongoing_requests`"
    ]
    assert unranged_advice("raise `gateway.max_in_flight` (per gateway pod) to 400") == ["raise `gateway.max_in_flight`"]
    assert not unranged_advice("lower `gateway.max_in_flight` (now 168, derived; the plan accepts 84..331)")


@pytest.mark.parametrize("stack", STACKS)
def test_the_rendered_ranges_are_what_the_plan_accepts(scratch, stack):
    stated = ranges(stack)
    for key in KEYS:
        assert len(stated[key]) == 1, f"{stack}: the runbooks disagree on {key}: {sorted(stated[key])}"
        ((now, low, high),) = stated[key]
        assert low <= now <= high, f"{stack}: {key} now {now} outside the stated {low}..{high}"
        for value in {low, high, now}:
            assert problems_after(scratch, stack, key, value) == [], f"{stack}: {key}={value} (stated as accepted) is refused"
        for value in (low - 1, high + 1):
            refused = problems_after(scratch, stack, key, value)
            assert refused, f"{stack}: {key}={value} is outside the stated {low}..{high} but the plan accepts it"
            assert any(key.split(".")[1] in line for line in refused), refused
