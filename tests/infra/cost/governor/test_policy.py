"""One decision: the plan's target, and each guardrail that stops it, with reason and dollars."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infra.catalog import load_catalog
from infra.config import environment_from_stack_file
from infra.cost.governor.build import cost_model
from infra.cost.governor.policy import Guards, Memory, decide, remember
from infra.cost.prices import priced_catalog
from tests.infra.cost.governor.support import model, settings, trace

# Prod (p5.4xlarge, floor 2 as configured, tier minimum 1): two weeks of quiet traffic, a quarter
# of one replica, well below break-even: the plan is to go down to the tier's minimum of 1.
PROD = model("prod")
QUIET = trace(24 * 14, lambda _: 0.25 * PROD.replica_tokens_per_hour)
NOW = QUIET[-1].hour + timedelta(hours=1)


def quiet_decision(**kwargs):
    memory = kwargs.pop("memory", Memory(floor=2))
    return decide(PROD, settings("prod", **kwargs.pop("config", {})), QUIET, NOW, memory, **kwargs)


def test_below_break_even_the_plan_lowers_prod_to_its_tier_minimum_and_says_what_it_saves():
    decision = quiet_decision(mode="enforce")
    assert (decision.action, decision.target_floor, decision.floor, decision.applied) == ("lower", 1, 1, True)
    assert decision.floor_nodes == 1 and decision.blocked_by is None
    # One p5.4xlarge less over the 24 h horizon, less its 20-minute scale-down tail, as a monthly
    # rate (x 730/24); the remaining replica still serves every token.
    assert decision.expected_monthly_saving_usd == pytest.approx((24 - 20 / 60) * 6.88 * 730 / 24)
    assert decision.inputs["observed_tokens_last_hour"] == pytest.approx(0.25 * PROD.replica_tokens_per_hour)
    assert "lower the floor 2 -> 1" in decision.reason


def test_recommend_mode_reports_the_target_and_changes_nothing():
    decision = quiet_decision()  # prod's configured mode: recommend
    assert (decision.mode, decision.target_floor, decision.floor, decision.applied) == ("recommend", 1, 2, False)
    assert remember(Memory(floor=2), decision) == Memory(floor=2)


def test_off_mode_decides_nothing():
    decision = quiet_decision(mode="off")
    assert (decision.target_floor, decision.applied) == (2, False)


@pytest.mark.parametrize(
    ("guards", "blocked_by"),
    [
        (Guards(route_override="managed"), "route override 'managed' is set"),
        (Guards(route_override="self-hosted"), "route override 'self-hosted' is set"),
        (Guards(upgrade_in_progress=True), "RayService upgrade in progress"),
        (Guards(promotion_in_progress=True), "promotion in progress"),
    ],
)
def test_the_drain_switch_an_upgrade_and_a_promotion_block_a_change(guards, blocked_by):
    decision = quiet_decision(mode="enforce", guards=guards)
    assert (decision.target_floor, decision.floor, decision.applied, decision.blocked_by) == (1, 2, False, blocked_by)


def test_the_minimum_dwell_time_blocks_a_change_right_after_another():
    memory = Memory(floor=2, last_change=NOW - timedelta(minutes=30), changes=(NOW - timedelta(minutes=30),))
    decision = quiet_decision(mode="enforce", memory=memory)
    assert (decision.applied, decision.blocked_by) == (False, "min_dwell_minutes 60")


def test_the_daily_change_limit_blocks_the_seventh_change():
    changes = tuple(NOW - timedelta(hours=h) for h in (23, 20, 16, 12, 8, 4))
    decision = quiet_decision(mode="enforce", memory=Memory(floor=2, last_change=changes[-1], changes=changes))
    assert (decision.applied, decision.blocked_by) == (False, "max_changes_per_day 6")
    # Changes older than a day no longer count.
    later = decide(PROD, settings("prod"), QUIET, NOW + timedelta(hours=4), Memory(2, changes[-1], changes), mode="enforce")
    assert later.applied


def test_hysteresis_keeps_a_floor_whose_change_saves_too_little():
    decision = quiet_decision(mode="enforce", config={"hysteresis_usd_per_month": 10_000})
    assert (decision.target_floor, decision.applied, decision.blocked_by) == (2, False, None)
    assert "below the hysteresis of $10,000.00" in decision.reason


def test_sovereign_traffic_raises_the_floor_past_dwell_and_daily_limit():
    """Dev at floor 0 after a week without sovereign traffic; then sovereign tokens show up: the
    next decision raises the floor at once, although the floor changed 10 minutes ago."""
    dev = model("dev")
    samples = trace(24 * 8, lambda t: 10_000, lambda t: 5_000 if t == t.replace(day=9, hour=23) else 0.0)
    now = samples[-1].hour + timedelta(hours=1)
    recent = (now - timedelta(minutes=10),)
    decision = decide(dev, settings("dev"), samples, now, Memory(0, recent[0], recent), mode="enforce")
    assert (decision.sovereign_floor, decision.floor, decision.applied) == (1, 1, True)
    assert decision.reason.startswith("sovereign floor")


def test_above_break_even_the_floor_rises_before_the_daily_peak():
    """A week of traffic that needs two full replicas from 09:00: with a 15-minute cold start a
    replica added at 09:00 would lose its first quarter hour to it (a quarter of the 21.1M tokens
    an hour one replica serves at 3:1: $10.17 of API for o4-mini), more than an hour of a
    p5.4xlarge ($6.88), so at 08:00 the plan raises the floor ahead of the traffic. (With the
    default 10 minutes it is $6.78, just under the node-hour: the plan may then wait.)"""
    slow = cost_model(environment_from_stack_file("prod"), priced_catalog(load_catalog()), cold_start_minutes=15)
    assert slow.replica_tokens_per_hour / 4 * slow.api_usd_per_token > 6.88

    def tokens(t):
        return 2.0 * slow.replica_tokens_per_hour if 9 <= t.hour < 18 else 0.2 * slow.replica_tokens_per_hour

    samples = trace(24 * 7 + 8, tokens)  # up to 07:00 of day 8
    now = samples[-1].hour + timedelta(hours=1)
    decision = decide(slow, settings("prod"), samples, now, Memory(1), mode="enforce")
    assert now.hour == 8 and (decision.action, decision.floor) == ("raise", 2)
