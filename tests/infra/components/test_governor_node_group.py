"""The cost governor and the node group it moves, under the Pulumi mocks: the mocks answer like
EKS (a node group keeps the `nodegroupName` it was given; without one Pulumi auto-names it with a
random suffix), so the name in the governor's settings must be the one the program gave EKS."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from infra.config.load import PROJECT, read_stack_file
from infra.config.models import NAME_RE
from infra.node_pool_shape import NODE_GROUP_NAME_MAX, NODE_GROUP_NAME_RE, CapacityGroup, capacity_group_name
from infra.plan.runner import run_program
from tests.infra.components.conftest import Run

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def enforce(raw: dict) -> None:
    raw.setdefault("governor", {})["mode"] = "enforce"


def governor_target(run) -> dict:
    release = next(r for r in run.of_type(RELEASE) if r.inputs.get("name") == "gpt-oss")
    governor = release.inputs["values"]["governor"]
    assert governor["enabled"] is True, "the offline plan renders the governor with a placeholder image"
    return governor["settings"]["target"]


@pytest.fixture(scope="module")
def prod_enforce(tmp_path_factory):
    config = copy.deepcopy(read_stack_file("prod"))
    enforce(config[f"{PROJECT}:environment"])
    folder = tmp_path_factory.mktemp("prod-enforce")
    (folder / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": config}))
    return Run(run_program("prod", folder))


def test_every_gpu_node_group_is_named_as_the_governor_and_runbooks_name_it(program):
    run = program("prod")
    gpu = [r for r in run.of_type(NODE_GROUP) if not r.name.endswith("-system")]
    assert {r.name for r in gpu} == {"prod-gpu-h100-od", "prod-gpu-h100-spot"}
    for group in gpu:
        assert group.inputs["nodeGroupName"] == group.name
        assert group.outputs["nodeGroupName"] == group.name, "EKS keeps the name it is given"
        assert len(group.name) <= NODE_GROUP_NAME_MAX


def test_the_system_node_group_is_left_to_auto_naming_and_the_mock_shows_it(program):
    """The other side of the test above: a group without `nodegroupName` gets a name nobody can
    write down in advance, which is what the governor used to be given."""
    system = program("prod").named(NODE_GROUP, "prod-system")
    assert "nodeGroupName" not in system.inputs
    assert system.outputs["nodeGroupName"].startswith("prod-system-") and system.outputs["nodeGroupName"] != "prod-system"


def test_the_governor_targets_the_node_group_eks_has(prod_enforce):
    target = governor_target(prod_enforce)
    elastic = prod_enforce.named(NODE_GROUP, "prod-gpu-h100-spot")
    assert target["provisioner"] == "managed_node_group"
    assert target["node_pool"] == elastic.outputs["nodeGroupName"]
    od = prod_enforce.named(NODE_GROUP, "prod-gpu-h100-od")
    assert target["pinned_nodes"] == od.inputs["scalingConfig"]["minSize"] == od.inputs["scalingConfig"]["maxSize"]
    assert target["cluster_name"] == elastic.inputs["clusterName"]


def test_the_governor_role_may_touch_exactly_that_node_group(prod_enforce):
    target = governor_target(prod_enforce)
    elastic = prod_enforce.named(NODE_GROUP, "prod-gpu-h100-spot")
    policy = json.loads(prod_enforce.named(ROLE_POLICY, "prod-governor-policy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Resource"] == elastic.outputs["arn"]
    # arn:aws:eks:<region>:<account>:nodegroup/<cluster>/<name>/<uuid>
    cluster, name = statement["Resource"].split(":nodegroup/")[1].split("/")[:2]
    assert (cluster, name) == (target["cluster_name"], target["node_pool"])


def test_in_enforce_mode_the_next_up_leaves_the_governors_floor_alone(prod_enforce, program):
    """minSize of the elastic group is the governor's in enforce mode (ignore_changes); the pinned
    on-demand group and every group in recommend mode keep the configured minimum."""
    elastic = prod_enforce.named(NODE_GROUP, "prod-gpu-h100-spot")
    od = prod_enforce.named(NODE_GROUP, "prod-gpu-h100-od")
    assert set(elastic.ignore_changes) == {"scalingConfig.desiredSize", "scalingConfig.minSize"}
    assert set(od.ignore_changes) == {"scalingConfig.desiredSize"}
    recommend = program("prod")
    assert recommend.run.env.governor.mode == "recommend"
    for group in recommend.of_type(NODE_GROUP):
        assert set(group.ignore_changes) == {"scalingConfig.desiredSize"}, group.name


def test_the_longest_names_the_config_allows_fit_eks():
    env_name = "e" + "1" * 15  # EnvironmentConfig.name: ^[a-z][a-z0-9-]{1,15}$
    pool_name = "p" + "-" * 30 + "9"  # NAME_RE: 32 characters at most
    assert re.match(NAME_RE, pool_name) and len(pool_name) == 32
    name = capacity_group_name(env_name, pool_name, CapacityGroup("spot", "spot", 0, 1))
    assert len(name) <= NODE_GROUP_NAME_MAX and re.match(NODE_GROUP_NAME_RE, name)
