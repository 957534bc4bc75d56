"""`gpt-oss-platform cost compare` for dev and prod: the table, the JSON and the chart; bad input."""

from __future__ import annotations

import json

import pytest

from cli.__main__ import main as cli_main
from cli.cost import parse_ratio, parse_tokens

JSON_KEYS = {
    "self_hosted_monthly_usd",
    "api_monthly_usd",
    "hybrid_monthly_usd",
    "break_even_tokens_per_month",
    "recommendation",
    "prices",
}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_compare_prints_the_table_the_json_and_writes_the_chart(env, tmp_path, capsys):
    chart = tmp_path / f"{env}.png"
    assert cli_main(["cost", "compare", "--env", env, "--tokens-per-month", "3B", "--chart", str(chart)]) == 0
    table = capsys.readouterr().out
    for fragment in (
        "self-hosted",
        "api",
        "hybrid",
        "Break-even:",
        "Recommendation:",
        "Prices and figures used:",
        f"Chart: {chart}",
    ):
        assert fragment in table, fragment
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["cost", "compare", "--env", env, "--tokens-per-month", "3B", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= JSON_KEYS
    assert {"as_of", "source"} <= set(data["prices"]["instance"]) and {"as_of", "source"} <= set(data["prices"]["managed_api"])
    assert data["prices"]["throughput"]["basis"] in ("published", "estimated")


def test_prod_at_environment_scope_adds_the_plan_around_the_gpus(capsys):
    assert cli_main(["cost", "compare", "--env", "prod", "--tokens-per-month", "3B", "--json"]) == 0
    gpu = json.loads(capsys.readouterr().out)
    assert cli_main(["cost", "compare", "--env", "prod", "--tokens-per-month", "3B", "--scope", "environment", "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    extra = whole["self_hosted_monthly_usd"] - gpu["self_hosted_monthly_usd"]
    plane = whole["prices"]["surroundings"]["control_plane"]
    assert extra > plane["monthly"] > 0 and plane["kubernetes_version"] == "1.35"
    assert whole["api_monthly_usd"] == gpu["api_monthly_usd"]


def test_the_worked_figure_through_the_command_line(capsys):
    args = [
        "cost",
        "compare",
        "--env",
        "dev",
        "--tokens-per-month",
        "300M",
        "--input-output-ratio",
        "3:1",
        "--api",
        "o4-mini",
        "--scope",
        "gpu",
        "--json",
    ]
    assert cli_main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["self_hosted_monthly_usd"] == pytest.approx(587.50)
    assert data["break_even_tokens_per_month"] == pytest.approx(305e6, rel=0.01)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tokens-per-month", "lots"], "not a token count: 'lots'"),
        (["--tokens-per-month", "1M", "--input-output-ratio", "3:0"], "not an input:output ratio"),
        (["--tokens-per-month", "1M", "--reasoning-share", "1.5"], "--reasoning-share must be at least 0 and below 1"),
        (["--tokens-per-month", "1M", "--chart", "out.svg"], "the chart is a PNG"),
        (["--tokens-per-month", "1M", "--api", "gpt-9"], "--api 'gpt-9': no price for it"),
        (["--tokens-per-month", "1M", "--prices", "/nonexistent.yaml"], "--prices /nonexistent.yaml: cannot read it"),
    ],
)
def test_bad_input_exits_2_with_one_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        code = cli_main(["cost", "compare", "--env", "dev", *argv])
        raise SystemExit(code)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_price_override_names_the_key(tmp_path, capsys):
    prices = tmp_path / "prices.yaml"
    prices.write_text("as_of: 2026-11-30\nsource: test\ninstances:\n  g9.huge: 1.0\n")
    assert cli_main(["cost", "compare", "--env", "dev", "--tokens-per-month", "1M", "--prices", str(prices)]) == 2
    assert "instances.g9.huge: not an instance type in the catalog" in capsys.readouterr().err
    prices.write_text("instances:\n  g6.xlarge: 0.5\n")
    assert cli_main(["cost", "compare", "--env", "dev", "--tokens-per-month", "1M", "--prices", str(prices)]) == 2
    assert "as_of: Field required" in capsys.readouterr().err


def test_an_unknown_environment_exits_2(capsys):
    assert cli_main(["cost", "compare", "--env", "qa", "--tokens-per-month", "1M"]) == 2
    assert "no stack file Pulumi.qa.yaml" in capsys.readouterr().err


def test_throughput_lists_every_figure_with_its_basis(capsys):
    assert cli_main(["cost", "throughput"]) == 0
    out = capsys.readouterr().out
    assert "| gpt-oss-120b | H100 | 1 | 2,901 | published |" in out and "| gpt-oss-20b | L4 | 1 | 700 | estimated |" in out


def test_token_and_ratio_spellings():
    assert parse_tokens("2.6B") == 2.6e9 and parse_tokens("300m") == 3e8 and parse_tokens("5e8") == 5e8
    assert parse_ratio("3:1") == 3 and parse_ratio("1.5") == 1.5
