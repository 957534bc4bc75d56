"""The cost governor's AWS access under the program mocks: a Pod Identity role only in `enforce`
mode with a managed node group pool, allowed exactly the two EKS actions on the one node group
that carries the serving floor; none in recommend mode or with Karpenter."""

from __future__ import annotations

import json

import pytest

from infra.config import environment_from_stack_file

ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
POLICY = "aws:iam/rolePolicy:RolePolicy"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def governor_associations(run):
    return [r for r in run.of_type(ASSOCIATION) if r.inputs.get("serviceAccount") == "gpt-oss-governor"]


@pytest.mark.slow
def test_enforce_with_a_managed_node_group_gets_a_role_on_exactly_the_floor_node_group(variant):
    env = environment_from_stack_file("dev")
    assert env.serving_pool().provisioner == "managed_node_group"
    run = variant("dev", lambda raw: raw.update(governor={"mode": "enforce"}))
    (association,) = governor_associations(run)
    assert association.inputs["namespace"] == "gpt-oss"
    (policy,) = [r for r in run.of_type(POLICY) if r.name == "dev-governor-policy"]
    document = json.loads(policy.inputs["policy"])
    (statement,) = document["Statement"]
    assert sorted(statement["Action"]) == ["eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"]
    # The elastic node group of the serving pool (the one whose minSize the governor moves), and only it.
    from infra.chart_values.governor import elastic_group

    group_name, _ = elastic_group(env)
    assert [r.name for r in run.of_type(NODE_GROUP) if r.name == group_name] == [group_name]
    # EKS's node group ARN, as the mocks answer it: `nodegroup/<cluster>/<node group name>/<uuid>`.
    assert isinstance(statement["Resource"], str) and "*" not in statement["Resource"]
    assert statement["Resource"].startswith("arn:aws:eks:")
    assert f":nodegroup/{env.cluster.name}/{group_name}/" in statement["Resource"]


@pytest.mark.slow
def test_recommend_mode_and_karpenter_pools_get_no_aws_access(program, variant):
    assert governor_associations(program("dev")) == [], "recommend (the default) needs no AWS access"
    staging = environment_from_stack_file("staging")
    assert staging.serving_pool().provisioner == "karpenter"
    run = variant("staging", lambda raw: raw.update(governor={"mode": "enforce"}))
    assert governor_associations(run) == []
