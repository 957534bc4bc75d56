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
