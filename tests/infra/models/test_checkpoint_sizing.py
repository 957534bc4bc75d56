"""Sizing from a checkpoint's real config.json: the stock models come out at the model card's
counts; a BF16 fine-tune of 120b is refused on one H100 with the arithmetic; adapter slots count."""

from __future__ import annotations

import copy

import pytest

from infra.catalog import load_catalog
from infra.config import ConfigError, read_stack_file, validate_environment
from infra.config.load import PROJECT
from infra.models.checkpoint import STOCK_CONFIGS, CheckpointError, adapter_slot_gb, memory_of_config
from infra.models.served import resolve_served_models
from tests.infra.models.conftest import write_checkpoint


def raw(stack: str) -> dict:
    return copy.deepcopy(read_stack_file(stack)[f"{PROJECT}:environment"])


def problems(raw_env: dict, stack: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw_env, stack=stack)
    return [p.render() for p in caught.value.problems]


def finetune(directory, name="support", base="gpt-oss-20b", **extra) -> dict:
    return {
        "name": name,
        "base": base,
        "weights": {
            "source": "s3",
            "prefix": f"finetunes/{name}/v1",
            "manifest": str(directory / "manifest.json"),
            "config": str(directory / "config.json"),
        },
        **extra,
    }


@pytest.mark.parametrize(("model", "params_b", "card_params_b"), [("gpt-oss-20b", 20.9, 21), ("gpt-oss-120b", 116.8, 117)])
def test_stock_configs_give_the_model_cards_parameters_and_the_catalogs_memory(model, params_b, card_params_b):
    memory = memory_of_config(STOCK_CONFIGS[model])
    assert memory.params / 1e9 == pytest.approx(params_b, abs=0.05)
    assert round(memory.params / 1e9) == card_params_b
    assert memory.weights_gb == pytest.approx(load_catalog().models[model].weights_gb, abs=0.3)


def test_bf16_120b_needs_about_four_times_the_memory_of_mxfp4():
    mxfp4 = memory_of_config(STOCK_CONFIGS["gpt-oss-120b"])
    bf16 = memory_of_config({k: v for k, v in STOCK_CONFIGS["gpt-oss-120b"].items() if k != "quantization_config"})
    assert bf16.quantisation == "BF16"
    assert 3.5 < bf16.weights_gb / mxfp4.weights_gb < 4
    assert bf16.weights_gb == pytest.approx(233.7, abs=0.1)


def test_a_bf16_120b_fine_tune_is_refused_on_one_h100_with_the_arithmetic(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "ft", "gpt-oss-120b", "BF16")
    env = raw("staging")
    env["served_models"] = {"additional": [finetune(checkpoint, "support-120b", "gpt-oss-120b")]}
    (problem,) = [p for p in problems(env, "staging") if p.startswith("served_models.additional[0]")]
    assert "114.7B expert parameters x 2 bytes (BF16) + 2.13B other parameters x 2 bytes (BF16) = 233.7 GB of weights" in problem
    assert "cannot be served on p5.4xlarge (1x H100)" in problem
    assert "at TP=1 each H100 needs 237.4 GB" in problem and "offers 76.0 GB (80 GB x 0.95)" in problem
    assert "p5.48xlarge (8x H100 per node, TP=4" in problem, "the refusal names where it fits"


def test_an_mxfp4_fine_tune_of_20b_fits_next_to_120b_and_is_sized_from_its_config(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "ft", "gpt-oss-20b", "MXFP4")
    env = raw("staging")
    env["node_pools"][0]["max_nodes"] = 4
    env["served_models"] = {"additional": [finetune(checkpoint)]}
    default, tuned = resolve_served_models(validate_environment(env, stack="staging"))
    assert (default.name, tuned.name) == ("gpt-oss-120b", "support")
    assert tuned.memory.weights_gb == pytest.approx(13.75, abs=0.01)
    assert tuned.manifest is not None and tuned.manifest.trained_by == "ml-platform fine-tuning pipeline"
    assert tuned.sizing.tensor_parallel == 1 and tuned.fallback is None, "no fallback unless mapped"


def test_adapter_slots_are_counted_in_the_replica_memory():
    env = raw("dev")
    base = resolve_served_models(validate_environment(env, stack="dev"))[0]
    slot = adapter_slot_gb(STOCK_CONFIGS["gpt-oss-20b"], 16)
    assert slot == pytest.approx(0.37, abs=0.01)
    env["served_models"]["lora"]["max_adapters_per_replica"] = 32
    env["served_models"]["lora"]["max_lora_rank"] = 64
    (problem,) = [p for p in problems(env, "dev") if p.startswith("served_models.lora")]
    assert "32 LoRA slots of rank 64" in problem and "cannot be served on g6.xlarge" in problem
    assert base.sizing.kv_cache_tokens_per_replica > 0
    # 120b's experts make its slots large: four rank-16 slots (8.6 GB) no longer fit one H100.
    env = raw("staging")
    env["served_models"] = {"lora": {"adapters": [{"name": "billing"}]}}
    (problem,) = [p for p in problems(env, "staging") if p.startswith("served_models.lora")]
    assert "plus 4 LoRA slots of rank 16 = 8.6 GB (73.8 GB in all)" in problem


