"""The chart values of `served_models` (docs/models.md): LoRA on the default model, one more Ray
Serve LLM llm_config per additional model, the fine-tunes the workers verify before Ray starts, and
the worker group's bounds and cache widened to hold every model.

Kept apart from `serve.py` (the default model) so that an environment without `served_models`
renders exactly as before. Each additional llm_config is written here in Ray's own key names; the
chart appends it verbatim and tests validate it with Ray's LLMConfig.
"""

from __future__ import annotations

from typing import Any

from infra.chart_values.model.ray import Ray
from infra.chart_values.model.serve import Checkpoint, Lora, Serve
from infra.chart_values.ray import cache_size_limit_gi
from infra.chart_values.serve import MAX_NUM_BATCHED_TOKENS_HOPPER
from infra.config.models import EnvironmentConfig
from infra.models.config import LoraConfig
from infra.models.served import ServedModel, resolve_served_models

# Where the verify_checkpoint init container puts a fine-tune (the worker's `cache` volume).
CHECKPOINTS_DIR = "/home/ray/.cache/checkpoints"


def _bucket(bucket: str | None, what: str) -> str:
    if not bucket:
        raise ValueError(f"{what} needs the environment's weights bucket: pass its name (`pulumi stack output weights_bucket`)")
    return bucket


def lora_engine_kwargs(lora: LoraConfig | None) -> dict[str, Any]:
    return lora.engine_kwargs() if lora is not None else {}


def llm_config(model: ServedModel, serve: Serve, bucket: str | None) -> dict[str, Any]:
    """One Ray Serve LLM llm_config, shaped like the chart's own for the default model."""
    sizing = model.sizing
    engine: dict[str, Any] = {
        "max_model_len": model.max_model_len,
        "tensor_parallel_size": sizing.tensor_parallel,
        "gpu_memory_utilization": sizing.gpu_memory_utilization,
        "tool_call_parser": "openai",
        "enable_auto_tool_choice": True,
        **lora_engine_kwargs(model.lora),
    }
    if sizing.gpu_generation == "hopper":
        engine["max_num_batched_tokens"] = MAX_NUM_BATCHED_TOKENS_HOPPER
    if sizing.attention_backend:
        engine["attention_backend"] = sizing.attention_backend
    if model.prefix is not None:
        # Verified by the init container before Ray starts; vLLM reads only that local copy.
        source = f"{CHECKPOINTS_DIR}/{model.name}"
    else:
        source = model.hf_repo
        engine["revision"] = engine["tokenizer_revision"] = model.revision
    config: dict[str, Any] = {
        "model_loading_config": {"model_id": model.name, "model_source": source},
        "accelerator_type": sizing.ray_accelerator,
        "engine_kwargs": engine,
        "deployment_config": {
            "autoscaling_config": {
                "min_replicas": model.min_replicas,
                "max_replicas": model.max_replicas,
                "target_ongoing_requests": model.target_ongoing_requests,
                "upscale_delay_s": serve.autoscaling.upscaleDelayS,
                "downscale_delay_s": serve.autoscaling.downscaleDelayS,
            },
            "max_ongoing_requests": model.max_ongoing_requests,
            "health_check_period_s": serve.healthCheckPeriodS,
            "health_check_timeout_s": serve.healthCheckTimeoutS,
        },
        "log_engine_metrics": True,
    }
    if model.lora is not None:
        config["lora_config"] = {
            "dynamic_lora_loading_path": model.lora_path(_bucket(bucket, f"{model.path}.lora")),
            "max_num_adapters_per_replica": model.lora.max_adapters_per_replica,
        }
    return config


def with_served_models(serve: Serve, env: EnvironmentConfig, bucket: str | None) -> Serve:
    if env.served_models.lora is None and not env.served_models.additional:
        return serve
    models = resolve_served_models(env)
    default, additional = models[0], models[1:]
    update: dict[str, Any] = {
        "additionalLlmConfigs": [llm_config(m, serve, bucket) for m in additional],
        "checkpoints": [
            Checkpoint(name=m.name, source=m.source_uri(_bucket(bucket, f"{m.path}.weights"))) for m in additional if m.prefix
        ],
    }
    if default.lora is not None:
        update["lora"] = Lora(
            enabled=True,
            dynamicLoraLoadingPath=default.lora_path(_bucket(bucket, "served_models.lora")),
            maxNumAdaptersPerReplica=default.lora.max_adapters_per_replica,
        )
    return serve.model_copy(update=update)


def with_served_workers(ray: Ray, env: EnvironmentConfig) -> Ray:
    """The one worker group holds every model's replicas (one pod each) and every model's weights."""
    if not env.served_models.additional:
        return ray
    models = resolve_served_models(env)
    group = ray.workerGroups[0]
    widened = group.model_copy(
        update={
            "replicas": sum(m.min_replicas for m in models),
            "minReplicas": sum(m.min_replicas for m in models),
            "maxReplicas": sum(m.max_replicas for m in models),
            "cacheSizeLimit": f"{cache_size_limit_gi(sum(m.memory.weights_gb for m in models))}Gi",
        }
    )
    return ray.model_copy(update={"workerGroups": [widened, *ray.workerGroups[1:]]})
