"""The PNG of a simulated week: traffic, the floors each strategy keeps, their cumulative cost."""

from __future__ import annotations

from pathlib import Path

from infra.cost.chart import MissingDependency
from infra.cost.governor.simulate import Simulation

INSTALL = "`make ops-venv` (the `ops` dependency group: `uv sync --group ops`)"


def render_simulation(simulation: Simulation, path: Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependency(f"--chart needs matplotlib: run {INSTALL}") from None
    hours = [h.hour for h in simulation.hours]
    fig, (traffic, floors, cost) = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True)
    traffic.fill_between(hours, [h.tokens / 1e6 for h in simulation.hours], step="post", alpha=0.4, label="tokens")
    traffic.fill_between(
        hours, [h.sovereign_tokens / 1e6 for h in simulation.hours], step="post", alpha=0.8, label="sovereign tokens"
    )
    assert simulation.model is not None
    capacity = simulation.model.replica_tokens_per_hour / 1e6
    traffic.axhline(capacity, color="grey", linestyle=":", label=f"one replica ({capacity:,.0f}M/h)")
    traffic.set_ylabel("M tokens / hour")
    traffic.legend(loc="upper right", fontsize=8)
    styles = {
        "always_on": ("as configured", "tab:red"),
        "governor": ("governor", "tab:green"),
        "hindsight": ("hindsight", "tab:blue"),
    }
    for name, (label, color) in styles.items():
        strategy = getattr(simulation, name)
        floors.step(hours, strategy.floors, where="post", color=color, label=label, alpha=0.8)
        running, total = [], 0.0
        for usd in strategy.hourly_usd:
            total += usd
            running.append(total)
        cost.plot(hours, running, color=color, label=f"{label}: ${strategy.monthly_usd:,.0f}/month")
    running, total = [], 0.0
    for usd in simulation.api_only.hourly_usd:
        total += usd
        running.append(total)
    cost.plot(hours, running, color="tab:orange", label=f"API only: ${simulation.api_only.monthly_usd:,.0f}/month")
    floors.set_ylabel("replicas")
    floors.legend(loc="upper right", fontsize=8)
    cost.set_ylabel("USD so far")
    cost.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"{simulation.model.instance_type}: cost simulate over {len(hours)} h (monthly figures x{simulation.scale:.2f})")
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
