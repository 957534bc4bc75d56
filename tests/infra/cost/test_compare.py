"""Self-hosted vs API vs hybrid: the worked figures of the brief, capacity edges, break-even."""

from __future__ import annotations

import copy
import re

import pytest

from infra.catalog import load_catalog
from infra.config import environment_from_stack_file, read_stack_file, validate_environment
from infra.config.load import PROJECT
from infra.cost.compare import Surroundings, api_usd_per_token, break_even, compare, comparison_json
from infra.cost.errors import CostInputError
from infra.cost.prices import PriceOverrides, priced_catalog
from infra.cost.profile import TrafficProfile
from infra.cost.throughput import MeasuredThroughput

ALWAYS_ON_3_TO_1 = {"input_output_ratio": 3.0, "reasoning_share": 0.0, "busy_hours_per_day": 24.0}


def priced():
    return priced_catalog(load_catalog())


def env(name: str):
    return environment_from_stack_file(name)


def test_blended_o4_mini_price_at_3_to_1_is_1_925_per_mtok():
    price = load_catalog().managed_api["o4-mini"]
    assert api_usd_per_token(price, TrafficProfile(1e6, **ALWAYS_ON_3_TO_1)) * 1e6 == pytest.approx((3 * 1.10 + 4.40) / 4)


def test_one_g6_xlarge_running_20b_breaks_even_with_o4_mini_near_305m_tokens():
    """Brief's worked figure: always-on, 730 h, 3:1, one g6.xlarge ~$588/month, break-even ~305M."""
    c = compare(env("dev"), TrafficProfile(300e6, **ALWAYS_ON_3_TO_1), priced(), api_model="o4-mini", scope="gpu")
    assert (c.instance_type, c.throughput.model, c.self_hosted.plan.busy_nodes) == ("g6.xlarge", "gpt-oss-20b", 1)
    assert c.self_hosted.monthly_usd == pytest.approx(588, rel=0.01)
    assert c.break_even_tokens_per_month == pytest.approx(305e6, rel=0.01)


def test_one_p5_4xlarge_running_120b_breaks_even_with_o4_mini_near_2_6b_tokens():
    """Brief's worked figure: one p5.4xlarge ~$5,022/month, break-even vs o4-mini ~2.6B tokens/month."""
    c = compare(env("staging"), TrafficProfile(1e9, **ALWAYS_ON_3_TO_1), priced(), api_model="o4-mini", scope="gpu")
    assert (c.instance_type, c.throughput.model, c.self_hosted.plan.busy_nodes) == ("p5.4xlarge", "gpt-oss-120b", 1)
    assert c.self_hosted.monthly_usd == pytest.approx(5022, rel=0.01)
    assert c.break_even_tokens_per_month == pytest.approx(2.6e9, rel=0.01)


def test_above_the_break_even_self_hosting_is_recommended_and_below_it_the_api():
    below = compare(env("dev"), TrafficProfile(50e6), priced(), api_model="o4-mini")
    above = compare(env("dev"), TrafficProfile(3e9), priced(), api_model="o4-mini")
    assert below.recommendation == "api" and below.api.monthly_usd < below.self_hosted.monthly_usd
    assert above.recommendation in ("self-hosted", "hybrid") and above.self_hosted.monthly_usd < above.api.monthly_usd


def test_zero_traffic_costs_the_floor_and_recommends_the_api():
    prod = compare(env("prod"), TrafficProfile(0), priced())
    assert prod.api.monthly_usd == 0
    assert prod.self_hosted.monthly_usd == pytest.approx(2 * 6.88 * 730), "prod keeps 2 replicas on 2 nodes whatever the traffic"
    assert prod.hybrid.monthly_usd == prod.self_hosted.monthly_usd
    assert prod.recommendation == "api" and "no traffic" in prod.reason
    dev = compare(env("dev"), TrafficProfile(0), priced())
    assert dev.self_hosted.monthly_usd == 0 and dev.hybrid.monthly_usd == 0, "dev scales to zero"


def test_traffic_above_the_pool_maximum_overflows_to_the_api_at_api_prices():
    c = compare(env("dev"), TrafficProfile(50e9), priced())
    plan = c.hybrid.plan
    assert c.self_hosted.plan.busy_replicas > 1 and plan.busy_replicas == 1, "dev's pool holds one replica"
    assert 0 < plan.overflow_share < 1
    assert c.hybrid.gpu_usd == pytest.approx(0.8048 * 730)
    assert c.hybrid.api_usd == pytest.approx(c.api.monthly_usd * plan.overflow_share)
    assert any("goes to o3-mini at API prices" in w for w in c.warnings)
    data = comparison_json(c)
    assert data["hybrid_monthly_usd"] == pytest.approx(
        data["options"]["hybrid"]["gpu_usd"] + data["options"]["hybrid"]["api_usd"], abs=0.02
    )


