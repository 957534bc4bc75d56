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
    "scopes",
    "verdict_flip",
}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_compare_prints_both_scopes_the_json_and_writes_the_chart(env, tmp_path, capsys):
    chart = tmp_path / f"{env}.png"
    assert cli_main(["cost", "compare", "--env", env, "--tokens-per-month", "3B", "--chart", str(chart)]) == 0
    table = capsys.readouterr().out
    for fragment in (
        "GPU cost alone",
        "the whole environment",
        "self-hosted",
        "api",
        "hybrid",
        "break-even",
        "Recommendation (the whole environment):",
        "Prices and figures used:",
        f"Chart: {chart}",
    ):
        assert fragment in table, fragment
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["cost", "compare", "--env", env, "--tokens-per-month", "3B", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= JSON_KEYS
    assert set(data["scopes"]) == {"gpu", "environment"} and data["scope"] == "environment"
    whole = data["scopes"]["environment"]
    assert (data["self_hosted_monthly_usd"], data["break_even_tokens_per_month"]) == (
        whole["self_hosted_monthly_usd"],
        whole["break_even_tokens_per_month"],
    ), "the headline is the environment scope by default"
    assert {"as_of", "source"} <= set(data["prices"]["instance"]) and {"as_of", "source"} <= set(data["prices"]["managed_api"])
    assert data["prices"]["throughput"]["basis"] in ("published", "estimated")


def test_prod_prices_the_plan_around_the_gpus_in_the_environment_scope_only(capsys):
    assert cli_main(["cost", "compare", "--env", "prod", "--tokens-per-month", "3B", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    gpu, whole = data["scopes"]["gpu"], data["scopes"]["environment"]
    extra = whole["self_hosted_monthly_usd"] - gpu["self_hosted_monthly_usd"]
    plane = data["prices"]["surroundings"]["control_plane"]
    assert extra > plane["monthly"] > 0 and plane["kubernetes_version"] == "1.35"
    assert whole["api_monthly_usd"] == gpu["api_monthly_usd"], "the API option needs no environment"
    assert whole["break_even_tokens_per_month"] > gpu["break_even_tokens_per_month"]
    assert cli_main(["cost", "compare", "--env", "prod", "--tokens-per-month", "3B", "--scope", "gpu", "--json"]) == 0
    headline_gpu = json.loads(capsys.readouterr().out)
    assert headline_gpu["scope"] == "gpu" and headline_gpu["self_hosted_monthly_usd"] == gpu["self_hosted_monthly_usd"]
    assert headline_gpu["scopes"] == data["scopes"], "--scope picks the headline; both scopes are always priced"


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


def test_the_table_says_in_words_when_the_environment_flips_the_verdict(capsys):
    # dev at 400M tokens/month: $587.50 of GPU beats $770.00 of o4-mini, but the cluster around
    # the GPU ($277.82 with 1.35 in standard support) makes it $865.32: the API wins.
    assert cli_main(["cost", "compare", "--env", "dev", "--tokens-per-month", "400M", "--api", "o4-mini"]) == 0
    out = capsys.readouterr().out
    assert (
        "Self-hosting wins on GPU cost alone ($587.50 against $770.00 on the API) but loses once the environment is "
        "counted ($865.32; break-even 450M tokens/month, against 305M on GPU cost alone)."
    ) in out
    assert "Recommendation (the whole environment): api" in out
    assert cli_main(["cost", "compare", "--env", "dev", "--tokens-per-month", "3B", "--api", "o4-mini"]) == 0
    assert "loses once the environment is counted" not in capsys.readouterr().out, "no sentence when both agree"


def test_what_if_another_instance_type_is_sized_and_suggests_tp2_on_a_full_p5_48xlarge(capsys):
    argv = ["cost", "compare", "--env", "prod", "--tokens-per-month", "20B", "--instance-type", "p5.48xlarge", "--json"]
    assert cli_main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    serving = data["serving"]
    assert (serving["instance_type"], serving["tensor_parallel"], serving["replicas_per_node"]) == ("p5.48xlarge", 1, 8)
    assert data["what_if"]["configured"] == {"model": "gpt-oss-120b", "instance_type": "p5.4xlarge"}
    (suggestion,) = [n for n in data["notes"] if n.startswith("suggestion:")]
    assert "4 replicas of TP=2" in suggestion and "8 of TP=1" in suggestion and "+32% per GPU" in suggestion
    assert cli_main([*argv, "--tensor-parallel", "2"]) == 0
    tp2 = json.loads(capsys.readouterr().out)
    assert (tp2["serving"]["tensor_parallel"], tp2["serving"]["replicas_per_node"]) == (2, 4)
    assert not [n for n in tp2["notes"] if n.startswith("suggestion:")]
    assert tp2["break_even_tokens_per_month"] == data["break_even_tokens_per_month"], "the floor's node decides it"


def test_what_if_another_model_on_the_environment(capsys):
    argv = ["cost", "compare", "--env", "dev", "--tokens-per-month", "3B", "--model", "gpt-oss-120b"]
    assert cli_main([*argv, "--instance-type", "p5.4xlarge", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["serving"]["model"], data["serving"]["gpu"], data["serving"]["tensor_parallel"]) == ("gpt-oss-120b", "H100", 1)
    assert data["prices"]["instance"]["usd_per_node_hour"] == 6.88
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: --model gpt-oss-120b (on dev's g6.xlarge; name another with --instance-type): "
        "gpt-oss-120b cannot be served on g6.xlarge"
    )
    assert "Instance types that fit gpt-oss-120b (cheapest first): p5.4xlarge, g6e.12xlarge, p4d.24xlarge" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tokens-per-month", "lots"], "not a token count: 'lots'"),
        (["--tokens-per-month", "1M", "--input-output-ratio", "3:0"], "not an input:output ratio"),
        (["--tokens-per-month", "1M", "--reasoning-share", "1.5"], "--reasoning-share must be at least 0 and below 1"),
        (["--tokens-per-month", "1M", "--chart", "out.svg"], "the chart is a PNG"),
        (["--tokens-per-month", "1M", "--api", "gpt-9"], "--api 'gpt-9': no price for it"),
        (["--tokens-per-month", "1M", "--prices", "/nonexistent.yaml"], "--prices /nonexistent.yaml: cannot read it"),
        (["--tokens-per-month", "1M", "--model", "gpt-5"], "--model 'gpt-5': not a model in the catalog; known: gpt-oss-120b"),
        (["--tokens-per-month", "1M", "--instance-type", "m7i.large"], "--instance-type 'm7i.large': not a GPU instance type"),
        (["--tokens-per-month", "1M", "--tensor-parallel", "3"], "--tensor-parallel 3: not one of 1, 2, 4, 8"),
        (
            ["--tokens-per-month", "1M", "--tensor-parallel", "2"],
            "--tensor-parallel 2: gpt-oss-20b cannot be served on g6.xlarge",
        ),
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
    assert "| gpt-oss-120b | H100 | 1 | 2,901 | 2,097 | published |" in out
    assert "| gpt-oss-20b | L4 | 1 | 355 | 250 | estimated |" in out
    assert "at 3:1 (estimated)" in out.splitlines()[0]


def test_token_and_ratio_spellings():
    assert parse_tokens("2.6B") == 2.6e9 and parse_tokens("300m") == 3e8 and parse_tokens("5e8") == 5e8
    assert parse_ratio("3:1") == 3 and parse_ratio("1.5") == 1.5
