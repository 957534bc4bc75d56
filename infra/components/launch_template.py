"""Launch templates and ASG tags for EKS managed node groups: how cost tags reach what a node
group launches.

Provider default tags stop at the resources Pulumi creates. The instances, root volumes and
network interfaces a node group launches get tags only from the launch template's tag
specifications, and the Auto Scaling group EKS creates gets them only from explicit ASG tags
(pulumi-eks #635/#658).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.node_pool_shape import launch_template_tag_specifications

# Root device of the AMI families we use: AL2023 boots and stores images on /dev/xvda;
# Bottlerocket keeps the OS on /dev/xvda and container images (ray-llm is ~20 GB) on /dev/xvdb.
DATA_DEVICE = {"al2023": "/dev/xvda", "bottlerocket": "/dev/xvdb"}


def tagged_launch_template(
    name: str,
    *,
    cost_tags: dict[str, str],
    instance_name: str,
    disk_size_gib: int,
    ami_family: str,
    parent: pulumi.Resource,
) -> aws.ec2.LaunchTemplate:
    return aws.ec2.LaunchTemplate(
        name,
        description=f"Node template for {instance_name}: tags, encrypted gp3 disk, IMDSv2",
        update_default_version=True,
        block_device_mappings=[
            {
                "device_name": DATA_DEVICE[ami_family],
                "ebs": {
                    "volume_size": disk_size_gib,
                    "volume_type": "gp3",
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }
        ],
        # IMDSv2 only, one hop: pods on the pod network cannot borrow the node's role; our
        # controllers use EKS Pod Identity instead.
        metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
        tag_specifications=launch_template_tag_specifications(cost_tags, instance_name),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def tag_node_group_asg(
    name: str,
    node_group: aws.eks.NodeGroup,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> list[aws.autoscaling.Tag]:
    """Tag the Auto Scaling group that EKS creates for `node_group`, one resource per tag.

    `propagate_at_launch` is off: instances already get their tags from the launch template,
    and propagating too would double-write them on every scale-up.
    """
    asg_name = node_group.resources.apply(lambda resources: resources[0]["autoscaling_groups"][0]["name"])
    return [
        aws.autoscaling.Tag(
            f"{name}-asg-tag-{index}",
            autoscaling_group_name=asg_name,
            tag={"key": key, "value": value, "propagate_at_launch": False},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for index, (key, value) in enumerate(sorted(tags.items()))
    ]