def test_without_fallback_the_overflow_is_not_served_and_not_billed():
    raw = copy.deepcopy(read_stack_file("dev")[f"{PROJECT}:environment"])
    raw["fallback"]["allowed"] = False
    closed = validate_environment(raw, stack="dev")
    c = compare(closed, TrafficProfile(50e9), priced())
    assert c.hybrid.api_usd == 0 and any("cannot be served: fallback.allowed is false" in w for w in c.warnings)


def test_a_pool_that_scales_to_zero_bills_busy_hours_and_sends_cold_starts_to_the_api():
    c = compare(env("dev"), TrafficProfile(300e6, busy_hours_per_day=8), priced())
    plan = c.hybrid.plan
    days = 730 / 24
    # 8 busy hours + 10 min cold start + 20 min scale-down tail a day.
    assert plan.burst_node_hours == pytest.approx(days * (8 + 0.5))
    assert plan.cold_share == pytest.approx(10 / 60 / 8)
    assert c.hybrid.api_usd == pytest.approx(c.api.monthly_usd * plan.cold_share)
    assert any("scales to zero" in w for w in c.warnings)


def test_the_floor_runs_all_month_and_burst_replicas_only_in_busy_hours():
    # prod: 2 replicas always; 12 busy hours a day of heavy traffic need a third and fourth.
    c = compare(env("prod"), TrafficProfile(60e9, busy_hours_per_day=12), priced())
    plan = c.hybrid.plan
    assert (plan.floor_nodes, plan.busy_nodes) == (2, 4)
    assert plan.floor_node_hours == 2 * 730
    assert plan.burst_node_hours == pytest.approx(2 * (730 / 24) * (12 + 0.5))
    assert plan.cold_share == 0, "a floor above zero never starts cold"


def test_reasoning_tokens_bill_as_output_and_lower_the_break_even():
    plain = compare(env("staging"), TrafficProfile(1e9), priced())
    reasoning = compare(env("staging"), TrafficProfile(1e9, reasoning_share=0.5), priced())
    assert reasoning.profile.billed_output_tokens == pytest.approx(2 * plain.profile.billed_output_tokens)
    assert reasoning.api.monthly_usd > plain.api.monthly_usd
    assert reasoning.break_even_tokens_per_month < plain.break_even_tokens_per_month


def test_no_break_even_when_the_api_is_cheaper_per_token_than_full_gpus():
    cheap = PriceOverrides.model_validate(
        {
            "as_of": "2026-11-30",
            "source": "test: an API at a hundredth of a cent",
            "managed_api": {"o4-mini": {"input_per_mtok": 0.0001, "output_per_mtok": 0.0004}},
        }
    )
    c = compare(env("staging"), TrafficProfile(1e9), priced_catalog(load_catalog(), cheap))
    assert c.break_even_tokens_per_month is None and c.recommendation == "api"
    assert c.prices["managed_api"]["source"] == "test: an API at a hundredth of a cent"


def test_price_overrides_change_the_node_price_and_say_where_it_came_from():
    rate = PriceOverrides.model_validate({"as_of": "2026-11-01", "source": "EDP rate card", "instances": {"g6.xlarge": 0.5}})
    c = compare(env("dev"), TrafficProfile(300e6), priced_catalog(load_catalog(), rate))
    assert c.self_hosted.monthly_usd == pytest.approx(0.5 * 730)
    instance = c.prices["instance"]
    assert (instance["usd_per_node_hour"], instance["source"], instance["as_of"]) == (0.5, "EDP rate card", "2026-11-01")
    assert load_catalog().instances["g6.xlarge"].usd_per_hour == 0.8048, "the cached catalog is untouched"