def test_the_checkpoint_must_be_what_the_entry_says(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "ft", "gpt-oss-20b", "MXFP4")
    env = raw("staging")
    env["node_pools"][0]["max_nodes"] = 4
    env["served_models"] = {"additional": [finetune(checkpoint, base="gpt-oss-120b")]}
    assert any("served_models.additional[0].base: is gpt-oss-120b but the manifest says" in p for p in problems(env, "staging"))
    (checkpoint / "config.json").write_text((checkpoint / "config.json").read_text().replace("2880", "2881", 1))
    env["served_models"] = {"additional": [finetune(checkpoint)]}
    (problem,) = [p for p in problems(env, "staging") if p.startswith("served_models.additional[0].weights.config")]
    assert "but the manifest lists config.json as" in problem


def test_names_pools_and_capacity_are_checked_across_models(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "ft", "gpt-oss-20b", "MXFP4")
    env = raw("staging")
    env["served_models"] = {"additional": [finetune(checkpoint, "gpt-oss-120b"), finetune(checkpoint, max_replicas=3)]}
    found = problems(env, "staging")
    assert any(
        p.startswith("served_models.additional[0].name: public model name 'gpt-oss-120b' is already used by model.name")
        for p in found
    )
    assert any("node_pools[0].max_nodes: the served models' max_replicas add up to" in p for p in found)
    env["served_models"] = {"additional": [finetune(checkpoint, node_pool="gpu-other")]}
    assert any(p.startswith("served_models.additional[0].node_pool: no node pool 'gpu-other'") for p in problems(env, "staging"))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "base": "gpt-oss-20b", "weights": {"source": "huggingface"}}, "needs `revision`"),
        ({"name": "x", "base": "gpt-oss-20b", "weights": {"source": "s3", "prefix": "finetunes/x/v1"}}, "needs manifest, config"),
        (
            {"name": "X:y", "base": "gpt-oss-20b", "weights": {"source": "huggingface", "revision": "a" * 40}},
            "should match pattern",
        ),
        (
            {"name": "x", "base": "gpt-oss-20b", "weights": {"source": "huggingface", "revision": "a" * 40}, "fallback": "gpt-9"},
            "'gpt-9' has no price in the catalog",
        ),
        (
            {
                "name": "x",
                "base": "gpt-oss-20b",
                "weights": {"source": "huggingface", "revision": "a" * 40},
                "fallback": "o4-mini",
                "sovereign": True,
            },
            "cannot name a fallback",
        ),
        (
            {"name": "x", "base": "gpt-oss-20b", "weights": {"source": "huggingface", "revision": "a" * 40}, "min_replicas": 3},
            "min_replicas (3) is above max_replicas (1)",
        ),
        (
            {
                "name": "x",
                "base": "gpt-oss-20b",
                "weights": {"source": "huggingface", "revision": "a" * 40},
                "tensor_parallel": 3,
            },
            "must be 1, 2, 4 or 8",
        ),
    ],
)
def test_a_served_model_entry_refuses_bad_input_by_key(entry, message):
    env = raw("staging")
    env["served_models"] = {"additional": [entry]}
    assert any(p.startswith("served_models.additional[0]") and message in p for p in problems(env, "staging")), problems(
        env, "staging"
    )


def test_adapters_refuse_duplicates_and_a_sovereign_fallback():
    env = raw("dev")
    env["served_models"] = {"lora": {"adapters": [{"name": "a"}, {"name": "a"}]}}
    assert any("duplicate adapter names: a" in p for p in problems(env, "dev"))
    env["served_models"] = {"lora": {"adapters": [{"name": "a", "sovereign": True, "fallback": "o4-mini"}]}}
    assert any("sovereign adapter 'a' cannot name a fallback" in p for p in problems(env, "dev"))


def test_a_config_json_that_is_not_gpt_oss_is_refused():
    with pytest.raises(CheckpointError, match="model_type is 'llama'"):
        memory_of_config({"model_type": "llama"})
    with pytest.raises(CheckpointError, match="missing or not a positive integer: num_local_experts"):
        memory_of_config({k: v for k, v in STOCK_CONFIGS["gpt-oss-20b"].items() if k != "num_local_experts"})
