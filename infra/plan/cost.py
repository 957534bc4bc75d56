"""The monthly cost estimate of an environment: GPU nodes at their floor and at max, the
system nodes, the control plane and the rest, from the catalog's list prices.

Spot capacity is priced at the on-demand rate: an upper bound (spot is typically 45-70%
lower and moves by zone and hour), so a budget set from `max` is never too small. Counts of
billable things (clusters, NAT gateways, secrets) come from what the program registered. The
EKS control plane is priced by the support window its Kubernetes version is in on the day of
the estimate (infra/catalog/eks_versions.yaml). `fixed_monthly` is shared with
`gpt-oss-platform cost compare --scope environment` (infra/cost/compare.py), so the plan and
the cost comparison price the same things the same way.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from infra.catalog import Catalog, load_catalog
from infra.config import EnvironmentConfig
from infra.cost.pricing import money, node_months_usd
from infra.cost.served_models import served_model_costs
from infra.node_pool_shape import capacity_groups
from infra.plan.mocks import Registration

NOT_ESTIMATED = [
    "data transfer and NAT gateway processing (per GB)",
    "CloudWatch logs of the control plane",
    "managed API usage (per token, see the gateway's cost metrics and `gpt-oss-platform cost compare`)",
    "AWS Budgets (the first two per account are free)",
]
CLUSTER = "aws:eks/cluster:Cluster"


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
                    "floor": node_months_usd(group.min_nodes, instance.usd_per_hour, hours),
                    "max": node_months_usd(group.max_nodes, instance.usd_per_hour, hours),
                }
            )
        pools.append(
            {
                "pool": pool.name,
                "instance_type": pool.instance_type,
                "gpu": f"{instance.gpu_count}x {pool.gpu}",
                "provisioner": pool.provisioner,
                "groups": groups,
                "floor": money(sum(g["floor"] for g in groups)),
                "max": money(sum(g["max"] for g in groups)),
            }
        )
    return pools


def control_plane(env: EnvironmentConfig, clusters: int, catalog: Catalog, on: date) -> dict[str, Any]:
    """The EKS control plane's monthly price on day `on`, by the version's support window."""
    eks = catalog.eks
    version = env.cluster.kubernetes_version
    window = eks.versions[version]
    rate = eks.usd_per_cluster_hour(version, on)
    return {
        "clusters": clusters,
        "kubernetes_version": version,
        "support": eks.support(version, on),
        "usd_per_cluster_hour": rate,
        "monthly": money(clusters * rate * catalog.hours_per_month),
        "extra_over_standard": money(clusters * (rate - eks.prices.standard_usd_per_cluster_hour) * catalog.hours_per_month),
        "end_of_standard_support": window.end_of_standard_support.isoformat(),
        "end_of_extended_support": window.end_of_extended_support.isoformat(),
        "priced_on": on.isoformat(),
        "source": f"{eks.calendar.source} (read {eks.calendar.read.isoformat()}); prices: {eks.prices.source} (read {eks.prices.read.isoformat()})",
    }


def fixed_monthly(env: EnvironmentConfig, registrations: list[Registration], catalog: Catalog, on: date) -> dict[str, Any]:
    """Everything but the GPU nodes, per month: control plane, system nodes at their floor and
    max, their disks, NAT gateways, secrets, the GCS Redis and the weights in S3."""
    prices = catalog.services
    hours = catalog.hours_per_month
    system = env.cluster.system_node_group
    system_price = catalog.instances[system.instance_type].usd_per_hour
    new_cluster = env.cluster.mode == "create"
    system_disk = system.disk_size_gib if new_cluster else 0
    return {
        "control_plane": control_plane(env, _count(registrations, CLUSTER), catalog, on),
        "system_nodes": {
            "instance_type": system.instance_type,
            "floor": node_months_usd(system.min_nodes, system_price, hours) if new_cluster else 0.0,
            "max": node_months_usd(system.max_nodes, system_price, hours) if new_cluster else 0.0,
        },
        "system_ebs": {
            "floor": money(system_disk * system.min_nodes * prices.ebs_gp3_usd_per_gb_month),
            "max": money(system_disk * system.max_nodes * prices.ebs_gp3_usd_per_gb_month),
        },
        "nat_gateways": money(_count(registrations, "aws:ec2/natGateway:NatGateway") * prices.nat_gateway_usd_per_hour * hours),
        "secrets_manager": money(
            _count(registrations, "aws:secretsmanager/secret:Secret") * prices.secrets_manager_usd_per_secret_month
        ),
        "elasticache_gcs": money(
            2 * prices.elasticache_usd_per_node_hour[env.serving.gcs_fault_tolerance.redis_node_type] * hours
            if _count(registrations, "aws:elasticache/replicationGroup:ReplicationGroup")
            else 0.0
        ),
        "s3_weights": money(
            catalog.models[env.model.name].weights_gb * prices.s3_standard_usd_per_gb_month if env.model.source == "s3" else 0.0
        ),
    }


def fixed_totals(fixed: dict[str, Any]) -> tuple[float, float]:
    """(floor, max) of `fixed_monthly`'s items."""
    constant = fixed["control_plane"]["monthly"] + sum(
        fixed[k] for k in ("nat_gateways", "secrets_manager", "elasticache_gcs", "s3_weights")
    )
    floor = constant + fixed["system_nodes"]["floor"] + fixed["system_ebs"]["floor"]
    peak = constant + fixed["system_nodes"]["max"] + fixed["system_ebs"]["max"]
    return money(floor), money(peak)


