"""The comparison as a table for people (`cost compare` without --json)."""

from __future__ import annotations

from infra.cost.compare import Comparison, Option


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


def render_comparison(c: Comparison) -> str:
    p = c.profile
    lines = [
        f"Cost of {_tokens(p.tokens_per_month)} tokens/month in {c.environment} ({c.throughput.model} on {c.instance_type}, "
        f"{c.gpu} TP={c.tensor_parallel}, {c.replicas_per_node} replica(s)/node) vs {c.api_model}, scope {c.scope}",
        f"Profile: {p.input_output_ratio:g}:1 input:output, reasoning {p.reasoning_share:.0%} of billed output, "
        f"{p.busy_hours_per_day:g} busy h/day, {c.hours_per_month:g} h/month -> {_tokens(p.input_tokens)} input, "
        f"{_tokens(p.billed_output_tokens)} billed output",
        "",
        f"  {'option':<13} {'USD/month':>14} {'GPU':>12} {'API':>12} {'around GPUs':>12}  capacity",
    ]
    for name, option in (("self-hosted", c.self_hosted), ("api", c.api), ("hybrid", c.hybrid)):
        if name == "hybrid" and not c.fallback_allowed:
            name = "as configured"
        lines.append(
            f"  {name:<13} {_usd(option.monthly_usd):>14} {_usd(option.gpu_usd):>12} {_usd(option.api_usd):>12} "
            f"{_usd(option.surroundings_usd):>12}  {_capacity(option)}"
        )
    lines.append("")
    if c.break_even_tokens_per_month is None:
        lines.append("Break-even: none - the API is cheaper at every volume on this hardware at these prices")
    else:
        lines.append(f"Break-even: {_tokens(c.break_even_tokens_per_month)} tokens/month")
    lines.append(f"Recommendation: {c.recommendation} - {c.reason}")
    lines.append("")
    figure = c.throughput
    instance, api = c.prices["instance"], c.prices["managed_api"]
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
        f"{figure.date.isoformat()}), planned at {c.planning_utilisation:.0%} = {c.shape.replica_output_tokens_per_s:,.0f} tok/s"
    )
    if c.surroundings is not None:
        plane = c.surroundings.items["control_plane"]
        lines.append(
            f"  around the GPUs: ${c.surroundings.fixed_usd:,.2f}/month (control plane {plane['kubernetes_version']} in "
            f"{plane['support']} support at ${plane['usd_per_cluster_hour']}/h, system nodes at their floor, NAT, disks, "
            "secrets, Redis, S3; the plan's estimate)"
        )
    for warning in c.warnings:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)
