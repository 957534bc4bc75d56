"""GPU vCPU quotas against what the node pools can launch.

EC2 limits running instances by vCPUs per instance family group, on-demand and spot separately
(Service Quotas, service code `ec2`; the codes are AWS's: EC2 User Guide "Amazon EC2 service
quotas", Service Quotas console):
  L-417A185B  Running On-Demand P instances
  L-DB2E81BA  Running On-Demand G and VT instances
  L-7212CCBC  All P Spot Instance Requests
  L-3819A6DF  All G and VT Spot Instance Requests
A fresh account's values are often 0 or small; a node group that cannot launch waits, and
`pulumi up` fails after its timeout. The need is each pool's most nodes of a capacity type times
the instance's vCPUs (infra/catalog/instances.yaml), summed per quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.catalog import load_catalog
from infra.config.models import EnvironmentConfig
from infra.node_pool_shape import capacity_groups
from infra.preflight import Context, Result, aws_error_code

DESCRIPTION = (
    "Service Quotas (ec2) for P and G instance vCPUs, on-demand (L-417A185B, L-DB2E81BA) and spot "
    "(L-7212CCBC, L-3819A6DF), against every pool's max nodes x vCPUs per capacity type"
)
QUOTA_CODES = {
    ("p", "on-demand"): ("L-417A185B", "Running On-Demand P instances"),
    ("g", "on-demand"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("p", "spot"): ("L-7212CCBC", "All P Spot Instance Requests"),
    ("g", "spot"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
}


@dataclass(frozen=True)
class Need:
    code: str
    name: str
    vcpus: int
    pools: tuple[str, ...]


def vcpu_needs(env: EnvironmentConfig) -> list[Need]:
    """vCPUs each GPU quota must allow for every pool to reach max_nodes, one entry per quota."""
    catalog = load_catalog()
    totals: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for pool in env.node_pools:
        family = pool.instance_type[0].lower()
        vcpu = catalog.instances[pool.instance_type].vcpu
        for group in capacity_groups(pool):
            key = (family, group.capacity)
            if key not in QUOTA_CODES or group.max_nodes == 0:
                continue
            vcpus, pools = totals.get(key, (0, []))
            totals[key] = (vcpus + group.max_nodes * vcpu, [*pools, f"{pool.name} {group.max_nodes}x {pool.instance_type}"])
    return [Need(*QUOTA_CODES[key], vcpus, tuple(pools)) for key, (vcpus, pools) in sorted(totals.items())]


def quota_value(response: dict[str, Any]) -> float:
    """The applied value of a GetServiceQuota (or GetAWSDefaultServiceQuota) response."""
    return float(response["Quota"]["Value"])


def read_quota(client: Any, code: str) -> tuple[float | None, str]:
    """(value, where it came from): the account's applied value, else AWS's default, else None."""
    try:
        return quota_value(client.get_service_quota(ServiceCode="ec2", QuotaCode=code)), "applied"
    except Exception as error:  # botocore ClientError; NoSuchResourceException when never changed
        if aws_error_code(error) != "NoSuchResourceException":
            return None, f"{aws_error_code(error) or type(error).__name__}: {error}"
    try:
        return quota_value(client.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)), "AWS default"
    except Exception as error:
        return None, f"{aws_error_code(error) or type(error).__name__}: {error}"


def check(context: Context) -> list[Result]:
    client = context.client("service-quotas")
    results = []
    for need in vcpu_needs(context.env):
        value, source = read_quota(client, need.code)
        subject = f"{need.code} {need.name}"
        increase = (
            f"aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {need.code} "
            f"--desired-value {need.vcpus} --region {context.env.region}"
        )
        if value is None:
            results.append(
                Result(
                    "gpu-quotas",
                    "fail",
                    f"{subject}: cannot read it ({source})",
                    f"allow servicequotas:GetServiceQuota, then rerun; or {increase}",
                )
            )
        elif value < need.vcpus:
            results.append(
                Result(
                    "gpu-quotas",
                    "fail",
                    f"{subject} is {value:g} vCPUs ({source}); the pools need {need.vcpus} ({', '.join(need.pools)})",
                    increase,
                )
            )
        else:
            results.append(Result("gpu-quotas", "pass", f"{subject} is {value:g} vCPUs, the pools need {need.vcpus}"))
    return results
