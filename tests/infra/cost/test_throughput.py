"""Throughput per replica: published figures, bandwidth estimates, measured overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.cost.errors import CostInputError
from infra.cost.throughput import MeasuredThroughput, load_measured, throughput_for
from infra.sizing import TENSOR_PARALLEL_DEGREES, SizingError, size_replica

ROOT = Path(__file__).resolve().parents[3]


def test_published_h100_figures_are_used_as_published_with_source_and_date():
    catalog = load_catalog()
    figure = throughput_for(catalog, "gpt-oss-120b", "H100", 1)
    assert (figure.basis, figure.output_tokens_per_s) == ("published", 2901.05)
    assert "GPUStack performance lab" in figure.source and figure.date.isoformat() == "2026-11-30"
    assert throughput_for(catalog, "gpt-oss-120b", "H100", 2).output_tokens_per_s == 7648.67


def test_an_unpublished_gpu_is_estimated_from_memory_bandwidth_and_kv_room_and_says_how():
    figure = throughput_for(load_catalog(), "gpt-oss-20b", "L4", 1)
    assert figure.basis == "estimated"
    # One L4 holds 24 GB x 0.9 - 14 GB weights - 2.5 GB runtime = 5.1 GB of KV cache, 24,576 bytes
    # a token (12 full-attention layers x 8 KV heads x 64 x 2 x BF16): 207,519 tokens, against the
    # 409,291 tokens (215,312 prompt + 193,979 generated) the published H100 burst held at once.
    kv_factor = (5.1e9 / 24576) / (215312 + 193979)
    assert figure.output_tokens_per_s == pytest.approx(7817.03 * 300 / 3350 * kv_factor, rel=1e-6)
    assert 350 < figure.output_tokens_per_s < 360, "the KV cap halves the bandwidth estimate (700 tok/s)"
    assert "300/3,350 GB/s memory bandwidth" in figure.method and "NVIDIA data sheets" in figure.source
    assert "x 0.51 KV room (208k tokens against the 409k the published run held)" in figure.method


def test_each_published_figure_states_its_metric():
    for figure in load_catalog().throughput.published:
        assert "1,000 ShareGPT prompts" in figure.metric and "1.1:1" in figure.metric, figure
        assert "TTFT" in figure.metric
    method = throughput_for(load_catalog(), "gpt-oss-20b", "H100", 1).method
    assert "mean TTFT 4.9 s" in method
    assert "mean TTFT 24.8 s" in throughput_for(load_catalog(), "gpt-oss-120b", "H100", 1).method


def test_a_wider_tensor_parallel_size_scales_from_the_largest_published_one_below_it():
    figure = throughput_for(load_catalog(), "gpt-oss-120b", "H100", 8)
    assert figure.output_tokens_per_s == pytest.approx(11327.22 * 2)
    assert "TP=4, published" in figure.method


def test_every_model_gpu_and_tp_the_sizing_accepts_has_a_figure():
    catalog = load_catalog()
    for model in catalog.models:
        for instance_type in catalog.instances:
            for tp in TENSOR_PARALLEL_DEGREES:
                try:
                    sizing = size_replica(model, instance_type, 32768, tp)
                except SizingError:
                    continue
                assert throughput_for(catalog, model, sizing.gpu, tp).output_tokens_per_s > 0, (model, instance_type, tp)


def test_a_measured_file_overrides_and_a_bad_one_is_refused_naming_the_entry(tmp_path):
    good = tmp_path / "measured.yaml"
    good.write_text(
        "measured:\n  - {model: gpt-oss-20b, gpu: l4, tensor_parallel: 1, output_tokens_per_s: 640,\n"
        "     source: 'bench/results/l4.json', measured_on: 2026-11-29, machine: 'g6.xlarge, vLLM 0.11.0'}\n"
    )
    figure = throughput_for(load_catalog(), "gpt-oss-20b", "L4", 1, load_measured(good))
    assert (figure.basis, figure.output_tokens_per_s) == ("measured", 640)
    assert "g6.xlarge, vLLM 0.11.0" in figure.method
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "measured:\n  - {model: gpt-oss-20b, gpu: L4, tensor_parallel: 1, output_tokens_per_s: -5, source: x, measured_on: 2026-11-29, machine: y}\n"
    )
    with pytest.raises(
        CostInputError, match=r"--throughput .*bad.yaml: measured.0.output_tokens_per_s: Input should be greater than 0"
    ):
        load_measured(bad)


def _kv_room_tokens(catalog, model, gpu, tp, utilization=None):
    from infra.sizing import replica_kv_cache_gb

    return replica_kv_cache_gb(catalog, model, gpu, tp, utilization) * 1e9 / catalog.models[model].kv_bytes_per_token


def _accepted_combinations(catalog):
    for model in catalog.models:
        for instance_type, instance in catalog.instances.items():
            for tp in TENSOR_PARALLEL_DEGREES:
                if instance.gpu is None or tp > instance.gpu_count:
                    continue
                try:
                    size_replica(model, instance_type, 32768, tp)
                except SizingError:
                    continue
                yield model, instance.gpu, tp


def test_no_estimate_with_less_kv_room_than_a_published_replica_beats_that_replica():
    catalog = load_catalog()
    published = catalog.throughput.published
    utilization = catalog.throughput.estimate.reference_gpu_memory_utilization
    checked = 0
    for model, gpu, tp in set(_accepted_combinations(catalog)):
        figure = throughput_for(catalog, model, gpu, tp)
        if figure.basis != "estimated":
            continue
        room = _kv_room_tokens(catalog, model, gpu, tp)
        for p in (p for p in published if p.model == model):
            if room < _kv_room_tokens(catalog, model, p.gpu, p.tensor_parallel, utilization):
                checked += 1
                assert figure.output_tokens_per_s <= p.output_tokens_per_s, (model, gpu, tp, p.tensor_parallel)
    assert checked >= 10, "the comparison ran over the catalog"


def test_the_a100_40g_tp2_anomaly_is_gone():
    catalog = load_catalog()
    a100 = throughput_for(catalog, "gpt-oss-120b", "A100-40G", 2)
    h100 = throughput_for(catalog, "gpt-oss-120b", "H100", 1)
    # 2 x (40 x 0.9 - 65/2 - 2.5) = 2.0 GB of KV room: 54,253 tokens against the 411,517 the TP=2 burst held.
    assert a100.output_tokens_per_s == pytest.approx(7648.67 * 1555 / 3350 * (2.0e9 / 36864) / (215312 + 196205), rel=1e-6)
    assert a100.output_tokens_per_s < h100.output_tokens_per_s
    # With enough KV room the cap does not apply (A100-40G at TP=4 holds 69 GB).
    assert throughput_for(catalog, "gpt-oss-120b", "A100-40G", 4).output_tokens_per_s == pytest.approx(11327.22 * 1555 / 3350)


def test_the_prompt_cost_is_fitted_from_the_cited_runs():
    from infra.cost.throughput import prompt_cost

    catalog = load_catalog()
    small, large = prompt_cost(catalog, "gpt-oss-20b"), prompt_cost(catalog, "gpt-oss-120b")
    assert small.ratio == pytest.approx(0.294, abs=0.001) and large.ratio == pytest.approx(0.260, abs=0.001)
    assert small.worst_fit < 0.01 and large.worst_fit < 0.02, "the linear model explains each run's duration"
    with pytest.raises(CostInputError, match="no prompt-cost runs for gpt-9"):
        prompt_cost(catalog, "gpt-9")


def test_a_figure_converts_to_another_prompt_mix_as_an_estimate():
    figure = throughput_for(load_catalog(), "gpt-oss-20b", "H100", 1)
    r, c = 215312 / 193979, figure.prompt_cost
    assert figure.input_output_ratio == pytest.approx(r)
    assert figure.at_ratio(3.0) == pytest.approx(7817.03 * (1 + r * c) / (1 + 3 * c))
    assert round(figure.at_ratio(3.0)) == 5510
    assert figure.at_ratio(r) == pytest.approx(7817.03), "at its own mix a figure is unchanged"
    measured = throughput_for(
        load_catalog(),
        "gpt-oss-20b",
        "L4",
        1,
        [
            MeasuredThroughput(
                model="gpt-oss-20b",
                gpu="L4",
                tensor_parallel=1,
                output_tokens_per_s=640,
                source="x",
                measured_on="2026-11-29",
                machine="g6.xlarge",
            )
        ],
    )
    assert measured.at_ratio(3.0) == 640, "a measured figure is yours, at your own mix"


def test_every_published_and_estimated_figure_names_its_metric_and_source():
    catalog = load_catalog()
    for model, gpu, tp in set(_accepted_combinations(catalog)):
        figure = throughput_for(catalog, model, gpu, tp)
        assert "burst of 1,000 ShareGPT prompts" in figure.method, (model, gpu, tp)
        assert "GPUStack performance lab" in figure.source and figure.date.isoformat() == "2026-11-30"
        if figure.basis == "estimated":
            assert "published) x" in figure.method and "GB/s memory bandwidth" in figure.method
            assert "NVIDIA data sheets" in figure.source


def _measured_at(tmp_path, *ratios: float):
    import yaml

    entries = [
        {
            "model": "gpt-oss-120b",
            "gpu": "H100",
            "tensor_parallel": 1,
            "output_tokens_per_s": 1000.0 * (i + 1),
            "source": "bench replica",
            "measured_on": "2026-12-07",
            "machine": "p5.4xlarge",
            "shape": f"s{i}",
            "input_output_ratio": ratio,
        }
        for i, ratio in enumerate(ratios)
    ]
    path = tmp_path / "measured.yaml"
    path.write_text(yaml.safe_dump({"measured": entries}))
    return load_measured(path)


@pytest.mark.parametrize(("profile", "used"), [(3.0, 1000.0), (2.4, 1000.0), (3.75, 1000.0), (1.0, 2000.0), (16.0, 3000.0)])
def test_the_measured_figure_closest_to_the_profile_s_ratio_within_25_percent_is_used(tmp_path, profile, used):
    measured = _measured_at(tmp_path, 3.0, 1.1, 15.0)
    assert throughput_for(load_catalog(), "gpt-oss-120b", "H100", 1, measured, profile).output_tokens_per_s == used


@pytest.mark.parametrize("profile", [2.3, 3.8, 6.0])
def test_a_profile_more_than_25_percent_from_every_measured_ratio_is_refused_naming_file_entry_ratios_and_fix(tmp_path, profile):
    measured = _measured_at(tmp_path, 3.0)
    with pytest.raises(CostInputError) as error:
        throughput_for(load_catalog(), "gpt-oss-120b", "H100", 1, measured, profile)
    message = str(error.value)
    for fragment in (
        "measured.yaml: measured.0 (s0) measured at 3.00:1",
        f"{profile:.2f}:1",
        "bench replica",
        "--input-output-ratio",
    ):
        assert fragment in message, fragment


def test_a_measured_figure_for_another_replica_leaves_the_catalog_s_in_place(tmp_path):
    measured = _measured_at(tmp_path, 3.0)
    assert throughput_for(load_catalog(), "gpt-oss-20b", "H100", 1, measured, 1.0).basis == "published"


@pytest.mark.parametrize(("ratio", "cell"), [(1.0, "not measured at 3:1"), (3.1, "640"), (None, "640")])
def test_the_table_shows_a_measured_figure_at_3_to_1_only_where_it_was_measured_there(tmp_path, ratio, cell):
    """`cost throughput --throughput FILE`: a figure measured at 1:1 must not fill the 3:1 column,
    as `cost compare` refuses it for a 3:1 profile; one without a recorded ratio is used for any."""
    from infra.cost.throughput import throughput_table

    recorded = "" if ratio is None else f", input_output_ratio: {ratio}"
    measured = tmp_path / "measured.yaml"
    measured.write_text(
        "measured:\n  - {model: gpt-oss-20b, gpu: L4, tensor_parallel: 1, output_tokens_per_s: 640, source: x,\n"
        f"     measured_on: 2026-11-29, machine: g6.xlarge{recorded}}}\n"
    )
    row = next(line for line in throughput_table(load_catalog(), load_measured(measured)).splitlines() if "| measured |" in line)
    assert row.startswith("| gpt-oss-20b | L4 | 1 | 640 | ") and row.split(" | ")[4] == cell, row
