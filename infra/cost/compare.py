"""Self-hosted against the managed API for one environment and one traffic profile.

Three monthly costs for the same traffic:
- `self_hosted`: every token on the environment's GPUs, with as many replicas as it needs
  (at least the pool's floor, `serving.min_replicas`);
- `api`: every token on the managed API at its list price (reasoning bills as output);
- `hybrid`: what the environment actually runs: its GPUs up to the pool's capacity, the
  overflow and the cold starts of a pool that scales to zero on the API.
Each is priced at two scopes: `gpu` (the GPU nodes alone) and `environment` (plus what the
environment costs around its GPUs: control plane, system nodes, NAT, disks, secrets, Redis, S3,
the plan's own estimate, infra/plan/cost.py; the API option needs none of it). Both come with
their break-even and pick; `scope` names the one the headline verdict is given in, and
`Comparison.verdict_flip` says in words when the two disagree.

A what-if (`model`, `instance_type`, `tensor_parallel`) prices the same environment serving
another model or on another instance type without editing it: the sizing chooses the tensor
parallel size (or refuses, naming the flag and the instance types that fit).

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
from infra.sizing import TENSOR_PARALLEL_DEGREES, ReplicaSizing, SizingError, size_replica, suggestions

Scope = Literal["gpu", "environment"]
SCOPES: tuple[Scope, ...] = ("gpu", "environment")
SCOPE_WORDS = {"gpu": "GPU cost alone", "environment": "the whole environment"}
# A wider tensor-parallel size is suggested when it serves at least this much more per GPU.
WIDER_TP_MIN_GAIN = 0.10
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
class ScopeResult:
    """Self-hosted and hybrid cost, break-even and pick at one scope (the API costs the same in both)."""

    scope: Scope
    self_hosted: Option
    hybrid: Option
    break_even_tokens_per_month: float | None
    recommendation: str
    reason: str

    @property
    def self_hosting_wins(self) -> bool:
        return self.recommendation != "api"


@dataclass(frozen=True)
class Comparison:
    environment: str
    scope: Scope  # the scope of the headline verdict
    profile: TrafficProfile
    api_model: str
    api_price: ApiPrice
    model: str
    instance_type: str
    gpu: str
    tensor_parallel: int
    replicas_per_node: int
    usd_per_node_hour: float
    throughput: ThroughputFigure
    planning_utilisation: float
    shape: PoolShape
    fallback_allowed: bool
    api: Option
    scopes: dict[Scope, ScopeResult]
    warnings: list[str]
    notes: list[str]
    prices: dict[str, Any]
    hours_per_month: float
    surroundings: Surroundings | None
    what_if: dict[str, Any] | None = None

    @property
    def headline(self) -> ScopeResult:
        return self.scopes[self.scope]

    @property
    def self_hosted(self) -> Option:
        return self.headline.self_hosted

    @property
    def hybrid(self) -> Option:
        return self.headline.hybrid

    @property
    def break_even_tokens_per_month(self) -> float | None:
        return self.headline.break_even_tokens_per_month

    @property
    def recommendation(self) -> str:
        return self.headline.recommendation

    @property
    def reason(self) -> str:
        return self.headline.reason

    @property
    def verdict_flip(self) -> str | None:
        """One sentence when the GPU-only and whole-environment verdicts disagree, else None."""
        if set(self.scopes) != set(SCOPES):
            return None
        gpu, whole = self.scopes["gpu"], self.scopes["environment"]
        if gpu.self_hosting_wins == whole.self_hosting_wins:
            return None
        where = (
            f"break-even {whole.break_even_tokens_per_month / 1e6:,.0f}M tokens/month"
            if whole.break_even_tokens_per_month is not None
            else "no break-even at any volume"
        )
        return (
            f"Self-hosting wins on GPU cost alone ({_usd(_self_hosting(gpu).monthly_usd)} against {_usd(self.api.monthly_usd)} "
            f"on the API) but loses once the environment is counted ({_usd(_self_hosting(whole).monthly_usd)}; {where}, "
            f"against {gpu.break_even_tokens_per_month / 1e6:,.0f}M on GPU cost alone)."
            if gpu.break_even_tokens_per_month is not None
            else f"Self-hosting wins on GPU cost alone but loses once the environment is counted ({where})."
        )


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _self_hosting(result: ScopeResult) -> Option:
    """The cheaper of the two ways of self-hosting at this scope (the one the pick compares)."""
    return min(result.self_hosted, result.hybrid, key=lambda o: o.monthly_usd)


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


def prompt_tokens_per_generated_token(profile: TrafficProfile) -> float:
    """Prompt tokens per token the GPU generates (visible completion and reasoning)."""
    return profile.input_tokens / profile.billed_output_tokens if profile.billed_output_tokens else profile.input_output_ratio


def serving_sizing(
    env: EnvironmentConfig,
    priced: PricedCatalog,
    *,
    model: str | None = None,
    instance_type: str | None = None,
    tensor_parallel: int | None = None,
) -> ReplicaSizing:
    """The replica sizing of `env`'s serving pool, or of a what-if on it: another model, instance
    type or tensor-parallel size. A what-if leaves the tensor-parallel size to the sizing (unless
    given) and the memory utilization to its default; a combination that does not fit is refused
    naming the flag, the value and the instance types that fit."""
    catalog = priced.catalog
    pool = env.serving_pool()
    model_name = model or env.model.name
    instance = instance_type or pool.instance_type
    if model_name not in catalog.models:
        raise CostInputError(f"--model {model_name!r}: not a model in the catalog; known: {', '.join(sorted(catalog.models))}")
    if instance not in catalog.instances or catalog.instances[instance].gpu is None:
        gpu_types = sorted(k for k, v in catalog.instances.items() if v.gpu is not None)
        raise CostInputError(
            f"--instance-type {instance!r}: not a GPU instance type in the catalog (infra/catalog/instances.yaml); "
            f"GPU instance types: {', '.join(gpu_types)}"
        )
    if tensor_parallel is not None and tensor_parallel not in TENSOR_PARALLEL_DEGREES:
        raise CostInputError(f"--tensor-parallel {tensor_parallel}: not one of {', '.join(map(str, TENSOR_PARALLEL_DEGREES))}")
    own = model_name == env.model.name and instance == pool.instance_type
    tp = tensor_parallel if tensor_parallel is not None else (env.serving.tensor_parallel if own else None)
    utilization = env.serving.gpu_memory_utilization if own else None
    try:
        return size_replica(model_name, instance, env.serving.max_model_len, tp, utilization, catalog)
    except SizingError as error:
        fits = suggestions(model_name, env.serving.max_model_len, catalog, limit=len(catalog.instances))
        names = ", ".join(f.split(" ", 1)[0] for f in fits) or "none in the catalog"
        if tensor_parallel is not None:
            flag = f"--tensor-parallel {tensor_parallel}"
        elif instance_type is not None:
            flag = f"--instance-type {instance}"
        else:
            flag = f"--model {model_name} (on {env.name}'s {instance}; name another with --instance-type)"
        raise CostInputError(f"{flag}: {error}. Instance types that fit {model_name} (cheapest first): {names}") from None


def pool_shape(
    env: EnvironmentConfig,
    priced: PricedCatalog,
    measured: list[MeasuredThroughput] | None = None,
    cold_start_minutes: float = capacity.COLD_START_MINUTES,
    input_output_ratio: float | None = None,
    *,
    generated_ratio: float | None = None,
    sizing: ReplicaSizing | None = None,
) -> tuple[ReplicaSizing, ThroughputFigure, PoolShape]:
    """The sizing, throughput figure and pool shape of `env`'s serving pool: the one source of
    what a replica serves and costs, for `compare` and the cost governor (infra/cost/governor).

    `input_output_ratio` is the profile's: a measured figure taken at another ratio is refused
    (infra/cost/throughput.py RATIO_TOLERANCE). `generated_ratio` (prompt tokens per generated
    token of the traffic) converts a published or estimated figure from the mix it was measured
    at (`ThroughputFigure.at_ratio`); None keeps that mix. `sizing` replaces the pool's own (a
    what-if, `serving_sizing`)."""
    catalog = priced.catalog
    pool = env.serving_pool()
    sizing = sizing or serving_sizing(env, priced)
    figure = throughput_for(catalog, sizing.model, sizing.gpu, sizing.tensor_parallel, measured, input_output_ratio)
    rate = figure.output_tokens_per_s if generated_ratio is None else figure.at_ratio(generated_ratio)
    shape = PoolShape(
        replicas_per_node=sizing.replicas_per_node,
        usd_per_node_hour=sizing.usd_per_node_hour,
        replica_output_tokens_per_s=rate * catalog.throughput.planning_utilisation,
        min_replicas=env.serving.min_replicas,
        max_replicas=min(env.serving.max_replicas, pool.max_nodes * sizing.replicas_per_node),
        cold_start_minutes=cold_start_minutes,
    )
    return sizing, figure, shape


def wider_tensor_parallel_note(
    priced: PricedCatalog,
    sizing: ReplicaSizing,
    figure: ThroughputFigure,
    generated_ratio: float,
    measured: list[MeasuredThroughput] | None = None,
    input_output_ratio: float | None = None,
) -> str | None:
    """A suggestion, when a node holds several replicas and a wider tensor-parallel size serves
    more per GPU (the sizing picks the smallest that fits; on a full node that is not always the
    most per GPU: GPUStack measured gpt-oss-120b on H100 at TP=2 "26.8% higher token throughput
    per GPU" than at TP=1). Figures at the profile's mix; None when nothing is better."""
    catalog = priced.catalog
    current = figure.at_ratio(generated_ratio) / sizing.tensor_parallel
    best: tuple[float, int, ThroughputFigure] | None = None
    for tp in TENSOR_PARALLEL_DEGREES:
        if tp <= sizing.tensor_parallel or sizing.gpus_per_node % tp:
            continue
        try:
            size_replica(sizing.model, sizing.instance_type, sizing.max_model_len, tp, None, catalog)
        except SizingError:
            continue
        wider = throughput_for(catalog, sizing.model, sizing.gpu, tp, measured, input_output_ratio)
        per_gpu = wider.at_ratio(generated_ratio) / tp
        if per_gpu > current * (1 + WIDER_TP_MIN_GAIN) and (best is None or per_gpu > best[0]):
            best = (per_gpu, tp, wider)
    if best is None:
        return None
    per_gpu, tp, wider = best
    now_replicas, wide_replicas = sizing.gpus_per_node // sizing.tensor_parallel, sizing.gpus_per_node // tp
    return (
        f"suggestion: on {sizing.instance_type} ({sizing.gpus_per_node}x {sizing.gpu}) {wide_replicas} replicas of TP={tp} "
        f"serve {wide_replicas * wider.at_ratio(generated_ratio):,.0f} output tok/s a node against "
        f"{now_replicas} of TP={sizing.tensor_parallel} at {now_replicas * figure.at_ratio(generated_ratio):,.0f} "
        f"(+{per_gpu / current - 1:.0%} per GPU; {wider.basis} vs {figure.basis} figures, at the profile's mix). "
        f"Try it with --tensor-parallel {tp}; keep it with serving.tensor_parallel: {tp}"
    )


def configured_tensor_parallel_note(env: EnvironmentConfig, priced: PricedCatalog) -> str | None:
    """`wider_tensor_parallel_note` for `env` as configured, at the cost model's default mix (3:1,
    no reasoning): what the offline plan points out, so the suggestion reaches whoever sizes the
    pool, not only whoever runs `cost compare`."""
    profile = TrafficProfile(0.0)
    ratio = prompt_tokens_per_generated_token(profile)
    sizing, figure, _ = pool_shape(env, priced, None, input_output_ratio=profile.input_output_ratio, generated_ratio=ratio)
    return wider_tensor_parallel_note(priced, sizing, figure, ratio, None, profile.input_output_ratio)


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


def _scope_result(
    scope: Scope,
    profile: TrafficProfile,
    shape: PoolShape,
    hours: float,
    per_token: float,
    api: Option,
    surroundings: Surroundings | None,
    fallback: bool,
) -> ScopeResult:
    unbounded = capacity.plan(profile, shape, hours, bounded=False)
    around = _surroundings_usd(unbounded, surroundings)
    self_hosted = Option(unbounded.gpu_usd + around, unbounded.gpu_usd, 0.0, around, unbounded)
    bounded = capacity.plan(profile, shape, hours, bounded=True)
    around = _surroundings_usd(bounded, surroundings)
    hybrid_api = api.monthly_usd * bounded.api_share if fallback else 0.0
    hybrid = Option(bounded.gpu_usd + around + hybrid_api, bounded.gpu_usd, hybrid_api, around, bounded)
    breakeven = break_even(shape, profile, per_token, hours, surroundings)
    recommendation, reason = _recommend(profile, self_hosted, api, hybrid, breakeven, fallback)
    return ScopeResult(scope, self_hosted, hybrid, breakeven, recommendation, reason)


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
    model: str | None = None,
    instance_type: str | None = None,
    tensor_parallel: int | None = None,
) -> Comparison:
    """Self-hosted, API and hybrid monthly cost of `profile` on `env`, the break-even and a pick,
    at the GPU scope and, given `surroundings`, at the environment scope too; `scope` is the one
    the headline verdict is given in. `model`/`instance_type`/`tensor_parallel`: a what-if."""
    catalog = priced.catalog
    api_model = api_model or env.fallback.model
    if api_model not in catalog.managed_api:
        raise CostInputError(f"--api {api_model!r}: no price for it; priced models: {', '.join(sorted(catalog.managed_api))}")
    if scope == "environment" and surroundings is None:
        raise ValueError("scope `environment` needs the environment's surroundings (infra.cost.environment)")
    if cold_start_minutes < 0:
        raise CostInputError(f"--cold-start-minutes must be 0 or more (got {cold_start_minutes:g})")
    pool = env.serving_pool()
    sizing = serving_sizing(env, priced, model=model, instance_type=instance_type, tensor_parallel=tensor_parallel)
    ratio = prompt_tokens_per_generated_token(profile)
    sizing, figure, shape = pool_shape(
        env, priced, measured, cold_start_minutes, profile.input_output_ratio, generated_ratio=ratio, sizing=sizing
    )
    utilisation = catalog.throughput.planning_utilisation
    hours = catalog.hours_per_month
    price = catalog.managed_api[api_model]
    per_token = api_usd_per_token(price, profile)
    api_total = profile.tokens_per_month * per_token
    api = Option(api_total, 0.0, api_total, 0.0, None)
    allowed = env.fallback.allowed

    scopes: dict[Scope, ScopeResult] = {"gpu": _scope_result("gpu", profile, shape, hours, per_token, api, None, allowed)}
    if surroundings is not None:
        scopes["environment"] = _scope_result("environment", profile, shape, hours, per_token, api, surroundings, allowed)
    unbounded, bounded = scopes["gpu"].self_hosted.plan, scopes["gpu"].hybrid.plan
    assert unbounded is not None and bounded is not None, "self-hosted and hybrid come from capacity plans"

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
    notes = []
    suggestion = wider_tensor_parallel_note(priced, sizing, figure, ratio, measured, profile.input_output_ratio)
    if suggestion is not None and tensor_parallel is None:
        notes.append(suggestion)
    what_if = None
    if (sizing.model, sizing.instance_type) != (env.model.name, pool.instance_type) or tensor_parallel is not None:
        what_if = {
            "model": sizing.model,
            "instance_type": sizing.instance_type,
            "tensor_parallel": sizing.tensor_parallel,
            "configured": {"model": env.model.name, "instance_type": pool.instance_type},
        }
        notes.append(
            f"what-if: {sizing.model} on {sizing.instance_type} (TP={sizing.tensor_parallel}) in place of {env.name}'s "
            f"{env.model.name} on {pool.instance_type}; the pool's node limits, serving.min_replicas/max_replicas and "
            "fallback are the environment's"
        )
    instance = priced.instance_provenance(sizing.instance_type)
    api_source = priced.api_provenance(api_model)
    at_mix = figure.at_ratio(ratio)
    prices = {
        "instance": {
            "instance_type": sizing.instance_type,
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
        "throughput": figure.as_dict()
        | {
            "planning_utilisation": utilisation,
            "prompt_tokens_per_generated_token": round(ratio, 3),
            "output_tokens_per_s_at_profile_mix": round(at_mix, 1),
            "at_profile_mix_basis": "estimated" if at_mix != figure.output_tokens_per_s else figure.basis,
        },
    }
    if surroundings is not None:
        prices["surroundings"] = surroundings.items
    return Comparison(
        environment=env.name,
        scope=scope,
        profile=profile,
        api_model=api_model,
        api_price=price,
        model=sizing.model,
        instance_type=sizing.instance_type,
        gpu=sizing.gpu,
        tensor_parallel=sizing.tensor_parallel,
        replicas_per_node=sizing.replicas_per_node,
        usd_per_node_hour=sizing.usd_per_node_hour,
        throughput=figure,
        planning_utilisation=utilisation,
        shape=shape,
        fallback_allowed=allowed,
        api=api,
        scopes=scopes,
        warnings=warnings,
        notes=notes,
        prices=prices,
        hours_per_month=hours,
        surroundings=surroundings,
        what_if=what_if,
    )


def cost_at(comparison: Comparison, tokens_per_month: float, scope: Scope | None = None) -> tuple[float, float, float]:
    """(self-hosted, API, hybrid) monthly cost of the same environment at another volume, at
    `scope` (default: the headline's)."""
    scope = scope or comparison.scope
    profile = comparison.profile.with_tokens(tokens_per_month)
    shape, hours = comparison.shape, comparison.hours_per_month
    surroundings = comparison.surroundings if scope == "environment" else None
    api_total = tokens_per_month * api_usd_per_token(comparison.api_price, profile)
    unbounded = capacity.plan(profile, shape, hours, bounded=False)
    bounded = capacity.plan(profile, shape, hours, bounded=True)
    hybrid_api = api_total * bounded.api_share if comparison.fallback_allowed else 0.0
    return (
        unbounded.gpu_usd + _surroundings_usd(unbounded, surroundings),
        api_total,
        bounded.gpu_usd + _surroundings_usd(bounded, surroundings) + hybrid_api,
    )


def _scope_json(result: ScopeResult, api: Option) -> dict[str, Any]:
    return {
        "self_hosted_monthly_usd": money(result.self_hosted.monthly_usd),
        "api_monthly_usd": money(api.monthly_usd),
        "hybrid_monthly_usd": money(result.hybrid.monthly_usd),
        "break_even_tokens_per_month": round(result.break_even_tokens_per_month)
        if result.break_even_tokens_per_month is not None
        else None,
        "recommendation": result.recommendation,
        "recommendation_reason": result.reason,
        "options": {"self_hosted": result.self_hosted.as_dict(), "api": api.as_dict(), "hybrid": result.hybrid.as_dict()},
    }


def comparison_json(c: Comparison) -> dict[str, Any]:
    """The `--json` document: the headline scope's costs, break-even and pick at the top level,
    both scopes under `scopes`, `verdict_flip` when they disagree, and every price used."""
    p = c.profile
    headline = _scope_json(c.headline, c.api)
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
        "self_hosted_monthly_usd": headline["self_hosted_monthly_usd"],
        "api_monthly_usd": headline["api_monthly_usd"],
        "hybrid_monthly_usd": headline["hybrid_monthly_usd"],
        "break_even_tokens_per_month": headline["break_even_tokens_per_month"],
        "recommendation": headline["recommendation"],
        "recommendation_reason": headline["recommendation_reason"],
        "scopes": {scope: _scope_json(result, c.api) for scope, result in c.scopes.items()},
        "verdict_flip": c.verdict_flip,
        "serving": {
            "model": c.model,
            "instance_type": c.instance_type,
            "gpu": c.gpu,
            "tensor_parallel": c.tensor_parallel,
            "replicas_per_node": c.replicas_per_node,
            "replica_output_tokens_per_s_planned": round(c.shape.replica_output_tokens_per_s, 1),
            "min_replicas": c.shape.min_replicas,
            "pool_max_replicas": c.shape.max_replicas,
            "fallback_allowed": c.fallback_allowed,
        },
        "what_if": c.what_if,
        "options": headline["options"],
        "prices": c.prices,
        "notes": c.notes,
        "warnings": c.warnings,
    }
