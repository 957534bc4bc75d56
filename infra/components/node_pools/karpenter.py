"""A GPU pool as Karpenter NodePool(s) + EC2NodeClass, provisioned from pending pods.

Valid against the Karpenter 1.x CRDs (karpenter.sh/v1 NodePool, karpenter.k8s.aws/v1
EC2NodeClass). An on-demand floor under spot burst is two NodePools: the on-demand one has
the higher weight and a GPU limit equal to the floor, so Karpenter fills it first and turns
to spot beyond it.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.components.cluster import ClusterHandle
from infra.components.launch_template import DATA_DEVICE
from infra.components.options import child_options
from infra.config.models import NodePoolConfig
from infra.node_pool_shape import GPU_TAINT, CapacityGroup, capacity_groups, node_labels
from infra.versions import KARPENTER_AMI_ALIAS_VERSIONS

WEIGHTS = {"on-demand": 100, "spot": 10}
# GPU nodes take minutes to join and pull a 20 GB image: do not consolidate them away the
# moment a replica scales down.
CONSOLIDATE_AFTER = "15m"
# Recycle nodes monthly so AMI pins and kernel patches actually land.
EXPIRE_AFTER = "720h"


def ec2_node_class_spec(
    pool: NodePoolConfig,
    role_name: str,
    subnet_ids: list[str],
    security_group_id: str,
    cost_tags: dict[str, str],
    instance_name: str,
) -> dict:
    alias_version = pool.ami_release or KARPENTER_AMI_ALIAS_VERSIONS[pool.ami_family]
    return {
        "role": role_name,
        "amiSelectorTerms": [{"alias": f"{pool.ami_family}@{alias_version}"}],
        "subnetSelectorTerms": [{"id": subnet} for subnet in subnet_ids],
        "securityGroupSelectorTerms": [{"id": security_group_id}],
        "blockDeviceMappings": [
            {
                "deviceName": DATA_DEVICE[pool.ami_family],
                "ebs": {
                    "volumeSize": f"{pool.disk_size_gib}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
        ],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        # Karpenter puts these on the instances, volumes and network interfaces it launches.
        "tags": {**cost_tags, "Name": instance_name},
    }


def node_pool_spec(pool: NodePoolConfig, group: CapacityGroup, node_class: str, labels: dict[str, str]) -> dict:
    return {
        "weight": WEIGHTS[group.capacity],
        "limits": {"nvidia.com/gpu": str(group.max_nodes * pool.gpus_per_node)},
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": CONSOLIDATE_AFTER},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class},
                "expireAfter": EXPIRE_AFTER,
                "requirements": [
                    {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [pool.instance_type]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [group.capacity]},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                ],
                "taints": [dict(GPU_TAINT)],
            },
        },
    }


class KarpenterGpuNodePool(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        pool: NodePoolConfig,
        cluster: ClusterHandle,
        cost_tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        elastic_floor_by_governor: bool = False,
    ):
        # A NodePool has no node minimum (spec.limits caps it from above): the governor moves the
        # RayService's min_replicas only, and there is no floor here for Pulumi to put back.
        del elastic_floor_by_governor
        super().__init__("gptoss:karpenter:GpuNodePool", name, None, opts)
        self.pool = pool
        self.groups = capacity_groups(pool)
        if cluster.karpenter_node_role_name is None:
            raise ValueError("the cluster component was built without a Karpenter node role (karpenter_nodes=False)")
        # The CRDs come with the Karpenter release: every object here waits for it (the caller
        # passes it in depends_on; a component's depends_on does not reach its children).
        child = child_options(self, opts)
        metadata_labels = dict(cost_tags)
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-nodeclass",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": name, "labels": metadata_labels},
            spec=pulumi.Output.all(cluster.karpenter_node_role_name, cluster.subnet_ids, cluster.security_group_id).apply(
                lambda args: ec2_node_class_spec(pool, args[0], args[1], args[2], cost_tags, name)
            ),
            opts=child,
        )
        self.node_pools = [
            k8s.apiextensions.CustomResource(
                f"{name}-{group.suffix}",
                api_version="karpenter.sh/v1",
                kind="NodePool",
                metadata={"name": f"{name}-{group.suffix}", "labels": metadata_labels},
                spec=node_pool_spec(pool, group, name, node_labels(pool, group, cost_tags)),
                opts=child_options(self, opts, depends_on=[node_class]),
            )
            for group in self.groups
        ]
        self.register_outputs({"node_class": name})
