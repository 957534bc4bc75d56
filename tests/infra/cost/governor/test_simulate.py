"""`cost simulate`'s four strategies on synthetic traces: the arithmetic by hand, the goal on a
diurnal week, and sovereign tokens never left unserved by the governor."""

from __future__ import annotations

import pytest

from infra.cost.governor.sample import diurnal_week
from infra.cost.governor.simulate import simulate
from tests.infra.cost.governor.support import model, settings, trace

HOURS_PER_MONTH = 730
G6_XLARGE_USD_PER_HOUR = 0.8048  # dev's node: infra/catalog/instances.yaml
O3_MINI_BLEND_PER_TOKEN = (3 * 1.10 + 4.40) / 4 / 1e6  # 3:1 input:output, infra/catalog/managed_api.yaml


def test_the_environment_prices_are_the_ones_the_arithmetic_below_uses():
    dev = model("dev")
    assert dev.shape.usd_per_node_hour == G6_XLARGE_USD_PER_HOUR
    assert dev.api_usd_per_token == pytest.approx(O3_MINI_BLEND_PER_TOKEN)
    assert dev.hours_per_month == HOURS_PER_MONTH


def test_flat_traffic_below_break_even_goes_to_the_api_and_the_arithmetic_holds():
    """100k tokens an hour (73M a month, break-even ~305M): one node all month against tokens x blend."""
    dev = model("dev")
    result = simulate(dev, settings("dev", sovereign_learning_hours=0), trace(336, lambda _: 100_000))
    assert result.always_on.monthly_usd == pytest.approx(HOURS_PER_MONTH * G6_XLARGE_USD_PER_HOUR)  # $587.50
    assert result.api_only.monthly_usd == pytest.approx(100_000 * HOURS_PER_MONTH * O3_MINI_BLEND_PER_TOKEN)  # $140.53
    assert result.governor.floors == [0] * 336
    assert result.governor.monthly_usd == pytest.approx(result.api_only.monthly_usd)
    assert result.hindsight.monthly_usd == pytest.approx(result.api_only.monthly_usd)
    assert result.as_json()["sovereign_tokens_unserved"] == 0


def test_flat_traffic_above_break_even_keeps_one_node_and_the_arithmetic_holds():
    """2M tokens an hour (1.46B a month) fit one L4 replica (2.5M/h planned at 3:1: the KV-capped
    estimate at the profile's prompt mix, infra/catalog/throughput.yaml), even in its cold hour."""
    dev = model("dev")
    assert dev.replica_tokens_per_hour * (1 - 10 / 60) > 2e6
    result = simulate(dev, settings("dev"), trace(168, lambda _: 2e6))
    node_month = HOURS_PER_MONTH * G6_XLARGE_USD_PER_HOUR
    assert result.always_on.monthly_usd == pytest.approx(node_month)
    assert result.hindsight.monthly_usd == pytest.approx(node_month)
    assert result.api_only.monthly_usd == pytest.approx(2e6 * HOURS_PER_MONTH * O3_MINI_BLEND_PER_TOKEN)  # $2,810.50
    # Without history the governor keeps one replica (sovereign_learning_hours); that replica's
    # cold start still leaves 5/6 of an hour of capacity, enough for the first hour.
    assert result.governor.floors == [1] * 168
    assert result.governor.usd == pytest.approx(168 * G6_XLARGE_USD_PER_HOUR)


def test_the_governor_is_within_ten_percent_of_hindsight_on_the_sample_diurnal_week():
    prod = model("prod")
    result = simulate(prod, settings("prod"), diurnal_week())
    assert result.governor.monthly_usd <= 1.10 * result.hindsight.monthly_usd
    assert result.governor.monthly_usd < result.always_on.monthly_usd < result.api_only.monthly_usd
    assert result.governor.sovereign_unserved == 0 and result.hindsight.sovereign_unserved == 0
    # Prod's tier keeps a GPU floor (infra/config/tiers.yaml: serving.min_replicas >= 1).
    assert min(result.governor.floors) == 1 and min(result.hindsight.floors) == 1


