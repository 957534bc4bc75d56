"""A GPU pool as EKS managed node groups: one per capacity type, scaled by cluster-autoscaler."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.components.cluster import ClusterHandle
from infra.components.launch_template import tag_node_group_asg, tagged_launch_template
from infra.components.options import child_options
from infra.config.models import NodePoolConfig
from infra.node_pool_shape import GPU_TAINT, autoscaler_template_tags, capacity_groups, node_labels

# EKS AMI types with the NVIDIA driver. AL2023's lacks the device plugin (installed as an
# add-on by this stack); Bottlerocket's has it (EKS user guide, "GPU AMIs").
AMI_TYPES = {"al2023": "AL2023_x86_64_NVIDIA", "bottlerocket": "BOTTLEROCKET_x86_64_NVIDIA"}
EKS_TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


class EksManagedGpuNodePool(pulumi.ComponentResource):
    """Launch template (tags to instances, volumes, ENIs) + node group(s) + ASG tags (cost tags
    and the cluster-autoscaler node-template tags that make scale-from-zero work).

    Each node group carries an explicit `nodegroupName`, `<env>-<pool>-<od|spot>`
    (node_pool_shape.capacity_group_name; `name` is `<env>-<pool>`, infra/__main__.py): the cost
    governor, the runbooks and the IAM scoping name the group without asking AWS. Left to Pulumi,
    the name would get a random suffix and the governor's `describe_nodegroup` would find nothing.
    A fixed name means a replace-forcing change (instance type, capacity type, AMI type, subnets)
    cannot create the new group beside the old one: EKS refuses the second group of that name and
    `pulumi up` stops before deleting anything (docs/decisions.md, "Node group names").

    `elastic_floor_by_governor`: the cost governor in enforce mode sets the elastic group's
    `minSize` (the last group: a spot pool's pinned on-demand floor comes first), so Pulumi leaves
    it as the governor set it instead of putting the configured minimum back on the next `up`.
    """

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
        super().__init__("gptoss:eks:ManagedGpuNodePool", name, None, opts)
        self.pool = pool
        self.groups = capacity_groups(pool)
        template = tagged_launch_template(
            f"{name}-lt",
            cost_tags=cost_tags,
            instance_name=name,
            disk_size_gib=pool.disk_size_gib,
            ami_family=pool.ami_family,
            parent=self,
        )
        self.node_groups: list[aws.eks.NodeGroup] = []
        for index, group in enumerate(self.groups):
            labels = node_labels(pool, group, cost_tags)
            # cluster-autoscaler owns desired_size after creation; Pulumi must not reset it. The
            # governor owns the elastic group's min_size in enforce mode (see the class docstring).
            ignored = ["scalingConfig.desiredSize"]
            if elastic_floor_by_governor and index == len(self.groups) - 1:
                ignored.append("scalingConfig.minSize")
            node_group = aws.eks.NodeGroup(
                f"{name}-{group.suffix}",
                node_group_name=f"{name}-{group.suffix}",
                cluster_name=cluster.name,
                node_role_arn=cluster.node_role_arn,
                subnet_ids=cluster.subnet_ids,
                ami_type=AMI_TYPES[pool.ami_family],
                release_version=pool.ami_release,
                capacity_type=group.eks_capacity_type,
                instance_types=[pool.instance_type],
                launch_template={"id": template.id, "version": template.latest_version.apply(str)},
                scaling_config={
                    "min_size": group.min_nodes,
                    "max_size": group.max_nodes,
                    "desired_size": group.min_nodes,
                },
                update_config={"max_unavailable": 1},
                labels=labels,
                taints=[{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"], "effect": EKS_TAINT_EFFECTS[GPU_TAINT["effect"]]}],
                opts=child_options(self, opts, ignore_changes=ignored),
            )
            asg_tags = {**cost_tags, **autoscaler_template_tags(labels, pool.gpus_per_node, pool.disk_size_gib)}
            tag_node_group_asg(f"{name}-{group.suffix}", node_group, asg_tags, self)
            self.node_groups.append(node_group)
        self.register_outputs({"node_groups": [g.node_group_name for g in self.node_groups]})