def monthly_cost(
    env: EnvironmentConfig, registrations: list[Registration], catalog: Catalog | None = None, on: date | None = None
) -> dict[str, Any]:
    catalog = catalog or load_catalog()
    on = on or date.today()
    prices = catalog.services
    hours = catalog.hours_per_month
    pools = gpu_pool_costs(env, catalog)
    fixed = fixed_monthly(env, registrations, catalog, on)
    gpu_disk_floor = sum(p.disk_size_gib * p.min_nodes for p in env.node_pools)
    gpu_disk_max = sum(p.disk_size_gib * p.max_nodes for p in env.node_pools)
    ebs = {
        "floor": money(gpu_disk_floor * prices.ebs_gp3_usd_per_gb_month + fixed["system_ebs"]["floor"]),
        "max": money(gpu_disk_max * prices.ebs_gp3_usd_per_gb_month + fixed["system_ebs"]["max"]),
    }
    gpu_floor = sum(p["floor"] for p in pools)
    gpu_max = sum(p["max"] for p in pools)
    flat = {k: fixed[k] for k in ("nat_gateways", "secrets_manager", "elasticache_gcs", "s3_weights")}
    constant = fixed["control_plane"]["monthly"] + sum(flat.values())
    return {
        "floor": money(gpu_floor + fixed["system_nodes"]["floor"] + ebs["floor"] + constant),
        "max": money(gpu_max + fixed["system_nodes"]["max"] + ebs["max"] + constant),
        "breakdown": {
            "gpu_nodes": {"floor": money(gpu_floor), "max": money(gpu_max), "pools": pools},
            "system_nodes": fixed["system_nodes"],
            "ebs_volumes": ebs,
            "eks_control_plane": fixed["control_plane"]["monthly"],
            **flat,
        },
        "eks_control_plane": fixed["control_plane"],
        # Each served model's share of the GPU line (not added to it): docs/models.md, "Cost".
        "models": served_model_costs(env, catalog),
        "assumptions": {
            "region_prices": catalog.price_region,
            "prices_as_of": catalog.price_as_of,
            "price_source": catalog.price_source,
            "hours_per_month": hours,
            "spot": "priced at the on-demand rate (upper bound; spot is typically 45-70% lower)",
            "not_estimated": NOT_ESTIMATED,
        },
    }


def control_plane_warnings(money_data: dict[str, Any]) -> list[str]:
    """A version in extended support costs more every hour; say how much and until when."""
    plane = money_data["eks_control_plane"]
    if plane["support"] == "standard" or not plane["clusters"]:
        return []
    return [
        f"cluster.kubernetes_version {plane['kubernetes_version']} left EKS standard support on "
        f"{plane['end_of_standard_support']}: the control plane bills ${plane['usd_per_cluster_hour']:.2f}/h in extended "
        f"support, ${plane['extra_over_standard']:,.2f}/month more than in standard support; extended support ends "
        f"{plane['end_of_extended_support']} (then EKS upgrades the control plane itself). Upgrade the cluster."
    ]
