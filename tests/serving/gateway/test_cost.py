"""Cost per request: managed list prices, and the amortised self-hosted fleet that never reads $0."""

import pytest

from serving.gateway.cost import AmortisedFleetModel, TokenPriceModel
from serving.gateway.settings import AmortisedFleetCost, TokenPrice


def test_managed_cost_is_prompt_and_completion_at_their_list_prices():
    model = TokenPriceModel(TokenPrice(input_usd_per_mtok=1.10, output_usd_per_mtok=4.40))
    assert model.cost(1_000_000, 0, 0.0) == pytest.approx(1.10)
    assert model.cost(1000, 500, 0.0) == pytest.approx(0.0011 + 0.0022)


def fleet(**kw) -> AmortisedFleetModel:
    settings = {
        "fleet_usd_per_hour": 6.88,
        "gateway_pods": 1,
        "window_s": 900,
        "input_token_weight": 0.25,
        "min_weighted_tokens_per_hour": 1_000_000,
    }
    return AmortisedFleetModel(AmortisedFleetCost(**{**settings, **kw}), now=0.0)


def test_a_lone_request_in_a_quiet_hour_pays_the_floor_rate_not_the_whole_hour():
    model = fleet()
    cost = model.cost(400, 100, now=10.0)  # 200 weighted tokens
    assert cost == pytest.approx(200 * 6.88 / 1_000_000)
    assert cost > 0


def test_self_hosted_cost_never_reads_zero_even_for_an_empty_answer():
    model = fleet()
    assert model.cost(1, 0, now=1.0) > 0
    assert model.usd_per_mtok(now=1.0) > 0


def test_busy_hours_spread_the_fleet_over_more_tokens():
    model = fleet(window_s=600)
    quiet = model.cost(0, 1000, now=1.0)
    for second in range(600):  # 10,000 weighted tokens per second: 36M per hour
        model.cost(0, 10_000, now=1.0 + second)
    busy = model.cost(0, 1000, now=601.0)
    assert busy < quiet / 10
    assert busy == pytest.approx(1000 * 6.88 / 36_000_000, rel=0.1)


def test_each_gateway_pod_amortises_its_share_of_the_fleet():
    assert fleet(gateway_pods=4).cost(0, 1000, now=1.0) == pytest.approx(fleet().cost(0, 1000, now=1.0) / 4)


def test_prompt_tokens_weigh_less_than_completion_tokens():
    model = fleet()
    assert model.cost(1000, 0, now=1.0) == pytest.approx(model.cost(0, 250, now=1.0), rel=1e-3)
