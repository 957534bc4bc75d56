"""The Ray image from our own registry: an ECR pull-through cache of Docker Hub.

Every new GPU node pulls the Ray image (about 11.6 GB compressed). From Docker Hub that goes
through the NAT's one address, against Docker Hub's pull limits per address; through an ECR
pull-through cache rule the first pull fills an ECR repository `docker-hub/rayproject/ray-llm` in
this account and region, and later pulls stay inside AWS (ECR user guide, "Sync an upstream
registry with an Amazon ECR private registry"). Docker Hub as an upstream requires credentials in
Secrets Manager under a name starting `ecr-pullthroughcache/`. The first pull through the cache
creates the repository and imports the image, so the node roles also need
`ecr:CreateRepository` and `ecr:BatchImportUpstreamImage` on that prefix (same guide, "IAM
permissions required to sync an upstream registry"). The manifest digest is Docker Hub's, so the
pins' digest pins the cached image too.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.config.models import EnvironmentConfig

PREFIX = "docker-hub"
DOCKER_HUB = "registry-1.docker.io"


def cached_repository(account_id: str, region: str, repository: str) -> str:
    """Where a Docker Hub repository (`rayproject/ray-llm`) is pulled from through the cache."""
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com/{PREFIX}/{repository}"


def pull_policy(region: str, account_id: str) -> str:
    resource = f"arn:aws:ecr:{region}:{account_id}:repository/{PREFIX}/*"
    statement = {"Effect": "Allow", "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def ray_image_values(values: dict, repository: str | None, digest: str | None) -> dict:
    """The chart values with the Ray image taken from the cache and pinned by digest where known."""
    image = values.setdefault("ray", {}).setdefault("image", {})
    if repository:
        image["repository"] = repository
    if digest:
        image["digest"] = digest
    return values


class RayImageCache(pulumi.ComponentResource):
    """The account's pull-through cache rule (`create` only) and the node roles' right to fill it."""

    def __init__(
        self,
        name: str,
        env: EnvironmentConfig,
        account_id: pulumi.Input[str],
        node_role_arns: list[pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:ecr:RayImageCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if env.account.image_cache == "create":
            aws.ecr.PullThroughCacheRule(
                name,
                ecr_repository_prefix=PREFIX,
                upstream_registry_url=DOCKER_HUB,
                credential_arn=env.account.docker_hub_credential_arn,
                opts=child,
            )
        policy = pulumi.Output.from_input(account_id).apply(lambda account: pull_policy(env.region, account))
        for index, role_arn in enumerate(node_role_arns):
            aws.iam.RolePolicy(
                f"{name}-pull-{index}",
                role=role_arn.apply(lambda arn: arn.rsplit("/", 1)[-1]),
                policy=policy,
                opts=child,
            )
        self.register_outputs({})
