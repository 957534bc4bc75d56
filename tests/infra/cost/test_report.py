"""`cost report`: the gateway's counters, recorded from a real gateway run, as cost per team."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from cli.__main__ import main as cli_main
from contracts import UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from infra.cost.errors import CostInputError
from infra.cost.metrics import (
    COUNTERS,
    GROUP_LABELS,
    SNAPSHOT_FORMAT,
    Sample,
    Snapshot,
    load_snapshot,
    snapshot_from_exposition,
    window_seconds,
)
from infra.cost.report import build_report, render_report


def test_the_counter_names_and_labels_are_the_gateways():
    from serving.gateway.metrics import USAGE_LABELS, GatewayMetrics

    metrics = GatewayMetrics("test")
    metrics.child(metrics.requests, "m", "self-hosted", "t", "c", "200").inc()
    for counter in (metrics.prompt_tokens, metrics.completion_tokens, metrics.cost):
        metrics.child(counter, "m", "self-hosted", "t", "c").inc()
    text = metrics.exposition().decode()
    for name in COUNTERS:
        assert f"\n{name}{{" in text, name
    assert tuple(USAGE_LABELS) == GROUP_LABELS


@pytest.mark.slow
def test_a_snapshot_recorded_from_a_real_gateway_reports_what_was_served(start_gateway, primary, tmp_path, capsys):
    """Start the gateway in front of the fake upstreams, send traffic that stays self-hosted and
    traffic that falls back, scrape /metrics, and report from the recorded snapshot."""
    started = time.monotonic()
    gateway = start_gateway()
    for _ in range(4):
        assert gateway.chat("app").headers["x-gateway-served-by"] == UPSTREAM_SELF_HOSTED
    primary.set("status", status=500)
    for _ in range(2):
        assert gateway.chat("app").headers["x-gateway-served-by"] == UPSTREAM_MANAGED
    assert gateway.chat("sovereign").status_code == 503, "sovereign traffic never falls back"
    text = gateway.metrics_http.get("/metrics").text
    snapshot = snapshot_from_exposition(text, time.monotonic() - started, source="gateway /metrics (tests.serving fakes)")
    path = tmp_path / "snapshot.json"
    path.write_text(snapshot.to_json())

    report = build_report(load_snapshot(path))
    (env,) = report["environments"]
    assert env["environment"] == "test"
    served = env["served_by"]
    assert served[UPSTREAM_SELF_HOSTED]["requests"] == 4 and served[UPSTREAM_MANAGED]["requests"] == 2
    assert served["none"]["requests"] == 1
    assert env["fallback_share"] == pytest.approx(2 / 6, abs=1e-4)
    # The fake answers 5 completion tokens per request; the managed side is billed at list price.
    assert served[UPSTREAM_MANAGED]["completion_tokens"] == 10
    managed = served[UPSTREAM_MANAGED]
    assert managed["cost_usd"] == pytest.approx((managed["prompt_tokens"] * 1.10 + managed["completion_tokens"] * 4.40) / 1e6)
    assert served[UPSTREAM_SELF_HOSTED]["cost_usd"] > 0, "self-hosted tokens are never free"
    assert set(env["teams"]) == {"search", "legal"}
    assert env["forecast"]["budget_monthly_usd"] is None, "no stack file named `test`"

    assert cli_main(["cost", "report", "--snapshot", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Environment test: 7 requests" in out and "fallback share 33.3%" in out and "search" in out
    for key in ("sk-gw-", "sk-managed"):
        assert key not in path.read_text() and key not in out, "no key reaches the snapshot or the report"


def _snapshot(env: str, cost_self: float, cost_managed: float, days: float = 10.0) -> Snapshot:
    samples = []
    for served, cost, requests in ((UPSTREAM_SELF_HOSTED, cost_self, 900), (UPSTREAM_MANAGED, cost_managed, 100)):
        labels = {"environment": env, "model": "gpt-oss-120b", "served_by": served, "team": "search", "client": "app"}
        samples += [
            Sample(metric="gateway_requests_total", labels=labels | {"code": "200"}, value=requests),
            Sample(metric="gateway_prompt_tokens_total", labels=labels, value=requests * 3000),
            Sample(metric="gateway_completion_tokens_total", labels=labels, value=requests * 1000),
            Sample(metric="gateway_cost_usd_total", labels=labels, value=cost),
        ]
    return Snapshot(
        format=SNAPSHOT_FORMAT,
        captured_at=datetime(2026, 11, 30, tzinfo=UTC),
        window_seconds=days * 86400,
        source="test",
        samples=samples,
    )


def test_the_forecast_scales_the_window_to_a_month_and_compares_it_with_the_budget():
    # prod's budget is $60,000/month; 10 days at $25,000 is $73,000 over 730 h.
    report = build_report(_snapshot("prod", 20_000, 5_000))
    forecast = report["environments"][0]["forecast"]
    assert forecast["monthly_usd"] == pytest.approx(25_000 * 730 / 240, abs=0.01)
    assert forecast["budget_monthly_usd"] == 60_000 and forecast["over_budget"] is True
    env = report["environments"][0]
    assert env["served_by"]["self-hosted"]["usd_per_mtok"] == pytest.approx(20_000 / (900 * 4000) * 1e6, rel=1e-4)
    assert "OVER BUDGET" in render_report(report)


def test_an_over_budget_forecast_exits_1_and_a_bad_snapshot_exits_2(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(_snapshot("prod", 20_000, 5_000).to_json())
    assert cli_main(["cost", "report", "--snapshot", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["environments"][0]["forecast"]["over_budget"] is True
    path.write_text(_snapshot("prod", 1_000, 100).to_json())
    assert cli_main(["cost", "report", "--snapshot", str(path)]) == 0
    capsys.readouterr()
    path.write_text(json.dumps({"format": "other", "samples": []}))
    assert cli_main(["cost", "report", "--snapshot", str(path)]) == 2
    assert "--snapshot" in capsys.readouterr().err
    assert cli_main(["cost", "report", "--snapshot", str(tmp_path / "missing.json")]) == 2


def test_an_environment_missing_from_the_data_is_named(tmp_path):
    with pytest.raises(CostInputError, match="--env 'staging': no gateway metrics for it in the data; environments there: prod"):
        build_report(_snapshot("prod", 1, 1), environment="staging")


def test_an_unreachable_prometheus_is_one_clear_error(capsys):
    # Port 9 (discard) on loopback: nothing listens there in the test environment.
    assert cli_main(["cost", "report", "--prometheus", "http://127.0.0.1:9", "--window", "1d"]) == 2
    assert "cannot reach the query API" in capsys.readouterr().err


def test_windows_parse_like_promql_ranges():
    assert window_seconds("30d") == 30 * 86400 and window_seconds("12h") == 43200
    with pytest.raises(CostInputError, match="--window '30 days'"):
        window_seconds("30 days")
