"""GitOps-managed environments get the cost governor as `pulumi up` would install it: from the
stack's `governor_image` output, where the release pins give the governor a digest."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.config import ConfigError, environment_from_stack_file
from infra.config.models import EnvironmentConfig
from infra.environments.gitops import render_gitops

GATEWAY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-gateway@sha256:" + "c" * 64
GOVERNOR_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-governor"
GOVERNOR_DIGEST = "sha256:" + "d" * 64
OUTPUTS = {
    "cluster_name": "gpt-oss-prod",
    "weights_bucket": "acme-gpt-oss-prod-weights",
    "gateway_image": GATEWAY,
    "service_cidr": "172.20.0.0/16",
    "gcs_redis_address": "prod-gcs.abc123.ng.0001.use1.cache.amazonaws.com:6379",
}


def prod(digest: str | None) -> EnvironmentConfig:
    env = environment_from_stack_file("prod")
    image = env.governor.image.model_copy(update={"digest": digest})
    return env.model_copy(update={"governor": env.governor.model_copy(update={"image": image})})


def documents(rendered) -> list[dict]:
    return [yaml.safe_load(text) for text in rendered.files.values()]


def governor_deployments(rendered) -> list[dict]:
    return [d for d in documents(rendered) if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-governor")]


@pytest.mark.slow
def test_a_pinned_governor_is_rendered_in_recommend_mode_from_the_stacks_image():
    env = prod(GOVERNOR_DIGEST)
    assert env.governor.mode == "recommend"
    outputs = {**OUTPUTS, "governor_image": f"{GOVERNOR_REPOSITORY}@{GOVERNOR_DIGEST}"}
    rendered = render_gitops(env, "prod", outputs, "outputs.json", "r-1", "abc")
    (deployment,) = governor_deployments(rendered)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{GOVERNOR_REPOSITORY}@{GOVERNOR_DIGEST}"
    (config,) = [
        d for d in documents(rendered) if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-governor-config")
    ]
    settings = json.loads(config["data"]["governor.json"])
    assert settings["policy"]["mode"] == "recommend"
    assert settings["target"]["node_pool"] == "prod-gpu-h100-spot"


@pytest.mark.slow
def test_without_a_pinned_digest_the_governor_is_left_out_as_up_leaves_it_out():
    rendered = render_gitops(prod(None), "prod", OUTPUTS, "outputs.json", "r-1", "abc")
    assert governor_deployments(rendered) == []


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (None, "governor_image: missing from the stack outputs"),
        (f"{GOVERNOR_REPOSITORY}@sha256:" + "e" * 64, f"is not the pinned governor digest {GOVERNOR_DIGEST}"),
        (f"{GOVERNOR_REPOSITORY}@sha256:" + "0" * 64, "governor_image: is the preview placeholder"),
        (f"{GOVERNOR_REPOSITORY}:0.1.0", "governor_image: is not an image pinned by digest"),
    ],
)
def test_a_pinned_governor_needs_the_stacks_output_with_that_digest(output, expected):
    outputs = {**OUTPUTS, **({"governor_image": output} if output else {})}
    with pytest.raises(ConfigError) as caught:
        render_gitops(prod(GOVERNOR_DIGEST), "prod", outputs, "outputs.json", "r-1", "abc")
    assert any(expected in p.render() for p in caught.value.problems), [p.render() for p in caught.value.problems]