def test_a_measured_throughput_overrides_the_estimate():
    measured = [
        MeasuredThroughput(
            model="gpt-oss-20b",
            gpu="L4",
            tensor_parallel=1,
            output_tokens_per_s=150,
            source="bench/results/x.json",
            measured_on="2026-11-29",
            machine="g6.xlarge, vLLM 0.11",
        )
    ]
    c = compare(env("dev"), TrafficProfile(10e9), priced(), measured=measured)
    assert c.throughput.basis == "measured" and c.throughput.output_tokens_per_s == 150
    assert c.shape.replica_output_tokens_per_s == pytest.approx(150 * 0.7), "measured at your own mix: used as it is"
    estimated = compare(env("dev"), TrafficProfile(10e9), priced())
    assert c.self_hosted.plan.replicas_needed > estimated.self_hosted.plan.replicas_needed


def test_environment_scope_adds_what_surrounds_the_gpus_to_self_hosting_only():
    around = Surroundings(fixed_usd=700.0, gpu_disk_usd_per_node_hour=0.02, items={"control_plane": {}})
    gpu = compare(env("staging"), TrafficProfile(1e9), priced())
    whole = compare(env("staging"), TrafficProfile(1e9), priced(), scope="environment", surroundings=around)
    assert whole.self_hosted.monthly_usd == pytest.approx(gpu.self_hosted.monthly_usd + 700 + 730 * 0.02)
    assert whole.api.monthly_usd == gpu.api.monthly_usd, "the API option needs no environment"
    assert whole.break_even_tokens_per_month == pytest.approx((5022.4 + 700 + 14.6) / 1.925e-6, rel=1e-6)


def test_break_even_walks_the_node_steps():
    # With a huge fixed cost the API catches up only after many nodes: the answer must be a
    # volume those nodes can serve, where the API really costs what self-hosting does.
    c = compare(env("staging"), TrafficProfile(1e9), priced())
    around = Surroundings(fixed_usd=500_000.0, gpu_disk_usd_per_node_hour=0.0)
    volume = break_even(c.shape, c.profile, api_usd_per_token(c.api_price, c.profile), 730, around)
    whole = compare(env("staging"), TrafficProfile(volume), priced(), scope="environment", surroundings=around)
    assert whole.self_hosted.plan.busy_nodes > 10
    assert whole.api.monthly_usd == pytest.approx(whole.self_hosted.monthly_usd, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tokens_per_month": -1}, "--tokens-per-month must be 0 or more"),
        ({"tokens_per_month": 1, "reasoning_share": 1.0}, "--reasoning-share must be at least 0 and below 1"),
        ({"tokens_per_month": 1, "busy_hours_per_day": 0}, "--busy-hours-per-day must be above 0"),
        ({"tokens_per_month": 1, "input_output_ratio": -3}, "--input-output-ratio must be 0 or more"),
    ],
)
def test_bad_profiles_are_refused_naming_the_flag(kwargs, message):
    with pytest.raises(CostInputError, match=message):
        TrafficProfile(**kwargs)


def test_an_unpriced_api_model_is_refused_with_the_priced_ones():
    with pytest.raises(CostInputError, match=re.escape("--api 'gpt-9': no price for it; priced models: gpt-4.1-mini")):
        compare(env("dev"), TrafficProfile(1e6), priced(), api_model="gpt-9")


# -- both scopes, the issue's figures ---------------------------------------------------------------

O4_MINI_500M = TrafficProfile(500e6, **ALWAYS_ON_3_TO_1)


def _dev_surroundings(kubernetes_version: str | None = None):
    """dev's surroundings from the real program under the mock engine, optionally on another version."""
    from datetime import date

    from infra.cost.environment import surroundings_of
    from infra.plan.runner import run_program

    run = run_program("dev")
    env_ = run.env
    if kubernetes_version is not None:
        env_ = env_.model_copy(update={"cluster": env_.cluster.model_copy(update={"kubernetes_version": kubernetes_version})})
    return surroundings_of(env_, run.registrations, load_catalog(), date(2026, 12, 7))


def test_the_issue_figures_for_dev_at_500m_reproduce_on_the_cluster_version_it_was_written_against():
    """Issue #17: "20b at 500M tokens/month wins on GPU cost alone ($587.50 vs $962.50) but loses once
    the environment around the GPUs is counted ($1,229.92; break-even 639M)". Written while dev ran
    Kubernetes 1.33 in extended support ($0.60/h). Since then dev moved to 1.35 (standard support,
    $0.10/h: $365.00 a month less) and the stack gained the smoke test's key in Secrets Manager
    ($0.40 a month more): $1,229.92 + $0.40 = $1,230.32 on 1.33."""
    then = compare(
        env("dev"), O4_MINI_500M, priced(), api_model="o4-mini", scope="environment", surroundings=_dev_surroundings("1.33")
    )
    gpu, whole = then.scopes["gpu"], then.scopes["environment"]
    assert gpu.self_hosted.monthly_usd == pytest.approx(587.50, abs=0.01) and then.api.monthly_usd == pytest.approx(962.50)
    assert whole.self_hosted.monthly_usd == pytest.approx(1229.92 + 0.40, abs=0.01)
    assert whole.break_even_tokens_per_month == pytest.approx(639e6, rel=0.001)
    assert gpu.self_hosting_wins and not whole.self_hosting_wins
    assert then.verdict_flip is not None and "break-even 639M tokens/month" in then.verdict_flip


