"""Throughput per replica: published figures, bandwidth estimates, measured overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.cost.errors import CostInputError
from infra.cost.throughput import load_measured, throughput_for
from infra.sizing import TENSOR_PARALLEL_DEGREES, SizingError, size_replica

ROOT = Path(__file__).resolve().parents[3]


def test_published_h100_figures_are_used_as_published_with_source_and_date():
    catalog = load_catalog()
    figure = throughput_for(catalog, "gpt-oss-120b", "H100", 1)
    assert (figure.basis, figure.output_tokens_per_s) == ("published", 2901.05)
    assert "GPUStack performance lab" in figure.source and figure.date.isoformat() == "2026-11-30"
    assert throughput_for(catalog, "gpt-oss-120b", "H100", 2).output_tokens_per_s == 7648.67


def test_an_unpublished_gpu_is_estimated_from_memory_bandwidth_and_says_how():
    figure = throughput_for(load_catalog(), "gpt-oss-20b", "L4", 1)
    assert figure.basis == "estimated"
    assert figure.output_tokens_per_s == pytest.approx(7817.03 * 300 / 3350)
    assert "300/3,350 GB/s memory bandwidth" in figure.method and "NVIDIA data sheets" in figure.source


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
