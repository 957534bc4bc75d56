"""The gateway image's registry: one ECR repository per AWS account.

Immutable tags (a tag, once pushed, always names the same image, so a digest recorded in the
release pins and the tag CI pushed agree forever), scan on push (basic scanning: findings are
available after the push; the CI job waits for them and fails on critical ones), KMS encryption at
rest, and a lifecycle policy that expires untagged layers of failed pushes and keeps the newest
`keep_images` images. AWS: ECR user guide, "Image tag mutability", "Image scanning",
"Lifecycle policies" (rule parameters `tagStatus`, `countType` `sinceImagePushed` /
`imageCountMoreThan`; the rule selecting `any` must have the highest rulePriority number).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config.models import RegistryConfig


def lifecycle_policy(config: RegistryConfig) -> dict[str, Any]:
    """The repository's lifecycle rules, in evaluation order."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"untagged images (interrupted pushes) after {config.untagged_expire_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": config.untagged_expire_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"keep the newest {config.keep_images} images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": config.keep_images},
                "action": {"type": "expire"},
            },
        ]
    }


class GatewayImageRegistry(pulumi.ComponentResource):
    """The ECR repository of the gateway image. `url` is what CI pushes to and the chart pulls from."""

    def __init__(self, name: str, config: RegistryConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gptoss:ecr:GatewayImageRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = aws.ecr.Repository(
            name,
            name=config.repository,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            # Deleting the stack must not delete the images a running environment pulls.
            force_delete=False,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            name,
            repository=self.repository.name,
            policy=json.dumps(lifecycle_policy(config), sort_keys=True),
            opts=child,
        )
        self.url = self.repository.repository_url
        self.register_outputs({"url": self.url})
