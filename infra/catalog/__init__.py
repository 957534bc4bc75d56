"""The model, GPU, instance and price catalog: data files with sources, loaded into typed models.

The YAML files next to this module are the single place a figure lives. Sizing, the plan's
cost estimate, the chart values and the gateway's price table all read them through
:func:`load_catalog`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

CATALOG_DIR = Path(__file__).parent


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Frozen):
    hf_repo: str = Field(description="Hugging Face repository id of the weights.")
    default_revision: str = Field(description="Commit of the weights the catalog was checked against.")
    parameters_total_b: float
    parameters_active_b: float
    weights_gb: float = Field(description="Size of the weights in GPU memory, GB (10^9 bytes).")
    max_context_tokens: int
    min_compute_capability: float
    num_layers: int
    full_attention_layers: int = Field(description="Layers whose KV cache grows with the context.")
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    license: str
    comparable_managed_model: str
    sources: list[str]

    @property
    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes one token of context costs (K and V, BF16, full-attention layers)."""
        return 2 * self.full_attention_layers * self.num_kv_heads * self.head_dim * 2


class GpuSpec(_Frozen):
    memory_gb: float
    compute_capability: float
    generation: Literal["turing", "ampere", "ada", "hopper"]
    ray_accelerator: str
    karpenter_gpu_name: str


class InstanceSpec(_Frozen):
    gpu: str | None
    gpu_count: int
    vcpu: int
    memory_gib: float
    usd_per_hour: float
    price_source: str | None = None


class ServicePrices(_Frozen):
    eks_control_plane_usd_per_hour: float
    nat_gateway_usd_per_hour: float
    ebs_gp3_usd_per_gb_month: float
    s3_standard_usd_per_gb_month: float
    secrets_manager_usd_per_secret_month: float
    elasticache_usd_per_node_hour: dict[str, float]


class ApiPrice(_Frozen):
    input_per_mtok: float
    output_per_mtok: float


class Catalog(_Frozen):
    models: dict[str, ModelSpec]
    gpus: dict[str, GpuSpec]
    gpu_aliases: dict[str, str]
    instances: dict[str, InstanceSpec]
    price_region: str
    price_as_of: str
    price_source: str
    hours_per_month: int
    services: ServicePrices
    managed_api: dict[str, ApiPrice]

    def normalise_gpu(self, name: str) -> str | None:
        """Canonical GPU key for a user's spelling (`a10` -> `A10G`), or None if unknown."""
        key = name.strip().upper()
        if key in self.gpus:
            return key
        for alias, target in self.gpu_aliases.items():
            if alias.upper() == key:
                return target
        return None


def _read(name: str) -> dict:
    return yaml.safe_load((CATALOG_DIR / name).read_text())


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    models = _read("models.yaml")
    gpus = _read("gpus.yaml")
    instances = _read("instances.yaml")
    services = _read("services.yaml")
    api = _read("managed_api.yaml")
    return Catalog(
        models=models["models"],
        gpus=gpus["gpus"],
        gpu_aliases=gpus["aliases"],
        instances=instances["instances"],
        price_region=instances["region"],
        price_as_of=instances["as_of"],
        price_source=instances["source"],
        hours_per_month=services["hours_per_month"],
        services=services["services"],
        managed_api=api["models"],
    )
