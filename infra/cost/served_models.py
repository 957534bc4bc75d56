"""What each served model costs per month (docs/models.md, "Cost"): its replicas at their floor
and at max, priced node-true on its pool (infra/sizing.py), plus the S3 storage of a staged
fine-tune. Adapters run on their model's replicas and cost nothing of their own; the gateway
amortises the model's fleet price over the model and its adapters in equal shares
(infra/models/routes.py), so per-request costs still add up to the fleet.

The per-model figures split the GPU line of the plan's estimate, they do not add to it: the pool's
nodes are what is bought (a pool's floor of nodes may exceed what the models' floors occupy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infra.catalog import Catalog, load_catalog
from infra.cost.pricing import money
from infra.models.served import resolve_served_models

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig


def served_model_costs(env: EnvironmentConfig, catalog: Catalog | None = None) -> list[dict[str, Any]]:
    catalog = catalog or load_catalog()
    hours = catalog.hours_per_month
    s3_price = catalog.services.s3_standard_usd_per_gb_month
    rows = []
    for model in resolve_served_models(env):
        sizing = model.sizing
        rows.append(
            {
                "model": model.name,
                "base": model.base,
                "weights": f"s3 prefix {model.prefix}" if model.prefix else f"{model.hf_repo}@{model.revision}",
                "quantisation": model.memory.quantisation,
                "pool": model.pool.name,
                "instance_type": sizing.instance_type,
                "tensor_parallel": sizing.tensor_parallel,
                "replicas": {"min": model.min_replicas, "max": model.max_replicas},
                "usd_per_hour": {
                    "floor": sizing.usd_per_hour(model.min_replicas),
                    "max": sizing.usd_per_hour(model.max_replicas),
                },
                "monthly": {
                    "floor": money(sizing.usd_per_hour(model.min_replicas) * hours),
                    "max": money(sizing.usd_per_hour(model.max_replicas) * hours),
                },
                "s3_storage_monthly": money(model.memory.weights_gb * s3_price) if model.prefix else 0.0,
                "fallback": model.fallback,
                "sovereign": model.sovereign,
                "adapters": model.adapter_models,
            }
        )
    return rows
