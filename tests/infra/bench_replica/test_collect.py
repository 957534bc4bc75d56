"""`bench replica --collect`: vLLM 0.26.0 result files -> the measured-throughput file, and what
`cost compare`, `cost simulate` and the governor do with it."""

from __future__ import annotations

import json

import pytest
import yaml

from cli.__main__ import main as cli_main
from infra.bench_replica.collect import FIELDS_READ, CollectError, collect, pick, read_results
from infra.bench_replica.flags import vllm_bench_reference
from infra.bench_replica.job import RESULT_MARKER
from infra.bench_replica.plan import META_CONCURRENCY, META_ENVIRONMENT, META_IMAGE, META_SHAPE
from infra.config import environment_from_stack_file
from infra.cost.errors import CostInputError
from infra.cost.throughput import load_measured
from tests.infra.bench_replica import vllm_results

IMAGE = "rayproject/ray-llm:2.58.0-py312-cu130"


def vllm_result(
    shape: str,
    concurrency: int,
    *,
    output_throughput: float,
    p99_ttft_ms: float,
    failed: int = 0,
    input_per_request: int = 1536,
    output_per_request: int = 512,
    env: str = "prod",
    model: str = "gpt-oss-120b",
) -> dict:
    """A result of the `bench replica` Job: vLLM's fields plus the --metadata it passes."""
    metadata = {META_SHAPE: shape, META_CONCURRENCY: str(concurrency), META_ENVIRONMENT: env, META_IMAGE: IMAGE}
    return vllm_results.vllm_result(
        concurrency,
        output_throughput=output_throughput,
        p99_ttft_ms=p99_ttft_ms,
        metadata=metadata,
        failed=failed,
        input_per_request=input_per_request,
        output_per_request=output_per_request,
        model=model,
    )


# prod: first-byte timeout 15 s. 3:1 levels: 64 is the highest under it; 112 is over it.
SWEEP_3TO1 = [
    vllm_result("3to1", 1, output_throughput=180.0, p99_ttft_ms=250.0),
    vllm_result("3to1", 16, output_throughput=1900.0, p99_ttft_ms=1800.0),
    vllm_result("3to1", 64, output_throughput=1500.0, p99_ttft_ms=9000.0),
    vllm_result("3to1", 112, output_throughput=1700.0, p99_ttft_ms=21000.0),
]
# ShareGPT: 32 had a failed request, so 16 is the figure even though 32 stayed under the timeout.
SWEEP_SHAREGPT = [
    vllm_result("sharegpt", 16, output_throughput=2500.0, p99_ttft_ms=900.0, input_per_request=240, output_per_request=220),
    vllm_result(
        "sharegpt", 32, output_throughput=2900.0, p99_ttft_ms=2000.0, failed=1, input_per_request=240, output_per_request=220
    ),
]


def write_dir(tmp_path, results: list[dict]):
    directory = tmp_path / "results"
    directory.mkdir()
    for result in results:
        (directory / f"{result[META_SHAPE]}-c{result['max_concurrency']:04d}.json").write_text(json.dumps(result))
    return directory


def write_log(tmp_path, results: list[dict]):
    lines = ["Namespace(backend='openai-chat', ...)", "ShareGPT: /data/sharegpt.json"]
    for result in results:
        name = f"{result[META_SHAPE]}-c{result['max_concurrency']:04d}.json"
        lines += ["============ Serving Benchmark Result ============", f"{RESULT_MARKER} {name}", json.dumps(result), ""]
    lines += ["=== gpt-oss-bench-failed long-c0112.json exit 1", "=== gpt-oss-bench-done"]
    log = tmp_path / "bench.log"
    log.write_text("\n".join(lines))
    return log


def test_the_collector_reads_only_result_fields_checked_against_vllm_0_26():
    assert set(FIELDS_READ) <= vllm_bench_reference().result_fields