def test_a_spike_goes_to_the_api_and_the_floor_comes_back_down():
    """Quiet traffic below break-even with one hour at 10x: nothing to learn from a one-off hour."""
    prod = model("prod")
    quiet = 0.3 * prod.replica_tokens_per_hour
    spike_at = 24 * 9 + 14
    samples = trace(24 * 10, lambda t: quiet)
    spiky = trace(24 * 10, lambda t: quiet * (10 if t == samples[spike_at].hour else 1))
    flat, result = simulate(prod, settings("prod"), samples), simulate(prod, settings("prod"), spiky)
    assert result.governor.floors[spike_at] == 1  # the spike was not foreseen
    assert result.governor.floors[spike_at + 4 :] == [1] * len(result.governor.floors[spike_at + 4 :])
    assert result.governor.monthly_usd <= 1.10 * result.hindsight.monthly_usd
    assert result.governor.api_tokens > flat.governor.api_tokens


def test_the_weekend_drop_lowers_the_floor_for_the_weekend():
    """Two weeks, weekdays above break-even, weekends at 2%: the second weekend runs at the floor 0."""
    dev = model("dev")
    busy = 6e6

    def tokens(t):
        return busy * (0.02 if t.weekday() >= 5 else 1.0)

    result = simulate(dev, settings("dev"), trace(24 * 14, tokens))
    second_weekend = result.governor.floors[24 * 12 : 24 * 14]
    assert second_weekend.count(0) >= 40
    assert result.governor.floors[24 * 8 + 12] == 1  # a weekday noon of week 2 is on the GPU
    assert result.governor.monthly_usd < result.always_on.monthly_usd
    # The first weekend falls in the learning week (sovereign_learning_hours: one replica stays);
    # the second week, with a week of history, is within 10% of hindsight.
    assert sum(result.governor.hourly_usd[168:]) <= 1.10 * sum(result.hindsight.hourly_usd[168:])


def test_sovereign_only_hours_are_always_served_by_the_governor():
    """Cheap traffic all day (the API's ground), but 02:00-04:00 UTC every token is sovereign:
    the floor stays on a GPU; the API-only strategy would have to refuse those tokens."""
    dev = model("dev")

    def sovereign(t):
        return 200_000 if 2 <= t.hour < 4 else 0.0

    def tokens(t):
        return 200_000 if 2 <= t.hour < 4 else 50_000

    result = simulate(dev, settings("dev"), trace(24 * 14, tokens, sovereign))
    assert result.as_json()["sovereign_tokens_unserved"] == 0
    assert result.hindsight.sovereign_unserved == 0
    assert result.api_only.sovereign_unserved == 14 * 2 * 200_000
    assert min(result.governor.floors) == 1


def test_without_the_learning_guard_the_first_sovereign_hour_would_be_refused():
    """Why `sovereign_learning_hours` exists: a governor that trusts an empty history goes to 0
    and refuses the first sovereign tokens it ever sees (a cold start cannot serve them)."""
    dev = model("dev")

    def sovereign(t):
        return 200_000 if t.day == 3 and t.hour == 2 else 0.0

    samples = trace(48, lambda t: max(50_000, sovereign(t)), sovereign)
    careless = simulate(dev, settings("dev", sovereign_learning_hours=0), samples)
    careful = simulate(dev, settings("dev"), samples)
    assert careless.governor.sovereign_unserved > 0
    assert careful.governor.sovereign_unserved == 0


def test_the_json_carries_the_fields_the_issue_names():
    document = simulate(model("dev"), settings("dev"), diurnal_week()).as_json()
    for key in ("always_on_usd", "api_only_usd", "governor_usd", "hindsight_usd", "sovereign_tokens_unserved", "decisions"):
        assert key in document
    applied = [d for d in document["decisions"] if d["applied"]]
    assert all({"inputs", "expected_monthly_saving_usd", "reason", "floor_nodes"} <= d.keys() for d in applied)


def test_on_the_sample_week_the_governor_matches_hindsight_from_the_third_day():
    """docs/cost.md says so: it learns the shape on day one and follows the plan from day three."""
    result = simulate(model("prod"), settings("prod"), diurnal_week())
    assert result.governor.floors[48:] == result.hindsight.floors[48:]
