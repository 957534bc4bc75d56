"""One decision of the cost governor: the serving floor for now, with its guardrails and its
dollar effect. The same function runs in the cluster (serving/governor/) and in `cost simulate`.

1. The sovereign floor: the configured sovereign service level and the tier's minimum
   (model.min_floor), the replicas the largest sovereign hour of the history needs, and one
   replica while the history is shorter than `sovereign_learning_hours`. No
   decision ever goes below it; raising to it skips the dwell time, the daily limit and the
   hysteresis (sovereign traffic never waits for a budget).
2. The plan: the cheapest floors over the forecast horizon (plan.cheapest_path, cold starts and
   the API's share during them counted); its first hour is the target.
3. The gates, first that applies wins: the drain switch (a route override other than `auto`),
   an upgrade or a promotion in progress, the minimum dwell time, the changes of the last 24
   hours, and the hysteresis (the plan must save at least `hysteresis_usd_per_month` against
   holding the floor for the whole horizon).
4. The mode: `enforce` applies the target; `recommend` reports it and keeps the floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from infra.cost.governor.forecast import forecast
from infra.cost.governor.model import HourlyCost
from infra.cost.governor.plan import cheapest_path, path_cost
from infra.cost.governor.trace import HourSample
from infra.cost.pricing import money

Mode = Literal["off", "recommend", "enforce"]
ROUTE_AUTO = "auto"  # contracts.ROUTE_AUTO; the policy takes the route as a plain string


class Settings(Protocol):
    """The knobs of a decision: infra/config/models.py `GovernorConfig` has them (so has the
    controller's settings file); a protocol, so the controller needs no config loader."""

    @property
    def mode(self) -> Mode: ...
    @property
    def horizon_hours(self) -> int: ...
    @property
    def min_dwell_minutes(self) -> int: ...
    @property
    def max_changes_per_day(self) -> int: ...
    @property
    def hysteresis_usd_per_month(self) -> float: ...
    @property
    def sovereign_learning_hours(self) -> int: ...


@dataclass(frozen=True)
class Guards:
    """What the cluster says about changes right now."""

    upgrade_in_progress: bool = False  # RayService status: a pending cluster or not Running
    promotion_in_progress: bool = False
    route_override: str = ROUTE_AUTO  # the drain switch's route (serving/gateway/route_override.py)


@dataclass(frozen=True)
class Memory:
    """What the governor remembers between decisions: the floor in effect and its changes."""

    floor: int
    last_change: datetime | None = None
    changes: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Decision:
    at: datetime
    mode: Mode
    current_floor: int
    target_floor: int  # what the policy wants now
    floor: int  # what is in effect after this decision
    floor_nodes: int  # GPU pool floor for `floor`
    applied: bool
    action: Literal["hold", "raise", "lower"]
    reason: str
    blocked_by: str | None
    sovereign_floor: int
    inputs: dict[str, float] = field(default_factory=dict)
    expected_monthly_saving_usd: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        out["expected_monthly_saving_usd"] = money(self.expected_monthly_saving_usd)
        return out


def sovereign_floor(model: HourlyCost, history: Sequence[HourSample], learning_hours: int) -> int:
    """The floor no decision goes below (see the module docstring, step 1). Until the history
    covers `learning_hours`, at least one replica stays: sovereign traffic not seen yet may still
    come, and a cold start would refuse it."""
    peak = max(
        (s.tokens if not model.fallback_allowed else s.sovereign_tokens for s in history),
        default=0.0,
    )
    unseen = 1 if len(history) < learning_hours else 0
    return min(model.max_floor, max(model.min_floor, model.replicas_for(peak), unseen))


def _hours_ago(now: datetime, then: datetime) -> float:
    return (now - then) / timedelta(hours=1)


def decide(
    model: HourlyCost,
    settings: Settings,
    history: Sequence[HourSample],
    now: datetime,
    memory: Memory,
    guards: Guards | None = None,
    mode: Mode | None = None,
) -> Decision:
    """The floor for the hour starting `now`, from the `history` before it."""
    guards = guards or Guards()
    mode = mode or settings.mode
    current = memory.floor
    low = sovereign_floor(model, history, settings.sovereign_learning_hours)
    ahead = forecast(history, now, settings.horizon_hours)
    inputs = {
        "observed_tokens_last_hour": history[-1].tokens if history else 0.0,
        "observed_sovereign_tokens_last_hour": history[-1].sovereign_tokens if history else 0.0,
        "forecast_tokens_next_hour": ahead[0].tokens if ahead else 0.0,
        "forecast_tokens_horizon": sum(h.tokens for h in ahead),
        "history_hours": float(len(history)),
        "replica_tokens_per_hour": model.replica_tokens_per_hour,
        "usd_per_node_hour": model.shape.usd_per_node_hour,
        "api_usd_per_mtok": model.api_usd_per_token * 1e6,
    }

    def decision(target: int, reason: str, blocked_by: str | None = None, saving: float = 0.0) -> Decision:
        apply = blocked_by is None and target != current and mode == "enforce"
        floor = target if apply else current
        action = "hold" if target == current else ("raise" if target > current else "lower")
        return Decision(
            at=now,
            mode=mode,
            current_floor=current,
            target_floor=target,
            floor=floor,
            floor_nodes=model.shape.nodes_for(floor),
            applied=apply,
            action=action,
            reason=reason,
            blocked_by=blocked_by,
            sovereign_floor=low,
            inputs=inputs,
            expected_monthly_saving_usd=saving,
        )

    if mode == "off":
        return decision(current, "mode off: the governor decides nothing")
    if not ahead:
        target = max(current, low)
        return decision(target, "no history yet: the floor stays as configured until an hour has been observed")
    hours = [(h.tokens, h.sovereign_tokens) for h in ahead]
    peak_need = max(model.replicas_for(t) for t, _ in hours)
    high = min(model.max_floor, max(current, low, peak_need))
    floors = range(low, max(high, low) + 1)
    plan = cheapest_path(model, current, hours, floors)
    # A change holds for the dwell time: a raise goes straight to the most the plan needs within
    # it, and a lowering only to that (no lowering that the next hours would undo).
    window = plan.floors[: max(1, -(-settings.min_dwell_minutes // 60))]
    target = plan.floors[0]
    if target > current:
        target = max(window)
    elif target < current:
        target = min(current, max(window))
    hold = path_cost(model, current, hours, [max(current, low)] * len(hours))
    saving = (hold.usd - plan.usd) * model.hours_per_month / len(hours)
    if hold.sovereign_unserved > plan.sovereign_unserved:
        saving = max(saving, 0.0)
    if target == current:
        return decision(target, f"the plan keeps {current} replica(s) for the next hour", saving=saving)
    if guards.route_override != ROUTE_AUTO:
        return decision(target, "the drain switch wins", f"route override {guards.route_override!r} is set", saving)
    if guards.upgrade_in_progress:
        return decision(target, "no change during an upgrade", "RayService upgrade in progress", saving)
    if guards.promotion_in_progress:
        return decision(target, "no change during a promotion", "promotion in progress", saving)
    if current < low:
        return decision(target, f"sovereign floor: {low} replica(s) keep sovereign traffic on the GPUs", saving=saving)
    if memory.last_change is not None and _hours_ago(now, memory.last_change) * 60 < settings.min_dwell_minutes:
        return decision(target, "the floor changed too recently", f"min_dwell_minutes {settings.min_dwell_minutes}", saving)
    recent = [c for c in memory.changes if _hours_ago(now, c) < 24]
    if len(recent) >= settings.max_changes_per_day:
        return decision(target, "daily change limit reached", f"max_changes_per_day {settings.max_changes_per_day}", saving)
    if saving < settings.hysteresis_usd_per_month and not (target > current and hold.sovereign_unserved > 0):
        return decision(
            current,
            f"the plan ({target} replica(s)) saves ${saving:,.2f}/month against holding {current}, below the "
            f"hysteresis of ${settings.hysteresis_usd_per_month:,.2f}",
            saving=saving,
        )
    verb = "raise" if target > current else "lower"
    return decision(
        target,
        f"{verb} the floor {current} -> {target}: forecast {ahead[0].tokens / 1e6:,.2f}M tokens next hour, "
        f"{plan.usd:,.2f} USD over {len(hours)} h against {hold.usd:,.2f} holding",
        saving=saving,
    )


def remember(memory: Memory, decision: Decision) -> Memory:
    """The memory after `decision`: a change only when it was applied."""
    if not decision.applied:
        return memory
    recent = tuple(c for c in memory.changes if _hours_ago(decision.at, c) < 24)
    return replace(memory, floor=decision.floor, last_change=decision.at, changes=(*recent, decision.at))