def test_per_shape_the_highest_concurrency_under_the_first_byte_timeout_without_failures_is_the_figure(tmp_path):
    env = environment_from_stack_file("prod")
    levels = read_results(write_dir(tmp_path, SWEEP_3TO1 + SWEEP_SHAREGPT))
    measured = collect(env, levels, 15.0, __import__("datetime").date(2026, 12, 7))
    by_shape = {m.shape: m for m in measured.measured}
    assert (by_shape["3to1"].concurrency, by_shape["3to1"].output_tokens_per_s) == (64, 1500.0)
    assert by_shape["3to1"].input_output_ratio == 3.0 and by_shape["3to1"].p99_ttft_ms == 9000.0
    assert (by_shape["sharegpt"].concurrency, by_shape["sharegpt"].output_tokens_per_s) == (16, 2500.0)
    assert by_shape["sharegpt"].input_output_ratio == pytest.approx(240 / 220, abs=1e-3)
    assert all(m.first_byte_timeout_s == 15.0 and m.image == IMAGE for m in measured.measured)
    assert all((m.model, m.gpu, m.tensor_parallel) == ("gpt-oss-120b", "H100", 1) for m in measured.measured)


def test_a_shape_where_no_level_qualifies_is_a_clear_error():
    levels = read_results_from([vllm_result("long", 8, output_throughput=900.0, p99_ttft_ms=40000.0)])
    levels += read_results_from([vllm_result("long", 1, output_throughput=150.0, p99_ttft_ms=2000.0, failed=3)])
    with pytest.raises(CollectError, match=r"shape long: no concurrency level kept p99 .* \(15,000 ms\)"):
        pick(levels, 15.0)


def read_results_from(results: list[dict]):
    from infra.bench_replica.collect import parse_result

    return [parse_result(r, f"fixture {i}") for i, r in enumerate(results)]


def test_results_from_another_environment_are_refused(tmp_path):
    env = environment_from_stack_file("prod")
    levels = read_results_from([vllm_result("3to1", 1, output_throughput=100.0, p99_ttft_ms=100.0, env="staging")])
    with pytest.raises(CollectError, match="measured on environment staging, not prod: pass --env staging"):
        collect(env, levels, 15.0, __import__("datetime").date(2026, 12, 7))


def test_a_result_without_p99_ttft_names_the_file_and_the_flag():
    result = vllm_result("3to1", 1, output_throughput=100.0, p99_ttft_ms=100.0)
    del result["p99_ttft_ms"]
    with pytest.raises(CollectError, match=r"fixture 0: no `p99_ttft_ms`.*--metric-percentiles"):
        read_results_from([result])


def test_collect_from_the_job_log_round_trips_into_cost_compare_and_changes_the_answer(tmp_path, capsys):
    log = write_log(tmp_path, SWEEP_3TO1 + SWEEP_SHAREGPT)
    out = tmp_path / "measured.yaml"
    assert cli_main(["bench", "replica", "--collect", str(log), "--env", "prod", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3to1: 1,500 output tok/s at concurrency 64" in printed
    entries = load_measured(out)
    assert {e.shape for e in entries} == {"3to1", "sharegpt"}
    base = ["cost", "compare", "--env", "prod", "--tokens-per-month", "60B", "--json"]
    assert cli_main(base) == 0
    catalog_answer = json.loads(capsys.readouterr().out)
    assert cli_main([*base, "--throughput", str(out)]) == 0
    measured_answer = json.loads(capsys.readouterr().out)
    figure = measured_answer["prices"]["throughput"]
    assert figure["basis"] == "measured" and figure["output_tokens_per_s"] == 1500.0
    assert "3to1 at 3.00:1" in figure["method"] and "concurrency 64" in figure["method"]
    # Half the catalog's rate: twice the replicas for the same tokens.
    assert measured_answer["self_hosted_monthly_usd"] > catalog_answer["self_hosted_monthly_usd"]
    # The ShareGPT figure is the one for a ~1.1:1 profile.
    assert cli_main([*base, "--throughput", str(out), "--input-output-ratio", "1.1"]) == 0
    assert json.loads(capsys.readouterr().out)["prices"]["throughput"]["output_tokens_per_s"] == 2500.0


def test_a_figure_measured_at_another_ratio_is_refused_by_compare_and_simulate(tmp_path, capsys):
    log = write_log(tmp_path, SWEEP_3TO1)
    out = tmp_path / "measured.yaml"
    assert cli_main(["bench", "replica", "--collect", str(log), "--env", "prod", "--out", str(out)]) == 0
    capsys.readouterr()
    code = cli_main(
        ["cost", "compare", "--env", "prod", "--tokens-per-month", "2B", "--throughput", str(out), "--input-output-ratio", "1:1"]
    )
    error = capsys.readouterr().err
    assert code == 2
    for fragment in (
        f"--throughput {out}: measured.0 (3to1) measured at 3.00:1",
        "1.00:1",
        "Measure this shape",
        "--input-output-ratio",
    ):
        assert fragment in error, fragment
    trace = tmp_path / "trace.csv"
    assert cli_main(["cost", "sample-trace", "--out", str(trace)]) == 0
    capsys.readouterr()
    code = cli_main(
        ["cost", "simulate", "--env", "prod", "--traffic", str(trace), "--throughput", str(out), "--input-output-ratio", "8"]
    )
    assert code == 2 and "measured at 3.00:1" in capsys.readouterr().err
    assert cli_main(["cost", "simulate", "--env", "prod", "--traffic", str(trace), "--throughput", str(out), "--json"]) == 0


def test_a_hand_written_figure_without_a_ratio_still_loads_and_applies_to_any_profile(tmp_path):
    from infra.catalog import load_catalog
    from infra.cost.throughput import throughput_for

    path = tmp_path / "old.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "measured": [
                    {
                        "model": "gpt-oss-120b",
                        "gpu": "H100",
                        "tensor_parallel": 1,
                        "output_tokens_per_s": 2000,
                        "source": "our run",
                        "measured_on": "2026-12-01",
                        "machine": "p5.4xlarge",
                    }
                ]
            }
        )
    )
    figure = throughput_for(load_catalog(), "gpt-oss-120b", "H100", 1, load_measured(path), 5.0)
    assert figure.output_tokens_per_s == 2000 and "ratio not recorded" in figure.method


