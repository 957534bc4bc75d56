"""`cost simulate`: a trace replayed through the governor's own policy, against three references.

Every strategy is costed hour by hour with the same model (model.HourlyCost.hour), and the sums
are scaled to a month (catalog hours_per_month / hours in the trace):
- `always_on`: the environment as configured: Ray Serve's autoscaler keeps the replicas the
  current hour needs between `serving.min_replicas` and the pool's maximum, reacting (a replica it
  adds starts cold);
- `api_only`: every token at the API's blended price (tokens x blend);
- `governor`: `policy.decide` at the start of every hour, seeing only the hours before it, in
  `enforce` mode (what enforce would have done);
- `hindsight`: the cheapest floors knowing the whole trace (plan.cheapest_path), within the same
  limits (tier minimum, sovereign floor as configured, pool maximum), cold starts included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.cost.governor.model import HourlyCost
from infra.cost.governor.plan import cheapest_path
from infra.cost.governor.policy import Decision, Memory, Settings, decide, remember
from infra.cost.governor.trace import HourSample
from infra.cost.pricing import money


@dataclass(frozen=True)
class Strategy:
    name: str
    floors: list[int]
    hourly_usd: list[float]
    usd: float  # over the trace
    monthly_usd: float
    api_tokens: float
    sovereign_unserved: float


@dataclass(frozen=True)
class Simulation:
    hours: list[HourSample]
    always_on: Strategy
    api_only: Strategy
    governor: Strategy
    hindsight: Strategy
    decisions: list[Decision] = field(default_factory=list)
    model: HourlyCost | None = None

    @property
    def scale(self) -> float:
        assert self.model is not None
        return self.model.hours_per_month / len(self.hours)

    def as_json(self) -> dict[str, Any]:
        assert self.model is not None
        m = self.model
        return {
            "hours": len(self.hours),
            "from": self.hours[0].hour.isoformat(),
            "to": self.hours[-1].hour.isoformat(),
            "tokens": sum(h.tokens for h in self.hours),
            "sovereign_tokens": sum(h.sovereign_tokens for h in self.hours),
            "always_on_usd": money(self.always_on.monthly_usd),
            "api_only_usd": money(self.api_only.monthly_usd),
            "governor_usd": money(self.governor.monthly_usd),
            "hindsight_usd": money(self.hindsight.monthly_usd),
            "governor_over_hindsight": round(self.governor.monthly_usd / self.hindsight.monthly_usd - 1, 4)
            if self.hindsight.monthly_usd > 0
            else None,
            "sovereign_tokens_unserved": round(self.governor.sovereign_unserved),
            "always_on_sovereign_tokens_unserved": round(self.always_on.sovereign_unserved),
            "hindsight_sovereign_tokens_unserved": round(self.hindsight.sovereign_unserved),
            "monthly_scale": round(self.scale, 4),
            "model": {
                "instance_type": m.instance_type,
                "usd_per_node_hour": m.shape.usd_per_node_hour,
                "replicas_per_node": m.shape.replicas_per_node,
                "replica_tokens_per_hour": round(m.replica_tokens_per_hour),
                "throughput_basis": m.throughput_basis,
                "api_model": m.api_model,
                "api_usd_per_mtok": round(m.api_usd_per_token * 1e6, 4),
                "cold_start_minutes": m.shape.cold_start_minutes,
                "configured_floor": m.configured_floor,
                "min_floor": m.min_floor,
                "max_floor": m.max_floor,
                "fallback_allowed": m.fallback_allowed,
            },
            "decisions": [d.as_dict() for d in self.decisions],
        }


def _strategy(name: str, model: HourlyCost, trace: Sequence[HourSample], floors: list[int], start: int) -> Strategy:
    hourly, api_tokens, unserved, previous = [], 0.0, 0.0, start
    for sample, floor in zip(trace, floors, strict=True):
        hour = model.hour(previous, floor, sample.tokens, sample.sovereign_tokens)
        hourly.append(hour.total_usd)
        api_tokens += hour.api_tokens
        unserved += hour.sovereign_unserved
        previous = floor
    usd = sum(hourly)
    return Strategy(name, floors, hourly, usd, usd * model.hours_per_month / len(trace), api_tokens, unserved)


def simulate(model: HourlyCost, settings: Settings, trace: Sequence[HourSample]) -> Simulation:
    """The four strategies over `trace`, and the governor's decisions that changed or were blocked."""
    trace = list(trace)
    start = min(model.max_floor, model.configured_floor)
    always = [min(model.max_floor, max(model.configured_floor, model.replicas_for(s.tokens))) for s in trace]

    api_hourly = [s.tokens * model.api_usd_per_token for s in trace]
    api_usd = sum(api_hourly)
    api_only = Strategy(
        "api_only",
        [0] * len(trace),
        api_hourly,
        api_usd,
        api_usd * model.hours_per_month / len(trace),
        sum(s.tokens for s in trace),
        sum(s.sovereign_tokens for s in trace),
    )

    memory = Memory(floor=start)
    governed, decisions = [], []
    for i, sample in enumerate(trace):
        decision = decide(model, settings, trace[:i], sample.hour, memory, mode="enforce")
        memory = remember(memory, decision)
        governed.append(decision.floor)
        if decision.applied or decision.blocked_by:
            decisions.append(decision)

    floors = range(model.min_floor, model.max_floor + 1)
    best = cheapest_path(model, start, [(s.tokens, s.sovereign_tokens) for s in trace], floors)
    return Simulation(
        hours=trace,
        always_on=_strategy("always_on", model, trace, always, start),
        api_only=api_only,
        governor=_strategy("governor", model, trace, governed, start),
        hindsight=_strategy("hindsight", model, trace, best.floors, start),
        decisions=decisions,
        model=model,
    )
