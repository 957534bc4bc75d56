"""Memory of a checkpoint from its real `config.json`, and of LoRA adapter slots, so that a
fine-tune is sized as what it is, not as the stock model it started from.

gpt-oss (HF `GptOssConfig`): per layer, attention q/k/v/o (with biases) and a MoE of
`num_local_experts` experts, each a fused gate+up projection (hidden -> 2 x intermediate) and a
down projection (intermediate -> hidden); embedding and unembedding are separate
(`tie_word_embeddings: false`). OpenAI ships the expert weights in MXFP4: 4-bit values plus one
8-bit scale per block of 32, 4.25 bits a parameter; everything else is BF16. The counts below give
116.8B parameters and 65.2 GB for gpt-oss-120b and 20.9B / 13.8 GB for gpt-oss-20b, the model
card's 117B / 21B and the catalog's 65 / 14 GB. A BF16 fine-tune (what most recipes save unless
they re-quantise) stores the experts at 16 bits: 233.7 GB for 120b, 3.6x the MXFP4 checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.catalog import Catalog, load_catalog
from infra.sizing import ReplicaSizing, SizingError, size_replica

MXFP4_BITS_PER_PARAM = 4.25  # 4-bit E2M1 values + one E8M0 scale per 32 (OCP MX spec v1.0)
BF16_BYTES = 2
REQUIRED_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_local_experts",
    "intermediate_size",
    "vocab_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
)


class CheckpointError(ValueError):
    """A config.json that is not a gpt-oss config; the message names the key."""


@dataclass(frozen=True)
class CheckpointMemory:
    expert_params: int
    other_params: int
    quantisation: str  # MXFP4 or BF16, as the config.json says

    @property
    def params(self) -> int:
        return self.expert_params + self.other_params

    @property
    def weights_gb(self) -> float:
        expert_bits = MXFP4_BITS_PER_PARAM if self.quantisation == "MXFP4" else BF16_BYTES * 8
        return (self.expert_params * expert_bits / 8 + self.other_params * BF16_BYTES) / 1e9

    def arithmetic(self) -> str:
        """The sum behind `weights_gb`, for messages."""
        experts = (
            f"{self.expert_params / 1e9:.1f}B expert parameters x {MXFP4_BITS_PER_PARAM} bits (MXFP4)"
            if self.quantisation == "MXFP4"
            else f"{self.expert_params / 1e9:.1f}B expert parameters x 2 bytes (BF16)"
        )
        return (
            f"{experts} + {self.other_params / 1e9:.2f}B other parameters x 2 bytes (BF16) = {self.weights_gb:.1f} GB of weights"
        )


def quantisation_of(config: dict[str, Any]) -> str:
    quant = config.get("quantization_config")
    if isinstance(quant, dict) and str(quant.get("quant_method", "")).lower() == "mxfp4":
        return "MXFP4"
    return "BF16"


def memory_of_config(config: dict[str, Any], where: str = "config.json") -> CheckpointMemory:
    missing = [k for k in REQUIRED_KEYS if not isinstance(config.get(k), int) or config[k] <= 0]
    if config.get("model_type") != "gpt_oss":
        raise CheckpointError(f"{where}: model_type is {config.get('model_type')!r}, not 'gpt_oss': not a gpt-oss checkpoint")
    if missing:
        raise CheckpointError(f"{where}: missing or not a positive integer: {', '.join(missing)}")
    hidden, layers, experts = config["hidden_size"], config["num_hidden_layers"], config["num_local_experts"]
    inter, vocab, heads, kv_heads, head_dim = (
        config["intermediate_size"],
        config["vocab_size"],
        config["num_attention_heads"],
        config["num_key_value_heads"],
        config["head_dim"],
    )
    q, kv = heads * head_dim, kv_heads * head_dim
    attention = hidden * (q + 2 * kv) + (q + 2 * kv) + q * hidden + hidden + heads  # qkv+bias, o+bias, sinks
    router = hidden * experts + experts
    norms = 2 * hidden
    expert = hidden * 2 * inter + 2 * inter + inter * hidden + hidden  # gate_up+bias, down+bias
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return CheckpointMemory(
        expert_params=layers * experts * expert,
        other_params=layers * (attention + router + norms) + embeddings + hidden,
        quantisation=quantisation_of(config),
    )


def load_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read the checkpoint's config.json ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a JSON object")
    return data


def adapter_slot_gb(config_or_base: dict[str, Any], max_lora_rank: int) -> float:
    """GPU memory vLLM reserves for one LoRA slot of rank `max_lora_rank` (BF16 A and B matrices),
    counting attention (q/k/v/o) and, as an upper bound, every expert's projections: vLLM 0.26's
    GptOssForCausalLM is SupportsLoRA with 3-D MoE weights (`is_3d_moe_weight`), so its slots
    cover the experts too."""
    c = config_or_base
    hidden, inter, experts = c["hidden_size"], c["intermediate_size"], c["num_local_experts"]
    q, kv = c["num_attention_heads"] * c["head_dim"], c["num_key_value_heads"] * c["head_dim"]
    attention = (hidden + q) + 2 * (hidden + kv) + (q + hidden)
    moe = experts * ((hidden + 2 * inter) + (inter + hidden))
    return c["num_hidden_layers"] * (attention + moe) * max_lora_rank * BF16_BYTES / 1e9


def size_with_weights(
    model_name: str,
    weights_gb: float,
    instance_type: str,
    max_model_len: int,
    tensor_parallel: int | None,
    gpu_memory_utilization: float | None,
    replicas: int,
    explain: str,
    catalog: Catalog | None = None,
) -> ReplicaSizing:
    """`infra.sizing.size_replica` for a replica whose weights take `weights_gb` (a fine-tune's real
    size, plus LoRA slots), with `explain` (the arithmetic) at the head of a refusal."""
    catalog = catalog or load_catalog()
    spec = catalog.models[model_name].model_copy(update={"weights_gb": round(weights_gb, 2)})
    adjusted = catalog.model_copy(update={"models": {**catalog.models, model_name: spec}})
    try:
        return size_replica(model_name, instance_type, max_model_len, tensor_parallel, gpu_memory_utilization, adjusted, replicas)
    except SizingError as error:
        raise SizingError(f"{explain}. {error}") from None


# The stock checkpoints' config.json (huggingface.co/openai/gpt-oss-20b and -120b, files
# config.json at the catalog's pinned revisions): what a LoRA slot on a stock model is sized from.
_SHARED = {
    "model_type": "gpt_oss",
    "hidden_size": 2880,
    "intermediate_size": 2880,
    "vocab_size": 201088,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "tie_word_embeddings": False,
    "quantization_config": {"quant_method": "mxfp4"},
}
STOCK_CONFIGS: dict[str, dict[str, Any]] = {
    "gpt-oss-20b": {**_SHARED, "num_hidden_layers": 24, "num_local_experts": 32},
    "gpt-oss-120b": {**_SHARED, "num_hidden_layers": 36, "num_local_experts": 128},
}
