"""The benchmark page says only what its numbers say: overheads within each repeat, medians and
ranges over repeats, and goal verdicts computed from the same medians."""

from bench.gateway_report import goals, markdown, summarise


def cell(target, concurrency, mode, repeat, p50, p99=None, rps=1000.0, cpu=None):
    return {
        "target": target,
        "concurrency": concurrency,
        "mode": mode,
        "repeat": repeat,
        "requests": 100,
        "errors": 0,
        "rps": rps,
        "p50_ms": p50,
        "p90_ms": p50,
        "p99_ms": p99 if p99 is not None else p50,
        "cpu_ms_per_request": cpu,
    }


CELLS = [
    # repeat 0 and 1: the direct floor moves, overheads are taken within each repeat
    cell("direct", 1, "json", 0, 0.30),
    cell("gateway", 1, "json", 0, 0.70, cpu=0.20),
    cell("litellm", 1, "json", 0, 20.30, cpu=25.0),
    cell("direct", 1, "json", 1, 0.40),
    cell("gateway", 1, "json", 1, 1.00, cpu=0.30),
    cell("litellm", 1, "json", 1, 30.40, cpu=27.0),
    cell("direct", 16, "json", 0, 2.0),
    cell("gateway", 16, "json", 0, 6.0, cpu=0.22),
    cell("litellm", 16, "json", 0, 402.0, cpu=26.0),
]


def test_overheads_are_taken_within_each_repeat_and_summarised_as_median_and_range():
    (c1, c16) = summarise(CELLS)
    assert c1["gateway"]["p50_overhead_ms"] == {"median": 0.5, "min": 0.4, "max": 0.6}
    assert c1["gateway"]["cpu_ms_per_request"]["median"] == 0.25
    assert c16["litellm"]["p50_overhead_ms"]["median"] == 400.0


def test_goal_verdicts_follow_the_medians():
    verdicts = {g["goal"]: g for g in goals(summarise(CELLS))}
    assert verdicts["p50 overhead, concurrency 1, json"]["met"] is True  # 0.5 ms <= 1 ms
    assert verdicts["CPU per request, concurrency 1, json"]["met"] is True  # 0.25 <= 0.25
    ratio = verdicts["p50 overhead over LiteLLM's, concurrency 16, json"]
    assert ratio["value"] == 0.01 and ratio["met"] is True


def test_the_page_names_the_machine_and_says_when_nginx_is_missing():
    summary = summarise(CELLS)
    result = {
        "date": "2026-11-30",
        "started_at": "2026-11-30T12:00:00+00:00",
        "machine": {"cpu": "AMD EPYC", "cores": 2, "python": "3.11.7", "os": "Linux", "load_average_at_start": [1.0, 1.0, 1.0]},
        "litellm_version": "1.106.2",
        "nginx_version": "not installed",
        "settings": {"duration_s": 4.0, "warmup_s": 1.0, "repeat": 2, "concurrency": [1, 16]},
        "summary": summary,
        "goals": goals(summary),
        "failover": [],
    }
    page = markdown(result)
    assert "AMD EPYC, 2 cores" in page and "load average at start 1.0, 1.0, 1.0" in page
    assert "nginx: not installed" in page and "nginx p50 overhead" not in page
    assert "| 1 | json | 0.35 | +0.50 (+0.40 to +0.60) |" in page
    assert "- p50 overhead, concurrency 1, json: 0.500 ms, goal at most 1.00 ms: met" in page
