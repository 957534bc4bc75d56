"""Self-hosted against the managed API for one environment and one traffic profile.

Three monthly costs for the same traffic:
- `self_hosted`: every token on the environment's GPUs, with as many replicas as it needs
  (at least the pool's floor, `serving.min_replicas`);
- `api`: every token on the managed API at its list price (reasoning bills as output);
- `hybrid`: what the environment actually runs: its GPUs up to the pool's capacity, the
  overflow and the cold starts of a pool that scales to zero on the API.
With `scope="environment"` the self-hosted and hybrid costs also carry what the environment
costs around its GPUs (control plane, system nodes, NAT, disks, secrets, Redis, S3: the plan's
own estimate, infra/plan/cost.py); the API option needs none of it.

The break-even is the smallest monthly volume at which the API costs at least as much as
self-hosting. Self-hosting is a step function (whole nodes), the API a line through zero, so
the search walks the node count up from the floor: at `n` busy nodes the API catches up at
cost(n) / price-per-token, which counts if `n` nodes are still what that volume needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from infra.catalog import ApiPrice
from infra.config import EnvironmentConfig
from infra.cost import capacity
from infra.cost.capacity import CapacityPlan, PoolShape
from infra.cost.errors import CostInputError
from infra.cost.prices import PricedCatalog
from infra.cost.pricing import money
from infra.cost.profile import TrafficProfile
from infra.cost.throughput import MeasuredThroughput, ThroughputFigure, throughput_for
from infra.sizing import ReplicaSizing, size_replica

Scope = Literal["gpu", "environment"]
# The break-even search stops here: beyond ten thousand nodes the answer is "never" in practice.
MAX_BREAK_EVEN_NODES = 10_000


@dataclass(frozen=True)
class Surroundings:
    """What an environment costs around its GPU nodes per month (scope `environment`)."""

    fixed_usd: float  # control plane, system nodes at their floor, NAT, secrets, Redis, S3
    gpu_disk_usd_per_node_hour: float
    items: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    monthly_usd: float
    gpu_usd: float
    api_usd: float
    surroundings_usd: float
    plan: CapacityPlan | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "monthly_usd": money(self.monthly_usd),
            "gpu_usd": money(self.gpu_usd),
            "api_usd": money(self.api_usd),
            "surroundings_usd": money(self.surroundings_usd),
        }
        if self.plan:
            p = self.plan
            out["capacity"] = {
                "replicas_needed": p.replicas_needed,
                "floor_replicas": p.floor_replicas,
                "busy_replicas": p.busy_replicas,
                "floor_nodes": p.floor_nodes,
                "busy_nodes": p.busy_nodes,
                "floor_node_hours": round(p.floor_node_hours, 1),
                "burst_node_hours": round(p.burst_node_hours, 1),
                "burst_hours_per_node": round(p.burst_hours_per_node, 1),
                "self_hosted_share": round(p.self_hosted_share, 4),
                "overflow_share": round(p.overflow_share, 4),
                "cold_share": round(p.cold_share, 4),
            }
        return out


@dataclass(frozen=True)
class Comparison:
    environment: str
    scope: Scope
    profile: TrafficProfile
    api_model: str
    api_price: ApiPrice
    instance_type: str
    gpu: str
    tensor_parallel: int
    replicas_per_node: int
    usd_per_node_hour: float
    throughput: ThroughputFigure
    planning_utilisation: float
    shape: PoolShape
    fallback_allowed: bool
    self_hosted: Option
    api: Option
    hybrid: Option
    break_even_tokens_per_month: float | None
    recommendation: str
    reason: str
    warnings: list[str]
    prices: dict[str, Any]
    hours_per_month: float
    surroundings: Surroundings | None


def api_usd_per_token(price: ApiPrice, profile: TrafficProfile) -> float:
    """The API's price of one token of `tokens_per_month`, at the profile's mix."""
    ratio = profile.input_output_ratio
    return (ratio / (ratio + 1) * price.input_per_mtok + profile.output_per_token * price.output_per_mtok) / 1e6


def _surroundings_usd(plan: CapacityPlan, surroundings: Surroundings | None) -> float:
    if surroundings is None:
        return 0.0
    return surroundings.fixed_usd + plan.node_hours * surroundings.gpu_disk_usd_per_node_hour


def _self_hosted_at_nodes(
    nodes: int, shape: PoolShape, profile: TrafficProfile, hours: float, surroundings: Surroundings | None
) -> float:
    """Monthly cost when `nodes` nodes run in the busy hours (floor nodes all month)."""
    tokens = capacity.tokens_per_month_for_nodes(nodes, profile, shape, hours)
    plan = capacity.plan(profile.with_tokens(tokens), shape, hours, bounded=False)
    return plan.gpu_usd + _surroundings_usd(plan, surroundings)


def break_even(
    shape: PoolShape, profile: TrafficProfile, price_per_token: float, hours: float, surroundings: Surroundings | None
) -> float | None:
    """The smallest `tokens_per_month` at which the API costs at least as much as self-hosting;
    None when the API stays cheaper at every volume (the GPUs cost more per token at full use)."""
    if price_per_token <= 0:
        return None
    first = max(shape.nodes_for(shape.min_replicas), 1)
    for nodes in range(first, first + MAX_BREAK_EVEN_NODES):
        cost = _self_hosted_at_nodes(nodes, shape, profile, hours, surroundings)
        low = capacity.tokens_per_month_for_nodes(nodes - 1, profile, shape, hours) if nodes > first else 0.0
        high = capacity.tokens_per_month_for_nodes(nodes, profile, shape, hours)
        crossing = max(cost / price_per_token, low)
        if crossing <= high:
            return crossing
        # Each further node adds capacity at a fixed price: if one node's tokens cost more on the
        # GPUs than on the API, the API never catches up.
        marginal = _self_hosted_at_nodes(nodes + 1, shape, profile, hours, surroundings) - cost
        if marginal >= price_per_token * (high - low if nodes > first else high / nodes):
            return None
    return None


def pool_shape(
    env: EnvironmentConfig,
    priced: PricedCatalog,
    measured: list[MeasuredThroughput] | None = None,
    cold_start_minutes: float = capacity.COLD_START_MINUTES,
    input_output_ratio: float | None = None,
) -> tuple[ReplicaSizing, ThroughputFigure, PoolShape]:
    """The sizing, throughput figure and pool shape of `env`'s serving pool: the one source of
    what a replica serves and costs, for `compare` and the cost governor (infra/cost/governor).
    `input_output_ratio` is the profile's: a measured figure taken at another ratio is refused
    (infra/cost/throughput.py RATIO_TOLERANCE)."""
    catalog = priced.catalog
    pool = env.serving_pool()
    sizing = size_replica(
        env.model.name,
        pool.instance_type,
        env.serving.max_model_len,
        env.serving.tensor_parallel,
        env.serving.gpu_memory_utilization,
        catalog,
    )
    figure = throughput_for(catalog, env.model.name, sizing.gpu, sizing.tensor_parallel, measured, input_output_ratio)
    shape = PoolShape(
        replicas_per_node=sizing.replicas_per_node,
        usd_per_node_hour=sizing.usd_per_node_hour,
        replica_output_tokens_per_s=figure.output_tokens_per_s * catalog.throughput.planning_utilisation,
        min_replicas=env.serving.min_replicas,
        max_replicas=min(env.serving.max_replicas, pool.max_nodes * sizing.replicas_per_node),
        cold_start_minutes=cold_start_minutes,
    )
    return sizing, figure, shape


def _recommend(
    profile: TrafficProfile, self_hosted: Option, api: Option, hybrid: Option, breakeven: float | None, fallback: bool
) -> tuple[str, str]:
    if profile.tokens_per_month == 0:
        return "api", "no traffic: any GPU floor is pure cost; let the pool scale to zero (serving.min_replicas 0) or use the API"
    options = {"self-hosted": self_hosted.monthly_usd, "api": api.monthly_usd}
    if fallback:
        options["hybrid"] = hybrid.monthly_usd
    best = min(options, key=lambda k: (options[k], k != "hybrid"))
    where = (
        f"break-even at {breakeven / 1e6:,.0f}M tokens/month"
        if breakeven is not None
        else "self-hosting never breaks even on this hardware at these prices"
    )
    if best == "api":
        return "api", f"the managed API is cheapest at {profile.tokens_per_month / 1e6:,.0f}M tokens/month ({where})"
    if best == "hybrid":
        assert hybrid.plan is not None, "compare() builds the hybrid option from a capacity plan"
        return "hybrid", (
            f"the environment as configured is cheapest: its GPUs serve {hybrid.plan.self_hosted_share:.0%} of the "
            f"traffic, the API the rest ({where})"
        )
    return "self-hosted", f"self-hosting is cheapest at {profile.tokens_per_month / 1e6:,.0f}M tokens/month ({where})"


def compare(
    env: EnvironmentConfig,
    profile: TrafficProfile,
    priced: PricedCatalog,
    *,
    api_model: str | None = None,
    scope: Scope = "gpu",
    measured: list[MeasuredThroughput] | None = None,
    surroundings: Surroundings | None = None,
    cold_start_minutes: float = capacity.COLD_START_MINUTES,
    on: date | None = None,
) -> Comparison:
    """Self-hosted, API and hybrid monthly cost of `profile` on `env`, the break-even and a pick."""
    catalog = priced.catalog
    api_model = api_model or env.fallback.model
    if api_model not in catalog.managed_api:
        raise CostInputError(f"--api {api_model!r}: no price for it; priced models: {', '.join(sorted(catalog.managed_api))}")
    if scope == "environment" and surroundings is None:
        raise ValueError("scope `environment` needs the environment's surroundings (infra.cost.environment)")
    if cold_start_minutes < 0:
        raise CostInputError(f"--cold-start-minutes must be 0 or more (got {cold_start_minutes:g})")
    pool = env.serving_pool()
    sizing, figure, shape = pool_shape(env, priced, measured, cold_start_minutes, profile.input_output_ratio)
    utilisation = catalog.throughput.planning_utilisation
    hours = catalog.hours_per_month
    price = catalog.managed_api[api_model]
    per_token = api_usd_per_token(price, profile)
    api_total = profile.tokens_per_month * per_token
    if scope == "gpu":
        surroundings = None

    unbounded = capacity.plan(profile, shape, hours, bounded=False)
    around = _surroundings_usd(unbounded, surroundings)
    self_hosted = Option(unbounded.gpu_usd + around, unbounded.gpu_usd, 0.0, around, unbounded)

    bounded = capacity.plan(profile, shape, hours, bounded=True)
    around = _surroundings_usd(bounded, surroundings)
    allowed = env.fallback.allowed
    hybrid_api = api_total * bounded.api_share if allowed else 0.0
    hybrid = Option(bounded.gpu_usd + around + hybrid_api, bounded.gpu_usd, hybrid_api, around, bounded)
    api = Option(api_total, 0.0, api_total, 0.0, None)

    breakeven = break_even(shape, profile, per_token, hours, surroundings)
    warnings = []
    if bounded.overflow_share > 0:
        where = f"goes to {env.fallback.model} at API prices" if allowed else "cannot be served: fallback.allowed is false"
        warnings.append(
            f"the profile needs {unbounded.busy_replicas} replicas in its busy hours but pool {pool.name!r} holds "
            f"{shape.max_replicas} (serving.max_replicas {env.serving.max_replicas}, {pool.max_nodes} nodes x "
            f"{sizing.replicas_per_node}/node): {bounded.overflow_share:.1%} of the traffic {where}"
        )
    if bounded.cold_share > 0:
        where = "served by the API" if allowed else "refused (no fallback)"
        warnings.append(
            f"the pool scales to zero between busy periods: the first {cold_start_minutes:g} min of each of them "
            f"({bounded.cold_share:.1%} of the traffic) are {where}"
        )
    if api_model != env.fallback.model:
        warnings.append(f"compared with {api_model}; the environment falls back to {env.fallback.model}")
    recommendation, reason = _recommend(profile, self_hosted, api, hybrid, breakeven, allowed)
    instance = priced.instance_provenance(pool.instance_type)
    api_source = priced.api_provenance(api_model)
    prices = {
        "instance": {
            "instance_type": pool.instance_type,
            "usd_per_node_hour": sizing.usd_per_node_hour,
            "capacity": "on-demand rate (spot nodes priced at it: an upper bound)",
            "source": instance.source,
            "as_of": instance.as_of,
        },
        "managed_api": {
            "model": api_model,
            "input_usd_per_mtok": price.input_per_mtok,
            "output_usd_per_mtok": price.output_per_mtok,
            "source": api_source.source,
            "as_of": api_source.as_of,
        },
        "throughput": figure.as_dict() | {"planning_utilisation": utilisation},
    }
    if surroundings is not None:
        prices["surroundings"] = surroundings.items
    return Comparison(
        environment=env.name,
        scope=scope,
        profile=profile,
        api_model=api_model,
        api_price=price,
        instance_type=pool.instance_type,
        gpu=sizing.gpu,
        tensor_parallel=sizing.tensor_parallel,
        replicas_per_node=sizing.replicas_per_node,
        usd_per_node_hour=sizing.usd_per_node_hour,
        throughput=figure,
        planning_utilisation=utilisation,
        shape=shape,
        fallback_allowed=allowed,
        self_hosted=self_hosted,
        api=api,
        hybrid=hybrid,
        break_even_tokens_per_month=breakeven,
        recommendation=recommendation,
        reason=reason,
        warnings=warnings,
        prices=prices,
        hours_per_month=hours,
        surroundings=surroundings,
    )


def cost_at(comparison: Comparison, tokens_per_month: float) -> tuple[float, float, float]:
    """(self-hosted, API, hybrid) monthly cost of the same environment at another volume."""
    profile = comparison.profile.with_tokens(tokens_per_month)
    shape, hours, surroundings = comparison.shape, comparison.hours_per_month, comparison.surroundings
    api_total = tokens_per_month * api_usd_per_token(comparison.api_price, profile)
    unbounded = capacity.plan(profile, shape, hours, bounded=False)
    bounded = capacity.plan(profile, shape, hours, bounded=True)
    hybrid_api = api_total * bounded.api_share if comparison.fallback_allowed else 0.0
    return (
        unbounded.gpu_usd + _surroundings_usd(unbounded, surroundings),
        api_total,
        bounded.gpu_usd + _surroundings_usd(bounded, surroundings) + hybrid_api,
    )


def comparison_json(c: Comparison) -> dict[str, Any]:
    """The `--json` document: the three costs, the break-even, the pick and every price used."""
    p = c.profile
    return {
        "environment": c.environment,
        "scope": c.scope,
        "profile": {
            "tokens_per_month": p.tokens_per_month,
            "input_output_ratio": p.input_output_ratio,
            "reasoning_share": p.reasoning_share,
            "busy_hours_per_day": p.busy_hours_per_day,
            "input_tokens": round(p.input_tokens),
            "billed_output_tokens": round(p.billed_output_tokens),
            "hours_per_month": c.hours_per_month,
        },
        "self_hosted_monthly_usd": money(c.self_hosted.monthly_usd),
        "api_monthly_usd": money(c.api.monthly_usd),
        "hybrid_monthly_usd": money(c.hybrid.monthly_usd),
        "break_even_tokens_per_month": round(c.break_even_tokens_per_month)
        if c.break_even_tokens_per_month is not None
        else None,
        "recommendation": c.recommendation,
        "recommendation_reason": c.reason,
        "serving": {
            "instance_type": c.instance_type,
            "gpu": c.gpu,
            "tensor_parallel": c.tensor_parallel,
            "replicas_per_node": c.replicas_per_node,
            "replica_output_tokens_per_s_planned": round(c.shape.replica_output_tokens_per_s, 1),
            "min_replicas": c.shape.min_replicas,
            "pool_max_replicas": c.shape.max_replicas,
            "fallback_allowed": c.fallback_allowed,
        },
        "options": {"self_hosted": c.self_hosted.as_dict(), "api": c.api.as_dict(), "hybrid": c.hybrid.as_dict()},
        "prices": c.prices,
        "warnings": c.warnings,
    }
