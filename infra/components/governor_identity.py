"""AWS access of the cost governor (infra/operate/governor): only in `enforce` mode with a managed
node group pool, where it sets the serving pool's floor through the EKS API (`minSize`). One role
through EKS Pod Identity for the governor's ServiceAccount, allowed to describe and update exactly
the node group that carries the floor (iam_policies.cost_governor). Recommend mode, and a Karpenter
pool (no node minimum: the worker pods hold the nodes), need no AWS access, so no role exists."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from contracts import NAMESPACE
from infra import iam_policies
from infra.chart_values.model.governor import Governor
from infra.components.cluster import ClusterHandle
from infra.components.pod_identity import pod_identity_role
from infra.config.models import EnvironmentConfig


def needs_governor_identity(env: EnvironmentConfig) -> bool:
    return env.governor.mode == "enforce" and env.serving_pool().provisioner == "managed_node_group"


class GovernorIdentity(pulumi.ComponentResource):
    """The governor's Pod Identity role on `node_group` (the elastic group of the serving pool,
    the one whose minimum the governor moves: infra/chart_values/governor.py elastic_group)."""

    def __init__(
        self,
        name: str,
        cluster: ClusterHandle,
        node_group: aws.eks.NodeGroup,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gptoss:iam:GovernorIdentity", name, None, opts)
        self.association = pod_identity_role(
            name,
            cluster,
            NAMESPACE,
            # The chart's ServiceAccount of the governor pods (templates/governor.yaml).
            Governor().serviceAccountName,
            node_group.arn.apply(lambda arn: iam_policies.dumps(iam_policies.cost_governor(arn))),
            self,
        )
        self.register_outputs({})
