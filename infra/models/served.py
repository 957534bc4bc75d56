"""Every model an environment serves, resolved: its public name, weights, pool, sizing (from the
checkpoint's real config.json, plus LoRA slots), replicas, fallback and sovereignty.

The default model (`model`, `serving`, `fallback`) comes first, then `served_models.additional`
in order. Chart values (one llm_config each), gateway routes and the plan's cost per model all read
this one list. `resolve_served_models` raises `ServedModelError` naming the config key; the config
rules (infra/config/served_rules.py) turn those into problems before anything is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra.capacity import capacity_for
from infra.catalog import load_catalog
from infra.models.checkpoint import (
    STOCK_CONFIGS,
    CheckpointError,
    CheckpointMemory,
    adapter_slot_gb,
    load_config,
    memory_of_config,
    size_with_weights,
)
from infra.models.config import ADAPTERS_PREFIX, LoraConfig
from infra.models.manifest import CONFIG_NAME, MANIFEST_NAME, CheckpointManifest, ManifestError, load_manifest, sha256_file
from infra.paths import REPO_ROOT
from infra.sizing import ReplicaSizing, SizingError

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig, NodePoolConfig
    from infra.models.config import ServedModelConfig


class ServedModelError(ValueError):
    """A served model that cannot be resolved; `path` is the config key to fix."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class ServedModel:
    name: str  # public name = Ray Serve LLM model_id
    base: str
    path: str  # config key of this model, for messages
    default: bool
    hf_repo: str
    revision: str | None  # Hugging Face commit; None for a staged fine-tune
    prefix: str | None  # key prefix of a staged fine-tune in the weights bucket
    manifest: CheckpointManifest | None
    memory: CheckpointMemory
    pool: NodePoolConfig
    sizing: ReplicaSizing
    min_replicas: int
    max_replicas: int
    target_ongoing_requests: int
    max_ongoing_requests: int
    max_model_len: int
    fallback: str | None
    sovereign: bool
    lora: LoraConfig | None

    @property
    def adapter_models(self) -> list[str]:
        """Model ids of the adapters, as Ray Serve LLM expects them: `<base model id>:<adapter>`."""
        return [f"{self.name}:{a.name}" for a in self.lora.adapters] if self.lora else []

    def lora_path(self, bucket: str) -> str:
        """`dynamic_lora_loading_path`: one folder per adapter below it."""
        return f"s3://{bucket}/{ADAPTERS_PREFIX}/{self.name}"

    def source_uri(self, bucket: str | None) -> str:
        if self.prefix is not None:
            if not bucket:
                raise ServedModelError(
                    f"{self.path}.weights", "a staged fine-tune needs the weights bucket (`pulumi stack output weights_bucket`)"
                )
            return f"s3://{bucket}/{self.prefix}"
        return self.hf_repo

    def usd_per_hour(self, replicas: int) -> float:
        return self.sizing.usd_per_hour(replicas)


def _pool(env: EnvironmentConfig, name: str | None, path: str) -> NodePoolConfig:
    wanted = name or env.serving.node_pool
    for pool in env.node_pools:
        if pool.name == wanted or (wanted is None and len(env.node_pools) == 1):
            return pool
    raise ServedModelError(path, f"no node pool {wanted!r}; pools: {', '.join(p.name for p in env.node_pools)}")


def lora_gb(base: str, lora: LoraConfig | None, config: dict | None = None) -> float:
    if lora is None:
        return 0.0
    return lora.max_adapters_per_replica * adapter_slot_gb(config or STOCK_CONFIGS[base], lora.max_lora_rank)


def _explain(name: str, memory: CheckpointMemory, lora: LoraConfig | None, slots_gb: float) -> str:
    text = f"{name}: {memory.arithmetic()}"
    if lora is not None:
        text += (
            f", plus {lora.max_adapters_per_replica} LoRA slots of rank {lora.max_lora_rank} = {slots_gb:.1f} GB "
            f"({slots_gb + memory.weights_gb:.1f} GB in all)"
        )
    return text


def _checkpoint(entry: ServedModelConfig, path: str, root: Path) -> tuple[CheckpointManifest, dict]:
    weights = entry.weights
    assert weights.manifest is not None and weights.config is not None  # WeightsConfig proved it
    try:
        manifest = load_manifest(root / weights.manifest)
    except ManifestError as error:
        raise ServedModelError(f"{path}.weights.manifest", str(error)) from None
    if manifest.base_model != entry.base:
        raise ServedModelError(
            f"{path}.base",
            f"is {entry.base} but the manifest says the checkpoint was trained from {manifest.base_model}: set base to "
            f"{manifest.base_model}",
        )
    config_path = root / weights.config
    try:
        config = load_config(config_path)
    except CheckpointError as error:
        raise ServedModelError(f"{path}.weights.config", str(error)) from None
    actual, expected = sha256_file(config_path), manifest.files[CONFIG_NAME]
    if actual != expected:
        raise ServedModelError(
            f"{path}.weights.config",
            f"{weights.config} has sha256 {actual} but the manifest lists {CONFIG_NAME} as {expected}: copy the "
            f"checkpoint's own config.json from s3://<bucket>/{weights.prefix}/{CONFIG_NAME}",
        )
    return manifest, config


