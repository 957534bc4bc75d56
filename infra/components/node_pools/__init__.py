"""GPU node pools behind one interface: the registry maps a provisioner to its component.

EKS managed node groups and Karpenter are the AWS backends; a GKE node pool would register
here under its own provisioner name and take the same inputs (the pool config, the cluster
handle, cost tags), so nothing above this package changes.
"""

from __future__ import annotations

from typing import Protocol

import pulumi

from infra.components.cluster import ClusterHandle
from infra.components.node_pools.eks_managed import EksManagedGpuNodePool
from infra.components.node_pools.karpenter import KarpenterGpuNodePool
from infra.config.models import NodePoolConfig
from infra.node_pool_shape import CapacityGroup


class GpuNodePool(Protocol):
    pool: NodePoolConfig
    groups: list[CapacityGroup]


class GpuNodePoolFactory(Protocol):
    def __call__(
        self,
        name: str,
        pool: NodePoolConfig,
        cluster: ClusterHandle,
        cost_tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        elastic_floor_by_governor: bool = False,
    ) -> GpuNodePool: ...


BACKENDS: dict[str, GpuNodePoolFactory] = {
    "managed_node_group": EksManagedGpuNodePool,
    "karpenter": KarpenterGpuNodePool,
}


def gpu_node_pool(
    name: str,
    pool: NodePoolConfig,
    cluster: ClusterHandle,
    cost_tags: dict[str, str],
    opts: pulumi.ResourceOptions | None = None,
    *,
    elastic_floor_by_governor: bool = False,
) -> GpuNodePool:
    """`elastic_floor_by_governor`: the cost governor (enforce mode) owns the pool's floor, so the
    program does not put the configured floor back (where the backend has one to put back)."""
    return BACKENDS[pool.provisioner](name, pool, cluster, cost_tags, opts, elastic_floor_by_governor=elastic_floor_by_governor)
