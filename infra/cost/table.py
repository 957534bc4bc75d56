"""The comparison as a table for people (`cost compare` without --json): both scopes side by
side, their break-evens, the verdict in the headline scope, and a sentence when they disagree."""

from __future__ import annotations

from infra.cost.compare import SCOPE_WORDS, SCOPES, Comparison, Option, ScopeResult


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _tokens(value: float) -> str:
    return f"{value / 1e6:,.1f}M"


def _capacity(option: Option) -> str:
    plan = option.plan
    if plan is None:
        return "-"
    parts = [f"{plan.busy_replicas} replica(s) on {plan.busy_nodes} node(s) in busy hours"]
    if plan.floor_nodes:
        parts.append(f"{plan.floor_nodes} node(s) all month")
    if plan.burst_node_hours:
        parts.append(f"{plan.burst_node_hours:,.0f} burst node-hours")
    if plan.api_share:
        parts.append(f"{plan.api_share:.1%} of tokens on the API")
    return "; ".join(parts)


def _break_even(result: ScopeResult) -> str:
    return _tokens(result.break_even_tokens_per_month) if result.break_even_tokens_per_month is not None else "none"


def render_comparison(c: Comparison) -> str:
    p = c.profile
    scopes = [c.scopes[s] for s in SCOPES if s in c.scopes]
    lines = [
        f"Cost of {_tokens(p.tokens_per_month)} tokens/month in {c.environment} ({c.model} on {c.instance_type}, "
        f"{c.gpu} TP={c.tensor_parallel}, {c.replicas_per_node} replica(s)/node) vs {c.api_model}",
        f"Profile: {p.input_output_ratio:g}:1 input:output, reasoning {p.reasoning_share:.0%} of billed output, "
        f"{p.busy_hours_per_day:g} busy h/day, {c.hours_per_month:g} h/month -> {_tokens(p.input_tokens)} input, "
        f"{_tokens(p.billed_output_tokens)} billed output",
        "",
        f"  {'USD/month':<13} " + " ".join(f"{SCOPE_WORDS[r.scope]:>22}" for r in scopes) + "  capacity",
    ]
    first = scopes[0]
    rows: list[tuple[str, list[Option], Option]] = [
        ("self-hosted", [r.self_hosted for r in scopes], first.self_hosted),
        ("api", [c.api for _ in scopes], c.api),
        ("hybrid" if c.fallback_allowed else "as configured", [r.hybrid for r in scopes], first.hybrid),
    ]
    for name, options, shown in rows:
        lines.append(f"  {name:<13} " + " ".join(f"{_usd(o.monthly_usd):>22}" for o in options) + f"  {_capacity(shown)}")
    lines.append(f"  {'break-even':<13} " + " ".join(f"{_break_even(r):>22}" for r in scopes) + "  tokens/month")
    lines.append(f"  {'cheapest':<13} " + " ".join(f"{r.recommendation:>22}" for r in scopes))
    if "environment" in c.scopes:
        whole = c.scopes["environment"]
        lines.append(
            f"  around the GPUs: {_usd(whole.self_hosted.surroundings_usd)}/month self-hosted, "
            f"{_usd(whole.hybrid.surroundings_usd)} hybrid (the API option needs none of it)"
        )
    lines.append("")
    lines.append(f"Recommendation ({SCOPE_WORDS[c.scope]}): {c.recommendation} - {c.reason}")
    if c.verdict_flip:
        lines.append(c.verdict_flip)
    lines.append("")
    figure = c.throughput
    instance, api, throughput = c.prices["instance"], c.prices["managed_api"], c.prices["throughput"]
    lines.append("Prices and figures used:")
    lines.append(
        f"  {instance['instance_type']}: ${instance['usd_per_node_hour']}/node-hour, {instance['capacity']} ({instance['source']}, {instance['as_of']})"
    )
    lines.append(
        f"  {api['model']}: ${api['input_usd_per_mtok']}/${api['output_usd_per_mtok']} per 1M input/output tokens "
        f"({api['source']}, {api['as_of']})"
    )
    lines.append(
        f"  throughput: {figure.output_tokens_per_s:,.0f} output tok/s per replica, {figure.basis} ({figure.method}; "
        f"{figure.date.isoformat()})"
    )
    at_mix = throughput["output_tokens_per_s_at_profile_mix"]
    if throughput["at_profile_mix_basis"] == "estimated":
        lines.append(
            f"  at this profile's {throughput['prompt_tokens_per_generated_token']:g} prompt tokens per generated token: "
            f"{at_mix:,.0f} tok/s, estimated (prompt cost {throughput['prompt_cost']:g} of an output token, "
            f"from the figure's {throughput['input_output_ratio']:g}:1; infra/catalog/throughput.yaml prompt_cost)"
        )
    lines.append(f"  planned at {c.planning_utilisation:.0%} = {c.shape.replica_output_tokens_per_s:,.0f} tok/s per replica")
    if c.surroundings is not None:
        plane = c.surroundings.items["control_plane"]
        lines.append(
            f"  around the GPUs: ${c.surroundings.fixed_usd:,.2f}/month (control plane {plane['kubernetes_version']} in "
            f"{plane['support']} support at ${plane['usd_per_cluster_hour']}/h, system nodes at their floor, NAT, "
            "secrets, Redis, S3; the plan's estimate) + GPU root disks by node-hour"
        )
    for note in c.notes:
        lines.append(f"NOTE: {note}")
    for warning in c.warnings:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)
