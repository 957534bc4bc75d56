"""What the traffic cost, per environment and team, from the gateway's counters.

Per environment and per team: requests, tokens and cost by `served_by`, the fallback share
(requests the managed API answered, of all answered), the effective USD per 1M tokens on each
side, and the month's forecast (the window's cost at the same rate for a month of
`hours_per_month`) against the environment's budget.monthly_usd from its stack file.

The self-hosted cost is the gateway's amortised fleet figure (docs/gateway.md): the GPUs'
hourly price spread over the tokens served. The budget (infra/components/budget.py) tracks the
AWS bill of the environment's tagged resources; the managed API is billed by its provider. The
forecast compares the gateway's ledger of both with the budget, a yardstick rather than the bill.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from contracts import UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from infra.catalog import load_catalog
from infra.cost.metrics import COMPLETION_TOKENS, COST_USD, PROMPT_TOKENS, REQUESTS, Snapshot
from infra.cost.pricing import money

FIELDS = {REQUESTS: "requests", PROMPT_TOKENS: "prompt_tokens", COMPLETION_TOKENS: "completion_tokens", COST_USD: "cost_usd"}


def _empty() -> dict[str, float]:
    return {"requests": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0, "cost_usd": 0.0}


def _summary(by_served: dict[str, dict[str, float]]) -> dict[str, Any]:
    served = {}
    for name, totals in sorted(by_served.items()):
        tokens = totals["prompt_tokens"] + totals["completion_tokens"]
        served[name] = {
            "requests": round(totals["requests"]),
            "prompt_tokens": round(totals["prompt_tokens"]),
            "completion_tokens": round(totals["completion_tokens"]),
            "cost_usd": round(totals["cost_usd"], 6),
            "usd_per_mtok": round(totals["cost_usd"] / tokens * 1e6, 4) if tokens else None,
        }
    answered = sum(v["requests"] for k, v in served.items() if k in (UPSTREAM_SELF_HOSTED, UPSTREAM_MANAGED))
    managed = served.get(UPSTREAM_MANAGED, {}).get("requests", 0)
    return {
        "served_by": served,
        "requests": sum(v["requests"] for v in served.values()),
        "cost_usd": round(sum(v["cost_usd"] for v in served.values()), 6),
        "fallback_share": round(managed / answered, 4) if answered else None,
    }


def _budget(environment: str) -> float | None:
    from infra.config import ConfigError, environment_from_stack_file, stack_names

    if environment not in stack_names():
        return None
    try:
        return environment_from_stack_file(environment).budget.monthly_usd
    except ConfigError:
        return None


def build_report(snapshot: Snapshot, environment: str | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict (what `cost report --json` prints)."""
    hours = load_catalog().hours_per_month
    envs: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(_empty))
    teams: dict[str, dict[str, dict[str, dict[str, float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(_empty)))
    for sample in snapshot.samples:
        field = FIELDS.get(sample.metric)
        env = sample.labels.get("environment", "")
        if field is None or (environment and env != environment):
            continue
        served = sample.labels.get("served_by", "none")
        team = sample.labels.get("team", "") or "(none)"
        envs[env][served][field] += sample.value
        teams[env][team][served][field] += sample.value
    if environment and environment not in envs:
        known = sorted({s.labels.get("environment", "") for s in snapshot.samples})
        from infra.cost.errors import CostInputError

        raise CostInputError(
            f"--env {environment!r}: no gateway metrics for it in the data; environments there: {', '.join(known) or 'none'}"
        )
    month_factor = hours * 3600 / snapshot.window_seconds
    out = []
    for env in sorted(envs):
        summary = _summary(envs[env])
        budget = _budget(env)
        forecast = summary["cost_usd"] * month_factor
        out.append(
            {
                "environment": env,
                **summary,
                "teams": {team: _summary(by_served) for team, by_served in sorted(teams[env].items())},
                "forecast": {
                    "monthly_usd": money(forecast),
                    "budget_monthly_usd": budget,
                    "share_of_budget": round(forecast / budget, 4) if budget else None,
                    "over_budget": bool(budget and forecast > budget),
                },
            }
        )
    return {
        "source": snapshot.source,
        "captured_at": snapshot.captured_at.isoformat(),
        "window_seconds": snapshot.window_seconds,
        "hours_per_month": hours,
        "environments": out,
    }


def _line(name: str, data: dict[str, Any]) -> list[str]:
    rows = []
    for served, v in data["served_by"].items():
        per = f"${v['usd_per_mtok']:,.4f}/1M" if v["usd_per_mtok"] is not None else "-"
        rows.append(
            f"    {name:<16} {served:<12} {v['requests']:>9,} {v['prompt_tokens']:>14,} {v['completion_tokens']:>14,} "
            f"{'$' + format(v['cost_usd'], ',.4f'):>14} {per:>14}"
        )
    return rows


def render_report(report: dict[str, Any]) -> str:
    days = report["window_seconds"] / 86400
    lines = [f"Gateway cost report from {report['source']} (window {days:,.2f} days, captured {report['captured_at']})"]
    for env in report["environments"]:
        share = env["fallback_share"]
        lines += [
            "",
            f"Environment {env['environment']}: {env['requests']:,} requests, ${env['cost_usd']:,.4f}, fallback share {share:.1%}"
            if share is not None
            else f"Environment {env['environment']}: {env['requests']:,} requests, ${env['cost_usd']:,.4f}",
            f"    {'team':<16} {'served_by':<12} {'requests':>9} {'prompt tok':>14} {'completion tok':>14} {'cost':>14} {'effective':>14}",
        ]
        lines += _line("(all)", env)
        for team, data in env["teams"].items():
            lines += _line(team, data)
        forecast = env["forecast"]
        if forecast["budget_monthly_usd"]:
            verdict = "OVER BUDGET" if forecast["over_budget"] else "within budget"
            lines.append(
                f"  Month forecast: ${forecast['monthly_usd']:,.2f} at this rate vs budget ${forecast['budget_monthly_usd']:,.2f} "
                f"({forecast['share_of_budget']:.1%}): {verdict}"
            )
        else:
            lines.append(
                f"  Month forecast: ${forecast['monthly_usd']:,.2f} at this rate (no stack file with a budget for this environment)"
            )
    return "\n".join(lines)
