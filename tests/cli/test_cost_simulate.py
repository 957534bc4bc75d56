"""`gpt-oss-platform cost simulate`: the table, the JSON, the chart; bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest

from cli.__main__ import main as cli_main
from infra.paths import REPO_ROOT

WEEK = str(REPO_ROOT / "docs/traces/diurnal-week.csv")


@pytest.mark.slow
def test_simulate_prints_the_table_the_json_and_writes_the_chart(tmp_path, capsys):
    chart = tmp_path / "week.png"
    assert cli_main(["cost", "simulate", "--env", "prod", "--traffic", WEEK, "--chart", str(chart)]) == 0
    table = capsys.readouterr().out
    for fragment in ("always-on (as configured)", "API only", "governor", "hindsight optimum", f"Chart: {chart}"):
        assert fragment in table, fragment
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["cost", "simulate", "--env", "prod", "--traffic", WEEK, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sovereign_tokens_unserved"] == 0
    assert data["governor_usd"] <= 1.10 * data["hindsight_usd"]
    assert data["hours"] == 168 and data["model"]["instance_type"] == "p5.4xlarge"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--traffic", "/nonexistent.csv"], "--traffic /nonexistent.csv: cannot read it"),
        (["--traffic", WEEK, "--chart", "out.svg"], "the chart is a PNG"),
        (["--traffic", WEEK, "--reasoning-share", "1.5"], "--reasoning-share must be at least 0 and below 1"),
        (["--traffic", WEEK, "--cold-start-minutes", "-1"], "--cold-start-minutes must be 0 or more"),
        (["--traffic", WEEK, "--input-output-ratio", "3:0"], "not an input:output ratio"),
    ],
)
def test_bad_input_exits_2_with_one_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(cli_main(["cost", "simulate", "--env", "dev", *argv]))
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_sample_trace_writes_the_shipped_week(tmp_path, capsys):
    out = tmp_path / "week.csv"
    assert cli_main(["cost", "sample-trace", "--out", str(out)]) == 0
    assert out.read_text() == (REPO_ROOT / "docs/traces/diurnal-week.csv").read_text()
