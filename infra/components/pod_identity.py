"""IAM for pods through EKS Pod Identity: one role per service account, one inline policy."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra import iam_policies
from infra.components.cluster import ClusterHandle


def pod_identity_role(
    name: str,
    cluster: ClusterHandle,
    namespace: str,
    service_account: str,
    policy: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.eks.PodIdentityAssociation:
    """A role only pods of `namespace/service_account` in this cluster can assume, with `policy`."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-role", assume_role_policy=iam_policies.dumps(iam_policies.pod_identity_trust()), opts=child)
    aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
    return aws.eks.PodIdentityAssociation(
        f"{name}-identity",
        cluster_name=cluster.name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        opts=child,
    )
