"""The model and how Ray Serve LLM serves it: `model`, `serve` (vLLM engine arguments and Serve
autoscaling) and `tiktoken` values. Keys, defaults and descriptions (and the Serve tuning that is
not per environment: health checks, scaling delays, probes) live in infra/chart_values/model/serve.py."""

from __future__ import annotations

from typing import Any, cast

from infra.capacity import capacity_for
from infra.chart_values.model.base import AcceleratorType
from infra.chart_values.model.serve import Engine, Model, Serve, ServeAutoscaling, Tiktoken
from infra.config.models import EnvironmentConfig
from infra.sizing import ReplicaSizing
from infra.versions import TIKTOKEN_PUBLIC_BASE

MAX_NUM_BATCHED_TOKENS_HOPPER = 8192  # vLLM gpt-oss recipe for Hopper
# vLLM engine arguments the chart has a typed key for; anything else goes to `extraArgs`.
TYPED_ENGINE_ARGS = {
    "max_model_len",
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "tool_call_parser",
    "enable_auto_tool_choice",
    "attention_backend",
    "max_num_batched_tokens",
    "max_num_seqs",
    "revision",
    "tokenizer_revision",
}


def staged_bucket(env: EnvironmentConfig, weights_bucket: str | None) -> str | None:
    """The bucket the replicas read from: None for `huggingface`; required for `s3`."""
    if env.model.source != "s3":
        return None
    if not weights_bucket:
        raise ValueError(
            "model.source is 's3' but no weights bucket was given: stage the weights into the environment's "
            "bucket (docs/serving.md) and pass its name (`pulumi stack output weights_bucket`)"
        )
    return weights_bucket


def weights_uri(env: EnvironmentConfig, bucket: str) -> str:
    """Where staged weights live: one prefix per repository and pinned revision."""
    return f"s3://{bucket}/models/{env.model.hf_repo}/{env.model.revision}"


def tiktoken_uri(bucket: str) -> str:
    return f"s3://{bucket}/tiktoken"


def engine_kwargs(env: EnvironmentConfig, sizing: ReplicaSizing) -> dict[str, Any]:
    """vLLM engine arguments (names as vLLM's EngineArgs/FrontendArgs spell them)."""
    kwargs: dict[str, Any] = {
        "max_model_len": sizing.max_model_len,
        # Derived from the KV cache with every other capacity limit (infra/sizing.py serving_capacity).
        "max_num_seqs": capacity_for(env).max_num_seqs,
        "tensor_parallel_size": sizing.tensor_parallel,
        "gpu_memory_utilization": sizing.gpu_memory_utilization,
        # gpt-oss tool calls come out in harmony; vLLM >= 0.10.2 parses them with `openai`.
        "tool_call_parser": "openai",
        "enable_auto_tool_choice": True,
    }
    if sizing.gpu_generation == "hopper":
        kwargs["max_num_batched_tokens"] = MAX_NUM_BATCHED_TOKENS_HOPPER
    if sizing.attention_backend:
        # vLLM 0.26 ignores the old VLLM_ATTENTION_BACKEND variable; the engine argument
        # is the only switch (vllm-project/vllm#50292).
        kwargs["attention_backend"] = sizing.attention_backend
    if env.served_models.lora is not None:
        kwargs.update(env.served_models.lora.engine_kwargs())  # adapters (docs/models.md)
    if env.model.source == "huggingface":
        # Weights and tokenizer from the pinned commit, not from `main`. Staged S3 weights are
        # pinned by their prefix instead (weights_uri).
        kwargs["revision"] = env.model.revision
        kwargs["tokenizer_revision"] = env.model.revision
    return kwargs


def engine_values(kwargs: dict[str, Any]) -> Engine:
    """The chart's typed `serve.engine` block for `engine_kwargs` (the chart maps it back).

    Typed keys rather than a free-form map: Helm deep-merges maps with the chart's defaults,
    so a key absent here would silently survive from values.yaml (e.g. TRITON_ATTN on Hopper).
    """
    if kwargs.get("tokenizer_revision") != kwargs.get("revision"):
        raise ValueError("engine revision and tokenizer_revision must be the same commit")
    return Engine(
        maxModelLen=kwargs["max_model_len"],
        tensorParallelSize=kwargs["tensor_parallel_size"],
        gpuMemoryUtilization=kwargs["gpu_memory_utilization"],
        toolCallParser=kwargs["tool_call_parser"],
        enableAutoToolChoice=kwargs["enable_auto_tool_choice"],
        attentionBackend=kwargs.get("attention_backend", ""),
        maxNumBatchedTokens=kwargs.get("max_num_batched_tokens", 0),
        maxNumSeqs=kwargs.get("max_num_seqs", 0),
        revision=kwargs.get("revision", ""),
        extraArgs={k: v for k, v in kwargs.items() if k not in TYPED_ENGINE_ARGS},
    )


def model_values(env: EnvironmentConfig, weights_bucket: str | None) -> Model:
    bucket = staged_bucket(env, weights_bucket)
    return Model(
        id=env.model.name,
        source=weights_uri(env, bucket) if bucket else env.model.hf_repo,
        offline=bucket is not None,
    )


def serve_values(env: EnvironmentConfig, sizing: ReplicaSizing) -> Serve:
    serving = env.serving
    capacity = capacity_for(env)
    return Serve(
        # The catalog's name as a str; the model checks it is one Ray knows.
        acceleratorType=cast(AcceleratorType, sizing.ray_accelerator),
        engine=engine_values(engine_kwargs(env, sizing)),
        autoscaling=ServeAutoscaling(
            minReplicas=serving.min_replicas,
            maxReplicas=serving.max_replicas,
            targetOngoingRequests=serving.target_ongoing_requests,
        ),
        maxOngoingRequests=capacity.max_ongoing_requests,
        maxQueuedRequests=capacity.max_queued_requests,
    )


def tiktoken_values(env: EnvironmentConfig, weights_bucket: str | None) -> Tiktoken:
    bucket = staged_bucket(env, weights_bucket)
    return Tiktoken(source=tiktoken_uri(bucket) if bucket else TIKTOKEN_PUBLIC_BASE)
