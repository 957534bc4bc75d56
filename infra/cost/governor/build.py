"""The governor's cost model of one environment, from the same pieces as `cost compare`
(infra/cost/compare.py `pool_shape`, `api_usd_per_token`) and the tier's limits. Kept apart from
model.py so that the in-cluster controller needs neither the catalog nor the config loader: the
chart ships it the computed model (`hourly_cost_dict`)."""

from __future__ import annotations

from infra.config import EnvironmentConfig
from infra.config.tiers import load_tiers
from infra.cost import capacity
from infra.cost.compare import api_usd_per_token, pool_shape, prompt_tokens_per_generated_token
from infra.cost.errors import CostInputError
from infra.cost.governor.model import HourlyCost, ceil_replicas
from infra.cost.prices import PricedCatalog
from infra.cost.profile import TrafficProfile
from infra.cost.throughput import MeasuredThroughput


def tier_min_floor(tier: str) -> int:
    """The tier's `serving.min_replicas` guardrail (infra/config/tiers.yaml), 0 if it has none:
    the governor never sets a floor the plan itself would refuse."""
    floor = 0.0
    for guardrail in load_tiers().tiers[tier].guardrails:
        if guardrail.any_of is None and guardrail.key == "serving.min_replicas" and guardrail.min is not None:
            floor = max(floor, guardrail.min)
    return ceil_replicas(floor)


def cost_model(
    env: EnvironmentConfig,
    priced: PricedCatalog,
    *,
    measured: list[MeasuredThroughput] | None = None,
    input_output_ratio: float = 3.0,
    reasoning_share: float = 0.0,
    cold_start_minutes: float = capacity.COLD_START_MINUTES,
) -> HourlyCost:
    """The hourly cost model of `env`, from the same pieces as `cost compare`."""
    if cold_start_minutes < 0:
        raise CostInputError(f"--cold-start-minutes must be 0 or more (got {cold_start_minutes:g})")
    profile = TrafficProfile(1.0, input_output_ratio, reasoning_share)
    api_model = env.fallback.model
    if api_model not in priced.catalog.managed_api:
        raise CostInputError(f"fallback.model {api_model!r}: no price for it in infra/catalog/managed_api.yaml")
    # The replica's rate at the profile's prompt mix, as `cost compare` counts it.
    ratio = prompt_tokens_per_generated_token(profile)
    sizing, figure, shape = pool_shape(env, priced, measured, cold_start_minutes, input_output_ratio, generated_ratio=ratio)
    # A published or estimated figure converted to the profile's mix is an estimate at that mix.
    converted = figure.at_ratio(ratio) != figure.output_tokens_per_s
    basis = f"{figure.basis} figure at {ratio:g}:1 prompt:generated tokens, estimated" if converted else figure.basis
    floor = max(tier_min_floor(env.tier), env.governor.sovereign_min_replicas)
    return HourlyCost(
        shape=shape,
        api_usd_per_token=api_usd_per_token(priced.catalog.managed_api[api_model], profile),
        output_per_token=profile.output_per_token,
        fallback_allowed=env.fallback.allowed,
        hours_per_month=priced.catalog.hours_per_month,
        min_floor=min(floor, shape.max_replicas),
        max_floor=shape.max_replicas,
        configured_floor=env.serving.min_replicas,
        api_model=api_model,
        instance_type=sizing.instance_type,
        throughput_basis=basis,
    )
