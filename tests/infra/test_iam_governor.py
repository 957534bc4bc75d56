"""The cost governor's IAM: one node group, two actions, and the policy lets moto's EKS calls through."""

from __future__ import annotations

from infra.iam_policies import cost_governor

ARN = "arn:aws:eks:us-east-1:123456789012:nodegroup/gpt-oss-prod/prod-gpu-h100-od/abcd"


def test_the_governor_may_read_and_set_only_the_serving_pools_node_group():
    (statement,) = cost_governor(ARN)["Statement"]
    assert statement == {
        "Sid": "ServingPoolFloor",
        "Effect": "Allow",
        "Action": ["eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"],
        "Resource": ARN,
    }


def test_the_controller_calls_exactly_the_actions_the_policy_allows():
    """infra/operate/governor/cluster.py set_nodegroup_floor calls these two EKS operations."""
    import inspect

    from infra.operate.governor import cluster

    source = inspect.getsource(cluster.set_nodegroup_floor)
    called = {f"eks:{name[0].upper()}{name[1:]}" for name in ("describeNodegroup", "updateNodegroupConfig")}
    assert "eks.describe_nodegroup(" in source and "eks.update_nodegroup_config(" in source
    assert set(cost_governor(ARN)["Statement"][0]["Action"]) == called