def resolve_additional(env: EnvironmentConfig, index: int, entry: ServedModelConfig, root: Path = REPO_ROOT) -> ServedModel:
    path = f"served_models.additional[{index}]"
    catalog = load_catalog()
    pool = _pool(env, entry.node_pool, f"{path}.node_pool")
    manifest = None
    if entry.weights.source == "s3":
        manifest, config = _checkpoint(entry, path, root)
        try:
            memory = memory_of_config(config, entry.weights.config or CONFIG_NAME)
        except CheckpointError as error:
            raise ServedModelError(f"{path}.weights.config", str(error)) from None
        if memory.quantisation != manifest.quantisation:
            raise ServedModelError(
                f"{path}.weights.manifest",
                f"the manifest says {manifest.quantisation} but config.json is {memory.quantisation} "
                "(quantization_config.quant_method): fix the manifest, it must describe the files",
            )
    else:
        config = STOCK_CONFIGS[entry.base]
        memory = memory_of_config(config)
    slots = lora_gb(entry.base, entry.lora, config)
    try:
        sizing = size_with_weights(
            entry.base,
            memory.weights_gb + slots,
            pool.instance_type,
            entry.max_model_len,
            entry.tensor_parallel,
            entry.gpu_memory_utilization,
            max(1, entry.min_replicas),
            _explain(entry.name, memory, entry.lora, slots),
        )
    except SizingError as error:
        raise ServedModelError(path, str(error)) from None
    return ServedModel(
        name=entry.name,
        base=entry.base,
        path=path,
        default=False,
        hf_repo=catalog.models[entry.base].hf_repo,
        revision=entry.weights.revision,
        prefix=entry.weights.prefix,
        manifest=manifest,
        memory=memory,
        pool=pool,
        sizing=sizing,
        min_replicas=entry.min_replicas,
        max_replicas=entry.max_replicas,
        target_ongoing_requests=entry.target_ongoing_requests,
        max_ongoing_requests=entry.max_ongoing_requests,
        max_model_len=entry.max_model_len,
        fallback=entry.fallback,
        sovereign=entry.sovereign,
        lora=entry.lora,
    )


def resolve_default(env: EnvironmentConfig) -> ServedModel:
    catalog = load_catalog()
    pool = env.serving_pool()
    lora = env.served_models.lora
    memory = memory_of_config(STOCK_CONFIGS[env.model.name])
    slots = lora_gb(env.model.name, lora)
    try:
        sizing = size_with_weights(
            env.model.name,
            # The catalog's figure (what infra/sizing.py sizes the default model with) plus the slots.
            catalog.models[env.model.name].weights_gb + slots,
            pool.instance_type,
            env.serving.max_model_len,
            env.serving.tensor_parallel,
            env.serving.gpu_memory_utilization,
            max(1, env.serving.min_replicas),
            _explain(env.model.name, memory, lora, slots),
        )
    except SizingError as error:
        raise ServedModelError("served_models.lora" if lora else "model", str(error)) from None
    return ServedModel(
        name=env.model.name,
        base=env.model.name,
        path="model",
        default=True,
        hf_repo=env.model.hf_repo,
        revision=env.model.revision,
        prefix=None,
        manifest=None,
        memory=memory,
        pool=pool,
        sizing=sizing,
        min_replicas=env.serving.min_replicas,
        max_replicas=env.serving.max_replicas,
        target_ongoing_requests=env.serving.target_ongoing_requests,
        # Derived from the sizing unless the environment overrides it (infra/capacity.py).
        max_ongoing_requests=capacity_for(env).max_ongoing_requests,
        max_model_len=env.serving.max_model_len,
        fallback=env.fallback.model if env.fallback.allowed else None,
        sovereign=False,
        lora=lora,
    )


def resolve_served_models(env: EnvironmentConfig, root: Path = REPO_ROOT) -> list[ServedModel]:
    """The default model, then every additional one; ServedModelError at the first that cannot be resolved."""
    return [resolve_default(env)] + [
        resolve_additional(env, i, entry, root) for i, entry in enumerate(env.served_models.additional)
    ]


__all__ = ["MANIFEST_NAME", "ServedModel", "ServedModelError", "resolve_served_models"]
