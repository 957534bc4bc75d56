"""The shape of a GPU node pool, cloud-neutral: labels, taints, capacity split, scaling.

Pure functions: the EKS managed node group and Karpenter components (and a GKE node pool
later) turn this shape into resources; tests check the shape without Pulumi.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from contracts import (
    GPU_RESOURCE,
    GPU_TAINT_EFFECT,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    NODE_CAPACITY_LABEL,
    NODE_GPU_LABEL,
    NODE_POOL_LABEL,
)

if TYPE_CHECKING:
    # For the type checker only: tests import this module without Pulumi.
    from pulumi_aws.ec2 import LaunchTemplateTagSpecificationArgsDict

    from infra.config.models import NodePoolConfig

# GPU nodes repel everything that does not tolerate this taint, so the Ray head, the gateway
# and add-ons never take a GPU node (EKS user guide, "GPU workloads").
GPU_TAINT = {"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": GPU_TAINT_EFFECT}
GPU_TOLERATION = {"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE, "effect": GPU_TAINT_EFFECT}
CA_TAG_PREFIX = "k8s.io/cluster-autoscaler/node-template"
# cluster-autoscaler's GPU label on AWS: a node carrying it counts as a GPU node even before the
# device plugin advertises its GPUs, so one pending pod does not trigger a second scale-up
# (cluster-autoscaler/cloudprovider/aws/README.md, "GPU Node Groups"; aws_cloud_provider.go GPULabel).
# Its domain is neither kubernetes.io nor k8s.io, so the kubelet accepts it as a node label.
CA_GPU_LABEL = "k8s.amazonaws.com/accelerator"
# Share of a node's root volume it offers pods as allocatable ephemeral storage: the kubelet's
# default hard eviction threshold keeps 10% of nodefs free (nodefs.available<10%), and 1 GiB is
# reserved for the system (kubernetes.io/docs, "Node-pressure Eviction", "Reserve Compute Resources").
EPHEMERAL_SHARE = 0.9
EPHEMERAL_SYSTEM_RESERVED_GIB = 1

Capacity = Literal["on-demand", "spot"]


@dataclass(frozen=True)
class CapacityGroup:
    """One homogeneous group inside a pool: all on-demand or all spot."""

    suffix: str
    capacity: Capacity
    min_nodes: int
    max_nodes: int

    @property
    def eks_capacity_type(self) -> str:
        return "ON_DEMAND" if self.capacity == "on-demand" else "SPOT"


def capacity_groups(pool: NodePoolConfig) -> list[CapacityGroup]:
    """Split a pool into its on-demand floor and its spot burst.

    A managed node group (and a Karpenter NodePool's capacity-type requirement) holds one
    capacity type, so `spot` with an on-demand floor becomes two groups: the floor is
    pinned (min = max = floor) and never preempted, the spot group carries the rest.
    """
    if pool.capacity_type == "on_demand":
        return [CapacityGroup("od", "on-demand", pool.min_nodes, pool.max_nodes)]
    groups = []
    if pool.on_demand_floor:
        groups.append(CapacityGroup("od", "on-demand", pool.on_demand_floor, pool.on_demand_floor))
    spot_max = pool.max_nodes - pool.on_demand_floor
    if spot_max > 0:
        groups.append(CapacityGroup("spot", "spot", pool.min_nodes - pool.on_demand_floor, spot_max))
    return groups


# An EKS managed node group's name: at most 63 characters, a letter or digit first, then letters,
# digits, hyphens and underscores (pulumi-aws / Terraform aws_eks_node_group `node_group_name`,
# which EKS's CreateNodegroup `nodegroupName` takes as is). Environment names (NAME `^[a-z][a-z0-9-]{1,15}$`)
# and pool names (NAME_RE, at most 32) with the longest suffix (`spot`) make at most 54, all in that
# alphabet: tests/infra/test_node_pool_shape.py checks the longest.
NODE_GROUP_NAME_MAX = 63
NODE_GROUP_NAME_RE = r"^[0-9A-Za-z][A-Za-z0-9_-]*$"


def capacity_group_name(env_name: str, pool_name: str, group: CapacityGroup) -> str:
    """The name of one capacity group as the cloud sees it: the EKS managed node group's
    `nodegroupName` (set explicitly, infra/components/node_pools/eks_managed.py) or the Karpenter
    NodePool's name. Every consumer (the governor, the runbooks, the IAM scoping) takes it from here."""
    return f"{env_name}-{pool_name}-{group.suffix}"


def node_labels(pool: NodePoolConfig, group: CapacityGroup, cost_tags: dict[str, str]) -> dict[str, str]:
    """Labels every node of the group carries: the cost tags (plain keys), pool, GPU, capacity and
    cluster-autoscaler's GPU label. All are in domains the kubelet accepts in --node-labels
    (infra/plan/checks/node_labels.py applies its rule to whatever the program registers)."""
    return dict(
        sorted(
            {
                **cost_tags,
                NODE_POOL_LABEL: pool.name,
                NODE_GPU_LABEL: pool.gpu,
                NODE_CAPACITY_LABEL: group.capacity,
                CA_GPU_LABEL: f"nvidia-{pool.gpu.lower()}",
            }.items()
        )
    )


def allocatable_ephemeral_gib(disk_size_gib: int) -> int:
    """Ephemeral storage a node of this root volume size offers pods (see EPHEMERAL_SHARE)."""
    return int(disk_size_gib * EPHEMERAL_SHARE) - EPHEMERAL_SYSTEM_RESERVED_GIB


def autoscaler_template_tags(labels: dict[str, str], gpus_per_node: int, disk_size_gib: int) -> dict[str, str]:
    """ASG tags that let cluster-autoscaler scale a group up from zero nodes.

    With no node running it builds a template node from the instance type (CPU, memory, GPU
    count, 110 pods) and from these tags: labels, taints and every other resource, such as
    ephemeral-storage, which it otherwise takes as zero, so a pod that requests any never fits
    (cluster-autoscaler cloudprovider/aws/aws_manager.go buildNodeFromTemplate,
    extractAllocatableResourcesFromAsg; AWS README "Auto-Discovery Setup"). The offline plan
    checks these tags against the rendered pods meant for the group (checks/scale_from_zero.py).
    """
    tags = {f"{CA_TAG_PREFIX}/label/{key}": value for key, value in labels.items()}
    tags[f"{CA_TAG_PREFIX}/taint/{GPU_TAINT['key']}"] = f"{GPU_TAINT['value']}:{GPU_TAINT['effect']}"
    tags[f"{CA_TAG_PREFIX}/resources/{GPU_RESOURCE}"] = str(gpus_per_node)
    tags[f"{CA_TAG_PREFIX}/resources/ephemeral-storage"] = f"{allocatable_ephemeral_gib(disk_size_gib)}Gi"
    return dict(sorted(tags.items()))


LAUNCHED_RESOURCE_TYPES = ("instance", "volume", "network-interface")


def launch_template_tag_specifications(tags: dict[str, str], name: str) -> list[LaunchTemplateTagSpecificationArgsDict]:
    """Tag specifications so instances, volumes and ENIs launched from the template carry the
    cost tags: provider default tags stop at the launch template (pulumi-eks #635/#658)."""
    return [{"resource_type": kind, "tags": {**tags, "Name": name}} for kind in LAUNCHED_RESOURCE_TYPES]


def karpenter_floor_nodes(min_replicas: int, replicas_per_node: int) -> int:
    """Nodes Karpenter keeps for the RayService's minimum replicas (it holds no idle node)."""
    return math.ceil(min_replicas / replicas_per_node) if min_replicas else 0
