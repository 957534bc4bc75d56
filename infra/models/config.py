"""Served models beyond the environment's default `model`: more gpt-oss models (stock or
fine-tuned checkpoints) and LoRA adapters, each routed by its own public name (docs/models.md).

The `model` section stays the environment's first served model (its pool is `serving.node_pool`,
its fallback the `fallback` section). `served_models.lora` adds adapters to it;
`served_models.additional` lists further models, each with its weights, pool, sizing, replicas,
fallback (none unless named) and sovereignty. How they join the rest of the config (pools,
capacity, manifests, memory) is checked in `infra/config/served_rules.py`. It lives here, not in
infra/config/, so that infra/models/ never imports the infra.config package (whose loader imports
those rules).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.catalog import load_catalog

# As in infra/config/models.py, which imports this module (so this one cannot import it).
NAME_RE = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"

# Ray Serve LLM model ids; `:` is reserved for `base:adapter` (ray.llm lora_utils.get_base_model_id).
PUBLIC_NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,62}$"
ADAPTER_NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,62}$"
# Where adapters and fine-tunes live in the environment's weights bucket.
ADAPTERS_PREFIX = "adapters"
FINETUNES_PREFIX = "finetunes"
PREFIX_RE = r"^finetunes/[a-z0-9][a-z0-9._/-]{0,200}[a-z0-9]$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _managed_model(value: str | None) -> str | None:
    known = load_catalog().managed_api
    if value is not None and value not in known:
        raise ValueError(f"{value!r} has no price in the catalog; known: {', '.join(sorted(known))}")
    return value


class AdapterConfig(Strict):
    """One LoRA adapter, served as `<base>:<name>` from `s3://<bucket>/adapters/<base>/<name>/`."""

    name: str = Field(pattern=ADAPTER_NAME_RE, description="Adapter folder name; clients send `<base model>:<name>`.")
    fallback: str | None = Field(
        None,
        description="Managed model answering when the base model cannot (its name is in the answer); null: none, "
        "the default for an adapter, since a managed model is not the adapter.",
    )
    sovereign: bool = Field(False, description="Never leaves the company's GPUs: no fallback allowed.")

    @field_validator("fallback")
    @classmethod
    def _fallback_known(cls, value: str | None) -> str | None:
        return _managed_model(value)

    @model_validator(mode="after")
    def _sovereign_has_no_fallback(self) -> AdapterConfig:
        if self.sovereign and self.fallback is not None:
            raise ValueError(f"sovereign adapter {self.name!r} cannot name a fallback ({self.fallback}): remove one of them")
        return self


class LoraConfig(Strict):
    """Ray Serve LLM multi-LoRA on one model's replicas (`lora_config`; vLLM `enable_lora`)."""

    adapters: list[AdapterConfig] = Field(min_length=1, description="Adapters the gateway routes, each by `<base>:<name>`.")
    max_adapters_per_replica: int = Field(
        4, ge=1, le=32, description="Adapters one replica holds at once (Ray `max_num_adapters_per_replica`, vLLM `max_loras`)."
    )
    max_lora_rank: Literal[8, 16, 32, 64] = Field(
        16, description="Largest adapter rank accepted (vLLM `max_lora_rank`); every slot reserves memory for it."
    )

    def engine_kwargs(self) -> dict[str, bool | int]:
        """vLLM's LoRA switches (EngineArgs names); Ray's lora_config does not set them."""
        return {"enable_lora": True, "max_lora_rank": self.max_lora_rank, "max_loras": self.max_adapters_per_replica}

    @field_validator("adapters")
    @classmethod
    def _unique(cls, value: list[AdapterConfig]) -> list[AdapterConfig]:
        names = [a.name for a in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"duplicate adapter names: {', '.join(twice)}")
        return value


