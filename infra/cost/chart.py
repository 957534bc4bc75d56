"""The PNG of monthly cost against monthly tokens: self-hosted, API, hybrid, break-even marked,
and the user's volume marked with what each line costs there.

matplotlib is an `ops` dependency (not needed by `pulumi up`); `render_chart` raises
MissingDependency naming the make target that installs it (`make ops-venv`, listed by `make help`).
`build_figure` returns the figure unsaved, so tests read its lines and annotations.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from infra.cost.compare import SCOPE_WORDS, Comparison, cost_at

POINTS = 240
# The make target that installs matplotlib (Makefile; `make help` lists it).
INSTALL_TARGET = "make ops-venv"


class MissingDependency(RuntimeError):
    """An optional library of the `ops` group is not installed."""


def _tokens(value: float, _position: object = None) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:g}"


def _usd(value: float, _position: object = None) -> str:
    if value >= 1e6:
        return f"${value / 1e6:g}M"
    if value >= 1e3:
        return f"${value / 1e3:g}k"
    return f"${value:g}"


def volume_range(comparison: Comparison) -> tuple[float, float]:
    """A log range around the profile's volume and the break-even, two decades either side."""
    anchors = [v for v in (comparison.profile.tokens_per_month, comparison.break_even_tokens_per_month) if v]
    if not anchors:
        anchors = [1e9]
    low = 10 ** math.floor(math.log10(min(anchors)) - 1.5)
    high = 10 ** math.ceil(math.log10(max(anchors)) + 1.5)
    return low, high


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependency(
            f"--chart needs matplotlib, in the `ops` dependency group: run `{INSTALL_TARGET}` (or `uv sync --group ops`)"
        ) from None
    return plt


def profile_marks(comparison: Comparison) -> list[tuple[str, float]]:
    """(line, USD/month) at the profile's volume, for every line the chart draws."""
    volume = comparison.profile.tokens_per_month
    self_hosted, api, hybrid = cost_at(comparison, volume)
    marks = [(f"API {comparison.api_model}", api), (f"self-hosted ({SCOPE_WORDS[comparison.scope]})", self_hosted)]
    other = "gpu" if comparison.scope == "environment" else "environment"
    if other in comparison.scopes:
        marks.append((f"self-hosted ({SCOPE_WORDS[other]})", cost_at(comparison, volume, other)[0]))
    if comparison.fallback_allowed:
        marks.append(("hybrid", hybrid))
    return marks


def build_figure(comparison: Comparison) -> Any:
    """The chart as a matplotlib Figure, not saved (close it with matplotlib.pyplot.close)."""
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, LogLocator

    low, high = volume_range(comparison)
    step = (math.log10(high) - math.log10(low)) / (POINTS - 1)
    volumes = [10 ** (math.log10(low) + i * step) for i in range(POINTS)]
    rows = [cost_at(comparison, v) for v in volumes]
    self_hosted, api, hybrid = zip(*rows, strict=True)
    other = "gpu" if comparison.scope == "environment" else "environment"
    other_self_hosted = [cost_at(comparison, v, other)[0] for v in volumes] if other in comparison.scopes else []

    fig, ax = plt.subplots(figsize=(11, 6.5), dpi=120)
    ax.plot(volumes, api, color="#d62728", linewidth=2.2, label=f"API only ({comparison.api_model})")
    ax.step(
        volumes,
        self_hosted,
        where="post",
        color="#1f77b4",
        linewidth=2.2,
        label=f"Self-hosted, {SCOPE_WORDS[comparison.scope]} ({comparison.instance_type}, as many nodes as needed)",
    )
    if other_self_hosted:
        ax.step(
            volumes,
            other_self_hosted,
            where="post",
            color="#1f77b4",
            linewidth=1.0,
            alpha=0.6,
            label=f"Self-hosted, {SCOPE_WORDS[other]}",
        )
    if comparison.fallback_allowed:
        ax.plot(
            volumes,
            hybrid,
            color="#2ca02c",
            linewidth=1.8,
            linestyle="--",
            label="Hybrid: this environment as configured (overflow to the API)",
        )
    breakeven = comparison.break_even_tokens_per_month
    if breakeven:
        cost = cost_at(comparison, breakeven)[1]
        ax.axvline(breakeven, color="#555555", linestyle=":", linewidth=1.4)
        ax.plot([breakeven], [cost], marker="o", color="black", zorder=5)
        ax.annotate(
            f"break-even\n{_tokens(breakeven)} tokens/month\n${cost:,.0f}/month",
            (breakeven, cost),
            textcoords="offset points",
            xytext=(12, -46),
            fontsize=10,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#999999"},
        )
    volume = comparison.profile.tokens_per_month
    if volume > 0:
        ax.axvline(volume, color="#9467bd", linestyle="-.", linewidth=1.2, label=f"your profile: {_tokens(volume)} tokens/month")
        # The dollars of each line at the user's volume, stacked beside the line so they never overlap.
        for i, (name, usd) in enumerate(profile_marks(comparison)):
            ax.plot([volume], [usd], marker="o", markersize=5, color="#9467bd", zorder=6)
            ax.annotate(
                f"{name}: ${usd:,.2f}/month",
                (volume, usd),
                xycoords="data",
                textcoords="axes fraction",
                xytext=(0.62, 0.30 - 0.06 * i),
                fontsize=9,
                color="#4b2e83",
                arrowprops={"arrowstyle": "-", "color": "#9467bd", "alpha": 0.5},
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#c5b0d5"},
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    positive = [v for v in (*self_hosted, *api, *hybrid, *other_self_hosted) if v > 0]
    ax.set_ylim(max(min(positive) / 2, 1), max(positive) * 2)
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(_tokens))
    ax.yaxis.set_major_formatter(FuncFormatter(_usd))
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.set_xlabel("Tokens per month (prompt + completion)", fontsize=11)
    ax.set_ylabel("USD per month", fontsize=11)
    p = comparison.profile
    ax.set_title(
        f"{comparison.environment}: {comparison.model} on {comparison.instance_type} "
        f"({comparison.gpu}, TP={comparison.tensor_parallel}) vs {comparison.api_model}\n"
        f"{p.input_output_ratio:g}:1 input:output, reasoning {p.reasoning_share:.0%} of output, "
        f"{p.busy_hours_per_day:g} busy h/day, verdict on {SCOPE_WORDS[comparison.scope]}",
        fontsize=12,
    )
    ax.legend(loc="upper left", fontsize=9.5, framealpha=0.95)
    figure = comparison.throughput
    fig.text(
        0.01,
        0.01,
        f"Throughput {figure.output_tokens_per_s:,.0f} output tok/s per replica ({figure.basis}), "
        f"{comparison.shape.replica_output_tokens_per_s:,.0f} planned at this mix; ${comparison.usd_per_node_hour:g}/node-hour "
        f"(on-demand, {comparison.prices['instance']['as_of']}); "
        f"API ${comparison.api_price.input_per_mtok:g}/${comparison.api_price.output_per_mtok:g} per 1M in/out "
        f"({comparison.prices['managed_api']['as_of']}).",
        fontsize=8,
        color="#444444",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def render_chart(comparison: Comparison, path: Path) -> Path:
    """Write the chart to `path` (PNG) and return it."""
    fig = build_figure(comparison)
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
