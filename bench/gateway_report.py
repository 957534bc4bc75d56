"""The gateway benchmark's summary and its Markdown page (bench/results/gateway.md).

Everything the page says about the figures is computed here from the same numbers as its table
(the goals' verdicts included), so no sentence about them can go stale.
"""

from __future__ import annotations

import statistics
from typing import Any

PROXIES = ("nginx", "gateway", "litellm")
# The goals for the gateway (docs/gateway.md "Benchmark").
GOAL_P50_C1_MS = 1.0
GOAL_CPU_MS = 0.25
GOAL_RATIO_TO_LITELLM = 1 / 20


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def summarise(cells: list[dict[str, Any]] | list[Any]) -> list[dict[str, Any]]:
    """Per (concurrency, mode): the direct p50, and per proxy its overhead over direct at p50 and
    p99 (computed within each repeat, then median and range over repeats), req/s and CPU ms per
    request (medians)."""
    rows = []
    as_dicts = [c if isinstance(c, dict) else vars(c) for c in cells]
    keys = sorted({(c["concurrency"], c["mode"]) for c in as_dicts}, key=lambda k: (k[0], k[1] != "json"))
    for concurrency, mode in keys:
        here = [c for c in as_dicts if c["concurrency"] == concurrency and c["mode"] == mode]
        repeats = sorted({c["repeat"] for c in here})
        direct = {c["repeat"]: c for c in here if c["target"] == "direct"}
        if not direct:
            continue
        row: dict[str, Any] = {
            "concurrency": concurrency,
            "mode": mode,
            "direct_p50_ms": _spread([direct[r]["p50_ms"] for r in repeats if r in direct]),
        }
        for name in PROXIES:
            mine = {c["repeat"]: c for c in here if c["target"] == name}
            if not mine:
                continue
            both = [r for r in repeats if r in mine and r in direct]
            row[name] = {
                "p50_overhead_ms": _spread([mine[r]["p50_ms"] - direct[r]["p50_ms"] for r in both]),
                "p99_overhead_ms": _spread([mine[r]["p99_ms"] - direct[r]["p99_ms"] for r in both]),
                "rps": _spread([mine[r]["rps"] for r in both]),
                "cpu_ms_per_request": _spread(
                    [mine[r]["cpu_ms_per_request"] for r in both if mine[r].get("cpu_ms_per_request") is not None]
                ),
                "errors": sum(mine[r]["errors"] for r in both),
            }
        rows.append(row)
    return rows


def _median(stats: dict[str, Any] | None) -> float | None:
    return None if stats is None else stats["median"]


def goals(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gateway's goals, each with the measured value (medians) and whether it is met."""
    out = []
    for row in summary:
        gateway = row.get("gateway")
        if gateway is None:
            continue
        where = f"concurrency {row['concurrency']}, {row['mode']}"
        if row["concurrency"] == 1:
            value = _median(gateway["p50_overhead_ms"])
            out.append(_goal(f"p50 overhead, {where}", value, GOAL_P50_C1_MS, "ms"))
        cpu = _median(gateway["cpu_ms_per_request"])
        out.append(_goal(f"CPU per request, {where}", cpu, GOAL_CPU_MS, "ms"))
        litellm = row.get("litellm")
        if row["concurrency"] in (16, 64):
            ratio = None
            if litellm is not None and _median(litellm["p50_overhead_ms"]):
                ratio = _median(gateway["p50_overhead_ms"]) / _median(litellm["p50_overhead_ms"])
            out.append(_goal(f"p50 overhead over LiteLLM's, {where}", ratio, GOAL_RATIO_TO_LITELLM, "x"))
    return out


def _goal(what: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    return {
        "goal": what,
        "value": None if value is None else round(value, 4),
        "at_most": round(limit, 4),
        "unit": unit,
        "met": None if value is None else value <= limit,
    }


def _cell(stats: dict[str, float] | None, signed: bool = True) -> str:
    if stats is None:
        return "n/a"
    fmt = "{:+.2f}" if signed else "{:.2f}"
    return f"{fmt.format(stats['median'])} ({fmt.format(stats['min'])} to {fmt.format(stats['max'])})"


def _plain(stats: dict[str, float] | None, digits: int = 0) -> str:
    return "n/a" if stats is None else f"{stats['median']:.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    settings = result["settings"]
    names = {"nginx": "nginx", "gateway": "gateway", "litellm": "LiteLLM"}
    present = [p for p in PROXIES if any(p in row for row in result["summary"])]
    nginx_note = (
        f"nginx {result['nginx_version']} (1 worker, keep-alive upstream)"
        if "nginx" in present
        else "nginx: not installed on this machine, no nginx column (`apt-get install nginx` adds it)"
    )
    lines = [
        f"# Gateway benchmark ({result['date']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['os']}; load average at start "
        f"{', '.join(str(x) for x in m['load_average_at_start'])} (a shared machine). Started "
        f"{result['started_at']}. Upstream: local fake (uvloop + httptools); {nginx_note}; LiteLLM "
        f"{result['litellm_version']} (1 worker, defaults). {settings['repeat']} repeats of every cell, "
        f"{settings['duration_s']} s each after {settings['warmup_s']} s warm-up.",
        "",
        "Overhead = target minus direct call at the same percentile, ms, within one repeat; shown as the median "
        "over the repeats with the range in brackets. json: whole answer; stream_ttft: time to first event. "
        "CPU: the target's processes' CPU time per answered request, median over the repeats.",
        "",
    ]
    header = ["concurrency", "mode", "direct p50"]
    header += [f"{names[p]} p50 overhead" for p in present]
    header += [f"{names[p]} p99 overhead" for p in present if p != "nginx"]
    header += [f"{names[p]} req/s" for p in present] + [f"{names[p]} CPU ms/req" for p in present]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in result["summary"]:
        cells = [str(row["concurrency"]), row["mode"], _plain(row["direct_p50_ms"], 2)]
        cells += [_cell(row[p]["p50_overhead_ms"]) if p in row else "n/a" for p in present]
        cells += [_cell(row[p]["p99_overhead_ms"]) if p in row else "n/a" for p in present if p != "nginx"]
        cells += [_plain(row[p]["rps"]) if p in row else "n/a" for p in present]
        cells += [_plain(row[p]["cpu_ms_per_request"], 3) if p in row else "n/a" for p in present]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Goals of the gateway (medians of the table above):", ""]
    for goal in result["goals"]:
        if goal["value"] is None:
            verdict = "not measured"
        else:
            unit = " ms" if goal["unit"] == "ms" else ""
            shown = f"{goal['value']:.3f}{unit}"
            limit = f"{goal['at_most']:.2f}{unit}"
            verdict = f"{shown}, goal at most {limit}: {'met' if goal['met'] else 'NOT met'}"
        lines.append(f"- {goal['goal']}: {verdict}")
    if result["failover"]:
        lines += [
            "",
            "Failover (non-streaming load, primary SIGKILLed, restarted later):",
            "",
            "| target | concurrency | requests after kill | lost | kill -> first fallback answer (ms) | "
            "later answers that still tried the dead primary | primary back up -> first answer from it (ms) |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in result["failover"]:
            tried = f["tried_primary_after_first_fallback"]
            lines.append(
                f"| {f['target']} | {f['concurrency']} | {f['requests_after_kill']} | {f['lost']} | "
                f"{f['time_to_first_fallback_ms']} | {'n/a (no per-request signal)' if tried is None else tried} | "
                f"{f['time_to_return_ms']} |"
            )
    return "\n".join(lines) + "\n"
