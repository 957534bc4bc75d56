"""Each served model priced with its own pool's cost in the plan, and a gateway route per public
name, the settings valid for the gateway's own model (infra/ cannot import serving/, tests can)."""

from __future__ import annotations

import pytest

from infra.cost.served_models import served_model_costs
from infra.gateway_settings import settings_for_environment
from serving.gateway.settings import GatewaySettings
from support import chart_kit


def test_the_plan_prices_every_served_model_on_its_pool():
    env, _ = chart_kit.environment("h100-two-models")
    base, tuned = served_model_costs(env)
    assert (base["model"], base["instance_type"], base["replicas"]) == ("gpt-oss-120b", "p5.4xlarge", {"min": 1, "max": 1})
    assert base["monthly"] == {"floor": pytest.approx(6.88 * 730), "max": pytest.approx(6.88 * 730)}
    assert (tuned["model"], tuned["quantisation"], tuned["replicas"]) == ("support-20b", "MXFP4", {"min": 0, "max": 1})
    assert tuned["monthly"] == {"floor": 0.0, "max": pytest.approx(6.88 * 730)}
    assert tuned["weights"] == "s3 prefix finetunes/support-20b/2026-12-01" and tuned["s3_storage_monthly"] > 0
    assert tuned["adapters"] == ["support-20b:billing"] and tuned["fallback"] is None


def test_dev_serves_a_model_and_an_adapter():
    env, _ = chart_kit.environment("dev")
    (row,) = served_model_costs(env)
    assert row["adapters"] == ["gpt-oss-20b:support-voice"] and row["fallback"] == "o3-mini"


@pytest.mark.parametrize("case", ["dev", "h100-two-models"])
def test_the_gateway_routes_every_served_name(case):
    env, _ = chart_kit.environment(case)
    settings = GatewaySettings.model_validate(settings_for_environment(env))
    routes = {r.model: r for r in settings.routes}
    upstreams = {u.name: u for u in settings.upstreams}
    expected = {
        "dev": {"gpt-oss-20b": "o3-mini", "gpt-oss-20b:support-voice": None},
        "h100-two-models": {"gpt-oss-120b": "o4-mini", "support-20b": None, "support-20b:billing": None},
    }[case]
    assert {name: (upstreams[r.fallback].model if r.fallback else None) for name, r in routes.items()} == expected
    for name, route in routes.items():
        assert upstreams[route.primary].model == name, "each public name is the id Ray Serve LLM serves"
        assert upstreams[route.primary].adapter == "self_hosted"


def test_a_model_and_its_adapters_share_its_fleet_price():
    env, _ = chart_kit.environment("h100-two-models")
    settings = GatewaySettings.model_validate(settings_for_environment(env))
    fleet = {u.model: u.cost.fleet_usd_per_hour for u in settings.upstreams if u.adapter == "self_hosted"}
    # support-20b scales to zero; its floor is priced as one replica's node, shared with its adapter.
    assert fleet == {"gpt-oss-120b": 6.88, "support-20b": 3.44, "support-20b:billing": 3.44}


def test_a_mapped_fallback_for_an_adapter_gets_its_own_managed_upstream():
    env, _ = chart_kit.environment("dev")
    lora = env.served_models.lora.model_copy(
        update={"adapters": [env.served_models.lora.adapters[0].model_copy(update={"fallback": "gpt-4.1-mini"})]}
    )
    env = env.model_copy(update={"served_models": env.served_models.model_copy(update={"lora": lora})})
    settings = GatewaySettings.model_validate(settings_for_environment(env))
    (route,) = [r for r in settings.routes if r.model == "gpt-oss-20b:support-voice"]
    assert settings.upstream(route.fallback).model == "gpt-4.1-mini"
    assert settings.upstream(route.fallback).adapter == "managed_openai"
