"""The hang benchmark's verdicts come from its numbers (bench/hang.py), and its committed results
are the ones the docs quote."""

from __future__ import annotations

import json
from pathlib import Path

from bench.hang import GOAL_S, REQUESTS, summarise

ROOT = Path(__file__).resolve().parents[2]


def answer(seconds: float, at: float, served_by: str = "managed", status: int = 200) -> dict:
    return {"seconds_from_hang": seconds, "seconds_waited": seconds - at, "status": status, "served_by": served_by}


def rounds(**late: dict) -> list[dict]:
    requests = {name: answer(max(at, 17.5) if at < GOAL_S else at + 0.05, at) for name, at, _ in REQUESTS}
    requests.update(late)
    return [{"requests": requests, "recovery_s": 0.4}]


def test_every_request_in_time_on_the_fallback_meets_the_goal():
    summary = summarise(rounds())
    assert all(row["meets_goal"] for row in summary["requests"].values())
    assert summary["recovery"] == {"median_s": 0.4, "max_s": 0.4, "all_recovered": True}


def test_a_request_past_20_s_or_served_by_the_primary_or_a_late_one_that_waited_fails_the_goal():
    summary = summarise(
        rounds(**{"JSON at the hang": answer(20.5, 0.0), "stream at the hang": answer(15.0, 0.0, served_by="self-hosted")})
    )
    assert not summary["requests"]["JSON at the hang"]["meets_goal"]
    assert not summary["requests"]["stream at the hang"]["meets_goal"]
    late = summarise(rounds(**{"JSON at +25 s": answer(27.0, 25.0)}))
    assert not late["requests"]["JSON at +25 s"]["meets_goal"]


def test_the_committed_results_meet_the_goal_and_are_what_the_docs_quote():
    result = json.loads((ROOT / "bench" / "results" / "hang.json").read_text())
    assert result["env"] == "prod" and result["meets_goal"]
    table = (ROOT / "bench" / "results" / "hang.md").read_text().splitlines()[2]
    assert table in (ROOT / "docs" / "gateway.md").read_text()
