"""ElastiCache for the Ray GCS: the head's cluster state survives a head restart.

A primary and a replica in two zones with automatic failover, encrypted at rest, in the
cluster's private subnets, reachable on 6379 only from the cluster security group. Transit
encryption and AUTH are off: Ray's GCS client speaks plain Redis, and the data (Ray's own
cluster metadata, no prompts, no keys) never leaves the VPC's private subnets. ai-on-eks's
Ray Serve HA blueprint makes the same choice.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.components.cluster import ClusterHandle
from infra.config.models import GcsFaultToleranceConfig

REDIS_PORT = 6379
REDIS_ENGINE_VERSION = "7.1"


class GcsRedis(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: GcsFaultToleranceConfig,
        cluster: ClusterHandle,
        *,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:storage:GcsRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.elasticache.SubnetGroup(
            name, description="Ray GCS store: cluster private subnets", subnet_ids=cluster.subnet_ids, opts=child
        )
        group = aws.ec2.SecurityGroup(
            name,
            description="Ray GCS store: Redis from the EKS cluster only",
            vpc_id=cluster.vpc_id,
            ingress=[
                {
                    "description": "Redis from cluster nodes and pods",
                    "protocol": "tcp",
                    "from_port": REDIS_PORT,
                    "to_port": REDIS_PORT,
                    "security_groups": [cluster.security_group_id],
                }
            ],
            opts=child,
        )
        self.replication_group = aws.elasticache.ReplicationGroup(
            name,
            description="Ray GCS fault tolerance store",
            engine="redis",
            engine_version=REDIS_ENGINE_VERSION,
            node_type=config.redis_node_type,
            num_cache_clusters=2,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=False,
            port=REDIS_PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            snapshot_retention_limit=1,
            # Replacing it loses the Ray cluster state GCS fault tolerance exists to keep.
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        self.address = self.replication_group.primary_endpoint_address.apply(lambda host: f"{host}:{REDIS_PORT}")
        self.register_outputs({"address": self.address})
