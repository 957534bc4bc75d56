"""vLLM 0.26.0 vllm/engine/arg_utils.py: only the dataclass field names, which Ray's
`VLLMEngineConfig.from_llm_config` uses to sort `engine_kwargs` into engine and frontend
arguments and to refuse unknown ones ("Unknown engine argument: ..."). A key missing here fails
the Ray tests: check it is an EngineArgs field in vLLM 0.26.0 before adding it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AsyncEngineArgs:
    model: str = ""
    revision: str | None = None
    tokenizer_revision: str | None = None
    max_model_len: int | None = None
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    attention_backend: str | None = None
    load_format: str = "auto"
    disable_log_stats: bool = False
    enable_prefix_caching: bool | None = None
    distributed_executor_backend: str | None = None
    # LoRA fields (vLLM's EngineArgs "# LoRA fields": enable_lora, max_loras, max_lora_rank;
    # checked 2026-12-07 in vllm-project/vllm vllm/engine/arg_utils.py), rendered since the
    # chart serves adapters (engine_kwargs enable_lora / max_loras / max_lora_rank).
    enable_lora: bool = False
    max_loras: int = 1
    max_lora_rank: int = 16
