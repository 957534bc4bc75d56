"""No IAM principal gets two EKS access entries.

EKS refuses to create an access entry for a principal that has one (CreateAccessEntry:
ResourceInUseException). It creates an EC2_LINUX entry by itself for the node role of every
managed node group (EKS user guide, "Grant IAM users access to Kubernetes with EKS access
entries": "Amazon EKS automatically creates access entries ... for managed node groups"), so the
role of nodes that Karpenter launches must be another role with an entry of its own, and no
admin entry may name a node role.
"""

from __future__ import annotations

from infra.plan.checks import Finding, PlannedStack

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"


def check(stack: PlannedStack) -> list[Finding]:
    owners: dict[str, str] = {}
    findings = []
    for group in stack.of_type(NODE_GROUP):
        owners.setdefault(str(group.inputs.get("nodeRoleArn")), f"the entry EKS creates for managed node group {group.name}")
    for entry in stack.of_type(ACCESS_ENTRY):
        principal = str(entry.inputs.get("principalArn"))
        if principal in owners:
            findings.append(
                Finding(
                    "access_entries",
                    f"{ACCESS_ENTRY} {entry.name}",
                    f"{principal} already has an access entry ({owners[principal]}): EKS refuses a second one",
                )
            )
        else:
            owners[principal] = f"access entry {entry.name}"
    return findings