class WeightsConfig(Strict):
    """Where a served model's weights come from."""

    source: Literal["huggingface", "s3"] = Field(
        description="`huggingface`: the stock checkpoint at `revision`; `s3`: a fine-tune staged under `prefix` in "
        "the environment's weights bucket (`gpt-oss-platform models stage`)."
    )
    revision: str | None = Field(
        None, pattern=r"^[0-9a-f]{40}$", description="`huggingface` only: the pinned commit of the base model's repository."
    )
    prefix: str | None = Field(
        None,
        pattern=PREFIX_RE,
        description="`s3` only: key prefix in the weights bucket holding the checkpoint and its manifest.json, "
        "e.g. `finetunes/support-20b/2026-12-01`.",
    )
    manifest: str | None = Field(
        None,
        description="`s3` only: local copy of `<prefix>/manifest.json`, relative to the repository root; the plan "
        "validates it offline.",
    )
    config: str | None = Field(
        None,
        description="`s3` only: local copy of the checkpoint's config.json (its sha256 must match the manifest); the "
        "plan sizes the replica from it.",
    )

    @model_validator(mode="after")
    def _fields_of_source(self) -> WeightsConfig:
        if self.source == "huggingface":
            if self.revision is None:
                raise ValueError("source `huggingface` needs `revision` (a 40-hex commit of the base model)")
            extra = [k for k in ("prefix", "manifest", "config") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)}: only for source `s3`")
        else:
            missing = [k for k in ("prefix", "manifest", "config") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    f"source `s3` needs {', '.join(missing)}: the prefix the fine-tune was staged to and local copies of "
                    "its manifest.json and config.json (`gpt-oss-platform models stage` prints them)"
                )
            if self.revision is not None:
                raise ValueError("revision: only for source `huggingface` (a fine-tune names its base revision in its manifest)")
        return self


class ServedModelConfig(Strict):
    """One more model served by the environment's RayService, routed by `name`."""

    name: str = Field(pattern=PUBLIC_NAME_RE, description='Public model name clients send (`"model": ...`).')
    base: Literal["gpt-oss-20b", "gpt-oss-120b"] = Field(description="The gpt-oss model the weights are (or derive from).")
    weights: WeightsConfig = Field(description="Hugging Face revision or fine-tune prefix.")
    node_pool: str | None = Field(
        default=None, pattern=NAME_RE, description="Node pool hosting replicas; default: `serving.node_pool`."
    )
    min_replicas: int = Field(0, ge=0, le=64, description="Replicas kept warm; 0 allows scale to zero.")
    max_replicas: int = Field(1, ge=1, le=64, description="Upper bound for Ray Serve autoscaling.")
    target_ongoing_requests: int = Field(32, ge=1, le=1024, description="Ray Serve autoscaling target per replica.")
    max_ongoing_requests: int = Field(128, ge=1, le=4096, description="Requests one replica accepts before backpressure.")
    max_model_len: int = Field(32768, ge=1024, le=131072, description="Longest prompt+completion in tokens.")
    tensor_parallel: int | None = Field(default=None, description="Force a TP degree (1, 2, 4, 8); default: smallest that fits.")
    gpu_memory_utilization: float | None = Field(default=None, ge=0.5, le=0.98, description="vLLM memory fraction.")
    fallback: str | None = Field(
        None,
        description="Managed model answering when this one cannot (its own name is in the answer); null (the default): "
        "no fallback, the client gets 503.",
    )
    sovereign: bool = Field(False, description="Never leaves the company's GPUs: no fallback allowed.")
    lora: LoraConfig | None = Field(default=None, description="LoRA adapters on this model's replicas.")

    @field_validator("fallback")
    @classmethod
    def _fallback_known(cls, value: str | None) -> str | None:
        return _managed_model(value)

    @field_validator("tensor_parallel")
    @classmethod
    def _tp(cls, value: int | None) -> int | None:
        if value is not None and value not in (1, 2, 4, 8):
            raise ValueError("must be 1, 2, 4 or 8")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServedModelConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        if self.target_ongoing_requests > self.max_ongoing_requests:
            raise ValueError(
                f"target_ongoing_requests ({self.target_ongoing_requests}) is above max_ongoing_requests "
                f"({self.max_ongoing_requests})"
            )
        if self.sovereign and self.fallback is not None:
            raise ValueError(f"sovereign model {self.name!r} cannot name a fallback ({self.fallback}): remove one of them")
        return self


class ServedModelsConfig(Strict):
    """Adapters of the default model and the environment's further served models."""

    lora: LoraConfig | None = Field(default=None, description="LoRA adapters on the default model's (`model`) replicas.")
    additional: list[ServedModelConfig] = Field(
        default_factory=list, description="More models in the same RayService (one llm_config each)."
    )