def test_the_governor_costs_with_the_measured_figure_the_environment_names(tmp_path, monkeypatch):
    import infra.chart_values.governor as governor

    log = write_log(tmp_path, SWEEP_3TO1)
    out = tmp_path / "bench" / "prod.yaml"
    assert cli_main(["bench", "replica", "--collect", str(log), "--env", "prod", "--out", str(out)]) == 0
    monkeypatch.setattr(governor, "REPO_ROOT", tmp_path)
    env = environment_from_stack_file("prod")
    image = "example/governor@sha256:" + "0" * 64
    catalog_settings = governor.governor_values(env, image).settings
    named = env.model_copy(update={"governor": env.governor.model_copy(update={"measured_throughput": "bench/prod.yaml"})})
    measured_settings = governor.governor_values(named, image).settings
    assert measured_settings["cost_model"]["throughput_basis"] == "measured"
    assert catalog_settings["cost_model"]["throughput_basis"] != "measured"
    assert measured_settings["cost_model"]["shape"] != catalog_settings["cost_model"]["shape"]


def test_the_governor_refuses_a_figure_measured_at_another_ratio(tmp_path, monkeypatch):
    import infra.chart_values.governor as governor

    log = write_log(tmp_path, SWEEP_SHAREGPT[:1])
    out = tmp_path / "sharegpt.yaml"
    assert cli_main(["bench", "replica", "--collect", str(log), "--env", "prod", "--out", str(out)]) == 0
    monkeypatch.setattr(governor, "REPO_ROOT", tmp_path)
    env = environment_from_stack_file("prod")
    named = env.model_copy(update={"governor": env.governor.model_copy(update={"measured_throughput": "sharegpt.yaml"})})
    with pytest.raises(
        CostInputError, match=r"governor.measured_throughput .*sharegpt.yaml: measured.0 \(sharegpt\) measured at 1.09:1.*3.00:1"
    ):
        governor.governor_values(named, "example/governor@sha256:" + "0" * 64)


@pytest.mark.parametrize("path", ["../outside.yaml", "/etc/measured.yaml", "bench/measured.json"])
def test_governor_measured_throughput_must_be_a_yaml_file_inside_the_repository(path):
    from pydantic import ValidationError

    from infra.config.models import GovernorConfig

    with pytest.raises(ValidationError, match="measured_throughput"):
        GovernorConfig.model_validate({"measured_throughput": path})


def test_a_governor_measured_throughput_file_that_is_not_there_names_the_key_and_the_path(tmp_path, monkeypatch):
    import infra.chart_values.governor as governor

    monkeypatch.setattr(governor, "REPO_ROOT", tmp_path)
    env = environment_from_stack_file("prod")
    named = env.model_copy(update={"governor": env.governor.model_copy(update={"measured_throughput": "bench/missing.yaml"})})
    # Read even while the governor image is not built yet (no image): a wrong path fails every plan.
    with pytest.raises(CostInputError, match=r"governor.measured_throughput .*bench/missing.yaml: cannot read it"):
        governor.governor_values(named, None)
