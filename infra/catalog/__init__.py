"""The model, GPU, instance and price catalog: data files with sources, loaded into typed models.

The YAML files next to this module are the single place a figure lives. Sizing, the plan's
cost estimate, the cost model, the chart values and the gateway's price table all read them
through :func:`load_catalog`.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

CATALOG_DIR = Path(__file__).parent
SupportWindow = Literal["standard", "extended", "ended"]


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
    nat_gateway_usd_per_hour: float
    ebs_gp3_usd_per_gb_month: float
    s3_standard_usd_per_gb_month: float
    secrets_manager_usd_per_secret_month: float
    elasticache_usd_per_node_hour: dict[str, float]


class ApiPrice(_Frozen):
    input_per_mtok: float
    output_per_mtok: float


class EksVersion(_Frozen):
    """One Kubernetes minor version on EKS: the days its support windows end (UTC)."""

    eks_release: date
    end_of_standard_support: date
    end_of_extended_support: date


class EksPrices(_Frozen):
    region: str
    standard_usd_per_cluster_hour: float
    extended_usd_per_cluster_hour: float
    source: str
    read: date


class EksCalendar(_Frozen):
    source: str
    read: date


class EksVersions(_Frozen):
    """EKS version support windows and the control-plane price in each (eks_versions.yaml)."""

    calendar: EksCalendar
    prices: EksPrices
    versions: dict[str, EksVersion]

    def support(self, version: str, on: date) -> SupportWindow:
        """The window `version` is in on day `on`. Extended support bills from the first moment
        of the end-of-standard-support day (UTC), so that day is already `extended`; on the
        end-of-extended-support day EKS stops creating clusters on the version (`ended`)."""
        window = self.versions[version]
        if on < window.end_of_standard_support:
            return "standard"
        if on < window.end_of_extended_support:
            return "extended"
        return "ended"

    def usd_per_cluster_hour(self, version: str, on: date) -> float:
        """The control plane's price on day `on` (an ended version is priced as extended: EKS
        upgrades it on its own at some point after that day)."""
        if self.support(version, on) == "standard":
            return self.prices.standard_usd_per_cluster_hour
        return self.prices.extended_usd_per_cluster_hour


class PublishedThroughput(_Frozen):
    model: str
    gpu: str
    tensor_parallel: int
    metric: str = Field(min_length=1, description="What was measured: load shape, token ratio, time to first token.")
    output_tokens_per_s: float = Field(gt=0)
    input_tokens: int = Field(gt=0, description="Prompt tokens of the whole run (its input:output ratio and KV working set).")
    output_tokens: int = Field(gt=0, description="Tokens the run generated.")
    conditions: str
    source: str
    read: date

    @property
    def input_output_ratio(self) -> float:
        return self.input_tokens / self.output_tokens


class ThroughputEstimate(_Frozen):
    reference_gpu: str
    memory_bandwidth_gb_per_s: dict[str, float]
    bandwidth_source: str
    read: date
    reference_gpu_memory_utilization: float = Field(
        gt=0, le=1, description="What the published runs gave vLLM (its default: their commands do not set it)."
    )


class PromptCostRun(_Frozen):
    """One benchmark run: its token totals and how long the engine took to serve them all."""

    dataset: str
    input_tokens: int = Field(gt=0)
    output_tokens: int = Field(gt=0)
    duration_s: float = Field(gt=0)


class PromptCostEvidence(_Frozen):
    """Runs of one serving command at several prompt lengths: what a prompt token costs."""

    command: str
    source: str
    runs: list[PromptCostRun] = Field(min_length=2)


class ThroughputData(_Frozen):
    """Published saturation throughput and the bandwidth method for the rest (throughput.yaml)."""

    published: list[PublishedThroughput]
    estimate: ThroughputEstimate
    prompt_cost: dict[str, PromptCostEvidence]
    planning_utilisation: float = Field(gt=0, le=1)


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
    managed_api_as_of: str
    managed_api_source: str
    eks: EksVersions
    throughput: ThroughputData

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
    # model_validate rather than Catalog(...): the same validation, and the type checker does
    # not expect the nested sections (YAML mappings pydantic turns into models) to be models already.
    return Catalog.model_validate(
        {
            "models": models["models"],
            "gpus": gpus["gpus"],
            "gpu_aliases": gpus["aliases"],
            "instances": instances["instances"],
            "price_region": instances["region"],
            "price_as_of": instances["as_of"],
            "price_source": instances["source"],
            "hours_per_month": services["hours_per_month"],
            "services": services["services"],
            "managed_api": api["models"],
            "managed_api_as_of": api["as_of"],
            "managed_api_source": api["source"],
            "eks": _read("eks_versions.yaml"),
            "throughput": _read("throughput.yaml"),
        }
    )
