"""The monthly cost estimate of an environment: GPU nodes at their floor and at max, the
system nodes, the control plane and the rest, from the catalog's list prices.

Spot capacity is priced at the on-demand rate: an upper bound (spot is typically 45-70%
lower and moves by zone and hour), so a budget set from `max` is never too small. Counts of
billable things (clusters, NAT gateways, secrets) come from what the program registered.
"""

from __future__ import annotations

from typing import Any

from infra.catalog import Catalog, load_catalog
from infra.config import EnvironmentConfig
from infra.node_pool_shape import capacity_groups
from infra.plan.mocks import Registration

NOT_ESTIMATED = [
    "data transfer and NAT gateway processing (per GB)",
    "CloudWatch logs of the control plane",
    "managed API usage (per token, see the gateway's cost metrics)",
    "AWS Budgets (the first two per account are free)",
]


def _money(value: float) -> float:
    return round(value, 2)


def _count(registrations: list[Registration], type_token: str) -> int:
    return sum(1 for r in registrations if r.type == type_token)


def gpu_pool_costs(env: EnvironmentConfig, catalog: Catalog) -> list[dict[str, Any]]:
    hours = catalog.hours_per_month
    pools = []
    for pool in env.node_pools:
        instance = catalog.instances[pool.instance_type]
        groups = []
        for group in capacity_groups(pool):
            groups.append(
                {
                    "capacity": group.capacity,
                    "min_nodes": group.min_nodes,
                    "max_nodes": group.max_nodes,
                    "usd_per_node_hour": instance.usd_per_hour,
                    "floor": _money(group.min_nodes * instance.usd_per_hour * hours),
                    "max": _money(group.max_nodes * instance.usd_per_hour * hours),
                }
            )
        pools.append(
            {
                "pool": pool.name,
                "instance_type": pool.instance_type,
                "gpu": f"{instance.gpu_count}x {pool.gpu}",
                "provisioner": pool.provisioner,
                "groups": groups,
                "floor": _money(sum(g["floor"] for g in groups)),
                "max": _money(sum(g["max"] for g in groups)),
            }
        )
    return pools


def monthly_cost(env: EnvironmentConfig, registrations: list[Registration], catalog: Catalog | None = None) -> dict[str, Any]:
    catalog = catalog or load_catalog()
    prices = catalog.services
    hours = catalog.hours_per_month
    pools = gpu_pool_costs(env, catalog)
    system = env.cluster.system_node_group
    system_price = catalog.instances[system.instance_type].usd_per_hour
    new_cluster = env.cluster.mode == "create"
    system_nodes = {
        "instance_type": system.instance_type,
        "floor": _money(system.min_nodes * system_price * hours) if new_cluster else 0.0,
        "max": _money(system.max_nodes * system_price * hours) if new_cluster else 0.0,
    }
    gpu_disk_floor = sum(p.disk_size_gib * p.min_nodes for p in env.node_pools)
    gpu_disk_max = sum(p.disk_size_gib * p.max_nodes for p in env.node_pools)
    system_disk = (system.disk_size_gib if new_cluster else 0)
    ebs = {
        "floor": _money((gpu_disk_floor + system_disk * system.min_nodes) * prices.ebs_gp3_usd_per_gb_month),
        "max": _money((gpu_disk_max + system_disk * system.max_nodes) * prices.ebs_gp3_usd_per_gb_month),
    }
    fixed = {
        "eks_control_plane": _money(_count(registrations, "aws:eks/cluster:Cluster") * prices.eks_control_plane_usd_per_hour * hours),
        "nat_gateways": _money(_count(registrations, "aws:ec2/natGateway:NatGateway") * prices.nat_gateway_usd_per_hour * hours),
        "secrets_manager": _money(_count(registrations, "aws:secretsmanager/secret:Secret") * prices.secrets_manager_usd_per_secret_month),
        "elasticache_gcs": _money(
            2 * prices.elasticache_usd_per_node_hour[env.serving.gcs_fault_tolerance.redis_node_type] * hours
            if _count(registrations, "aws:elasticache/replicationGroup:ReplicationGroup")
            else 0.0
        ),
        "s3_weights": _money(
            catalog.models[env.model.name].weights_gb * prices.s3_standard_usd_per_gb_month if env.model.source == "s3" else 0.0
        ),
    }
    gpu_floor = sum(p["floor"] for p in pools)
    gpu_max = sum(p["max"] for p in pools)
    fixed_total = sum(fixed.values())
    return {
        "floor": _money(gpu_floor + system_nodes["floor"] + ebs["floor"] + fixed_total),
        "max": _money(gpu_max + system_nodes["max"] + ebs["max"] + fixed_total),
        "breakdown": {
            "gpu_nodes": {"floor": _money(gpu_floor), "max": _money(gpu_max), "pools": pools},
            "system_nodes": system_nodes,
            "ebs_volumes": ebs,
            **fixed,
        },
        "assumptions": {
            "region_prices": catalog.price_region,
            "prices_as_of": catalog.price_as_of,
            "price_source": catalog.price_source,
            "hours_per_month": hours,
            "spot": "priced at the on-demand rate (upper bound; spot is typically 45-70% lower)",
            "not_estimated": NOT_ESTIMATED,
        },
    }
