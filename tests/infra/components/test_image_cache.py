"""The Ray image from the account's own registry: an ECR pull-through cache of Docker Hub, pinned by
digest, the node roles allowed to fill it; the plan says what the first pull costs."""

from __future__ import annotations

import copy
import json

import pytest

from infra.config import ConfigError
from infra.config.load import PROJECT, read_stack_file, validate_environment
from infra.plan.warnings import image_lines

RELEASE = "kubernetes:helm.sh/v3:Release"
CREDENTIAL = "arn:aws:secretsmanager:us-east-1:210987654321:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
RAY_DIGEST = "sha256:" + "cd" * 32


def test_the_cache_rule_the_pull_rights_and_the_pinned_image(variant):
    def cached(env):
        env["account"] = {"image_cache": "create", "docker_hub_credential_arn": CREDENTIAL, "ray_image_digest": RAY_DIGEST}

    run = variant("staging", cached)
    (rule,) = run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    assert rule.inputs == {
        "ecrRepositoryPrefix": "docker-hub",
        "upstreamRegistryUrl": "registry-1.docker.io",
        "credentialArn": CREDENTIAL,
    }
    policies = run.of_type("aws:iam/rolePolicy:RolePolicy")
    pulls = [p for p in policies if "ray-image-cache" in p.name]
    assert len(pulls) == 2, "managed node groups' role and Karpenter's node role"
    statement = json.loads(pulls[0].inputs["policy"])["Statement"][0]
    assert set(statement["Action"]) == {"ecr:CreateRepository", "ecr:BatchImportUpstreamImage"}
    assert statement["Resource"].endswith(":repository/docker-hub/*")
    serving = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "gpt-oss")
    image = serving.inputs["values"]["ray"]["image"]
    assert image["repository"].endswith(".dkr.ecr.us-east-1.amazonaws.com/docker-hub/rayproject/ray-llm")
    assert image["digest"] == RAY_DIGEST


def test_existing_uses_the_accounts_rule_without_creating_one(variant):
    run = variant("dev", lambda env: env.update(account={"image_cache": "existing"}))
    assert not run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    serving = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "gpt-oss")
    assert "/docker-hub/rayproject/ray-llm" in serving.inputs["values"]["ray"]["image"]["repository"]


def test_off_pulls_from_docker_hub_as_before(program):
    run = program("dev")
    assert not run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    serving = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "gpt-oss")
    assert serving.inputs["values"]["ray"]["image"]["repository"] == "rayproject/ray-llm"


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ({"image_cache": "create"}, "image_cache create needs docker_hub_credential_arn"),
        (
            {
                "image_cache": "create",
                "docker_hub_credential_arn": "arn:aws:secretsmanager:us-east-1:210987654321:secret:dockerhub",
            },
            "docker_hub_credential_arn",
        ),
        ({"ray_image_digest": "latest"}, "ray_image_digest"),
        ({"image_cache": "mirror"}, "image_cache"),
    ],
)
def test_bad_cache_settings_are_refused_naming_the_key(account, message):
    raw = copy.deepcopy(read_stack_file("dev")[f"{PROJECT}:environment"])
    raw["account"] = account
    with pytest.raises(ConfigError, match=message):
        validate_environment(raw, stack="dev")


def test_the_plan_says_what_the_first_pull_costs_and_which_disks_are_too_small():
    raw = copy.deepcopy(read_stack_file("dev")[f"{PROJECT}:environment"])
    raw["cluster"]["system_node_group"]["disk_size_gib"] = 50
    lines = image_lines(validate_environment(raw, stack="dev"))
    assert lines[0].startswith(
        "first pull of the Ray image 2.58.0-py312-cu130 (~11.6 GB compressed) from Docker Hub through the NAT: ~2 min"
    )
    assert "cluster.system_node_group.disk_size_gib (the Ray head's nodes) is 50 GiB" in lines[1] and "at least 55" in lines[1]
    raw["cluster"]["system_node_group"]["disk_size_gib"] = 64
    assert len(image_lines(validate_environment(raw, stack="dev"))) == 1
