"""The EC2 Spot service-linked role, `AWSServiceRoleForEC2Spot`.

EC2 needs it to launch spot instances. An account that has never used spot has none, and
Karpenter's controller policy cannot create it (Karpenter troubleshooting docs:
`AuthFailure.ServiceLinkedRoleCreationNotPermitted`); a managed node group creates it through
EKS's own role, Karpenter does not. One per account: where it exists already, import it
(`pulumi import aws:iam/serviceLinkedRole:ServiceLinkedRole <env>-spot-role <arn>`) or set
`account.create_spot_service_linked_role: false` (docs/deploy.md).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config.models import EnvironmentConfig

SPOT_SERVICE = "spot.amazonaws.com"


def needs_spot_role(env: EnvironmentConfig) -> bool:
    return env.account.create_spot_service_linked_role and any(p.capacity_type == "spot" for p in env.node_pools)


def spot_service_linked_role(name: str, opts: pulumi.ResourceOptions | None = None) -> aws.iam.ServiceLinkedRole:
    # Retained on destroy: other stacks of the account (and anything else using spot) rely on it.
    options = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True))
    return aws.iam.ServiceLinkedRole(name, aws_service_name=SPOT_SERVICE, description="EC2 Spot (gpt-oss-platform)", opts=options)
