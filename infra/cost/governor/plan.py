"""The cheapest floor for every hour of a sequence: dynamic programming over the hours.

State: the floor in an hour (replicas). The cost of an hour depends on the floor before it (cold
starts of added replicas, the scale-down tail of removed nodes: model.HourlyCost.hour), so the
best cost of reaching floor `f` at hour `t` is the best over `p` of reaching `p` at `t-1` plus the
hour from `p` to `f`. Sovereign tokens left unserved rank before dollars: a path that serves all
of them always beats a cheaper one that does not. Used twice: on the actual traffic it is the
hindsight optimum of `cost simulate`; on the forecast it is the governor's plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.cost.governor.model import HourlyCost


@dataclass(frozen=True)
class Path:
    floors: list[int]
    usd: float
    sovereign_unserved: float


def cheapest_path(model: HourlyCost, start_floor: int, hours: Sequence[tuple[float, float]], floors: Sequence[int]) -> Path:
    """The floors, one per hour of `hours` ((tokens, sovereign tokens) each), from `start_floor`."""
    if not hours:
        return Path([], 0.0, 0.0)
    # best[f] = (unserved sovereign, usd, path) of the cheapest way to be at floor f now.
    best: dict[int, tuple[float, float, list[int]]] = {start_floor: (0.0, 0.0, [])}
    for tokens, sovereign in hours:
        step: dict[int, tuple[float, float, list[int]]] = {}
        for floor in floors:
            candidates = []
            for previous, (unserved, usd, path) in best.items():
                hour = model.hour(previous, floor, tokens, sovereign)
                candidates.append((unserved + hour.sovereign_unserved, usd + hour.total_usd, previous, path))
            unserved, usd, _, path = min(candidates, key=lambda c: (round(c[0], 6), c[1], c[2]))
            step[floor] = (unserved, usd, [*path, floor])
        best = step
    unserved, usd, path = min(best.values(), key=lambda v: (round(v[0], 6), v[1], v[2][-1]))
    return Path(path, usd, unserved)


def path_cost(model: HourlyCost, start_floor: int, hours: Sequence[tuple[float, float]], floors: Sequence[int]) -> Path:
    """The cost of following `floors` (one per hour) from `start_floor`."""
    usd = unserved = 0.0
    previous = start_floor
    for (tokens, sovereign), floor in zip(hours, floors, strict=True):
        hour = model.hour(previous, floor, tokens, sovereign)
        usd += hour.total_usd
        unserved += hour.sovereign_unserved
        previous = floor
    return Path(list(floors), usd, unserved)
