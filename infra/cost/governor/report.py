"""The text of `cost simulate`: four monthly costs, the gap to hindsight, sovereign tokens unserved."""

from __future__ import annotations

from infra.cost.governor.simulate import Simulation


def render_simulation_table(simulation: Simulation) -> str:
    """A Markdown table (docs/cost.md quotes it) and the notes a manager needs to read it."""
    model = simulation.model
    assert model is not None
    hindsight = simulation.hindsight.monthly_usd
    rows = [
        "| strategy | USD / month | vs hindsight | node-hours | API tokens | sovereign tokens unserved |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, strategy in (
        ("always-on (as configured)", simulation.always_on),
        ("API only", simulation.api_only),
        ("governor", simulation.governor),
        ("hindsight optimum", simulation.hindsight),
    ):
        gap = f"{strategy.monthly_usd / hindsight - 1:+.1%}" if hindsight > 0 else "n/a"
        node_hours = sum(model.shape.nodes_for(f) for f in strategy.floors) if strategy.name != "api_only" else 0
        rows.append(
            f"| {label} | ${strategy.monthly_usd:,.2f} | {gap} | {node_hours:,} | "
            f"{strategy.api_tokens / 1e6:,.1f}M | {strategy.sovereign_unserved:,.0f} |"
        )
    changes = sum(1 for d in simulation.decisions if d.applied)
    blocked = sum(1 for d in simulation.decisions if d.blocked_by)
    notes = [
        "",
        f"{len(simulation.hours)} hours from {simulation.hours[0].hour:%Y-%m-%d %H:%M} UTC, scaled to a month "
        f"(x{simulation.scale:.3f}); {model.instance_type} at ${model.shape.usd_per_node_hour:g}/node-hour, "
        f"{model.replica_tokens_per_hour / 1e6:,.1f}M tokens/hour per replica ({model.throughput_basis} throughput), "
        f"{model.api_model} at ${model.api_usd_per_token * 1e6:.4f}/M tokens, cold start {model.shape.cold_start_minutes:g} min.",
        f"Governor: {changes} floor change(s), {blocked} blocked; floor between {model.min_floor} and {model.max_floor} replica(s).",
        "Node-hours count whole hours at the floor (the scale-down tail of removed nodes is in the dollars).",
    ]
    return "\n".join(rows + notes)