def test_on_today_s_1_35_cluster_dev_at_500m_self_hosting_wins_in_both_scopes():
    now = compare(env("dev"), O4_MINI_500M, priced(), api_model="o4-mini", scope="environment", surroundings=_dev_surroundings())
    whole = now.scopes["environment"]
    assert whole.self_hosted.monthly_usd == pytest.approx(1230.32 - 365.00, abs=0.01)
    assert whole.break_even_tokens_per_month == pytest.approx((587.50 + 277.82) / 1.925e-6, rel=0.001)
    assert now.verdict_flip is None and now.recommendation != "api"


def test_prod_floor_of_two_p5_4xlarge_breaks_even_near_5_2b():
    c = compare(env("prod"), TrafficProfile(1e9, **ALWAYS_ON_3_TO_1), priced(), api_model="o4-mini")
    assert c.scopes["gpu"].break_even_tokens_per_month == pytest.approx(5218.1e6, rel=1e-4)


def test_without_surroundings_only_the_gpu_scope_is_priced():
    c = compare(env("dev"), TrafficProfile(400e6), priced(), api_model="o4-mini")
    assert set(c.scopes) == {"gpu"} and c.verdict_flip is None
    with pytest.raises(ValueError, match="needs the environment's surroundings"):
        compare(env("dev"), TrafficProfile(400e6), priced(), scope="environment")


# -- the profile's prompt mix -------------------------------------------------------------------------


def test_capacity_counts_the_replica_at_the_profile_s_prompt_mix():
    staging = env("staging")
    at_3 = compare(staging, TrafficProfile(1e9), priced())
    at_1 = compare(staging, TrafficProfile(1e9, input_output_ratio=1.0), priced())
    figure = at_3.throughput
    assert figure.basis == "published" and figure.output_tokens_per_s == 2901.05
    # rate(R) = 2,901 x (1 + r c) / (1 + R c), r = 215,312 / 195,544, c the fitted prompt cost.
    assert at_3.shape.replica_output_tokens_per_s == pytest.approx(figure.at_ratio(3.0) * 0.7)
    # Heavier than the published ~1.1:1 lowers the rate, lighter raises it.
    assert at_3.shape.replica_output_tokens_per_s < 2901.05 * 0.7 < at_1.shape.replica_output_tokens_per_s
    # Reasoning tokens are generated: half the billed output reasoning halves prompt tokens per generated token.
    reasoning = compare(staging, TrafficProfile(1e9, reasoning_share=0.5), priced())
    assert reasoning.shape.replica_output_tokens_per_s == pytest.approx(figure.at_ratio(1.5) * 0.7)


# -- the tensor-parallel suggestion -------------------------------------------------------------------


def test_no_suggestion_on_a_one_gpu_node_and_none_when_a_measured_tp1_figure_beats_tp2():
    assert compare(env("prod"), TrafficProfile(20e9), priced()).notes == []
    fast = [
        MeasuredThroughput(
            model="gpt-oss-120b",
            gpu="H100",
            tensor_parallel=1,
            output_tokens_per_s=4000,
            source="bench/results/x.json",
            measured_on="2026-11-29",
            machine="p5.48xlarge",
        )
    ]
    c = compare(env("prod"), TrafficProfile(20e9), priced(), instance_type="p5.48xlarge", measured=fast)
    assert not [n for n in c.notes if n.startswith("suggestion:")]


def test_a_kv_starved_tp2_on_a100_40g_is_told_to_go_wider():
    c = compare(env("prod"), TrafficProfile(20e9), priced(), instance_type="p4d.24xlarge")
    assert c.tensor_parallel == 2, "the sizing picks the smallest TP that fits"
    (note,) = [n for n in c.notes if n.startswith("suggestion:")]
    assert "2 replicas of TP=4" in note and "estimated vs estimated" in note
