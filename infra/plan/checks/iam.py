"""The Karpenter controller may do everything Karpenter's reference policy allows, no narrower.

Karpenter calls the EC2, IAM, EKS, SQS, SSM, Pricing and ARC APIs listed in its reference
CloudFormation for the pinned version (data/karpenter-controller-policy-v1.14.json, with its
source); an action missing from the controller's policy, or granted only under an extra
condition, fails at run time in ways that show up as nodes that never launch (for example
`pricing:GetProducts` scoped to the stack's region: the Price List API answers only in
us-east-1 and two other regions). Each reference statement must be covered by one statement of
the stack's policy with the same action, the same resource and no condition the reference
does not have.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.plan.checks import Finding, PlannedStack

REFERENCE = Path(__file__).resolve().parent / "data" / "karpenter-controller-policy-v1.14.json"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KARPENTER_POLICY_SUFFIX = "-karpenter-policy"


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def reference_statements(substitutions: dict[str, str]) -> list[dict]:
    text = REFERENCE.read_text()
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    return json.loads(text)["Statement"]


def _conditions_within(ours: dict, reference: dict) -> bool:
    """Every condition of ours is also a condition of the reference statement (ours is no narrower)."""
    for operator, pairs in ours.items():
        for key, value in pairs.items():
            if (reference.get(operator) or {}).get(key) != value:
                return False
    return True


def uncovered(policy: dict, reference: list[dict]) -> list[str]:
    """`action on resource` pairs of the reference that no statement of `policy` grants as widely."""
    allows = [s for s in policy.get("Statement", []) if s.get("Effect") == "Allow"]
    missing = []
    for statement in reference:
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                if not any(
                    action in _as_list(ours.get("Action"))
                    and (resource in _as_list(ours.get("Resource")) or "*" in _as_list(ours.get("Resource")))
                    and _conditions_within(ours.get("Condition") or {}, statement.get("Condition") or {})
                    for ours in allows
                ):
                    missing.append(f"{action} on {resource} ({statement['Sid']})")
    return missing


def check(stack: PlannedStack) -> list[Finding]:
    findings = []
    for registration in stack.of_type(ROLE_POLICY):
        if not registration.name.endswith(KARPENTER_POLICY_SUFFIX):
            continue
        policy = json.loads(registration.inputs.get("policy") or "{}")
        granted = policy.get("Statement", [])
        cluster_arn = next(s["Resource"] for s in granted if s.get("Action") == "eks:DescribeCluster")
        partition, region, account = cluster_arn.split(":")[1], cluster_arn.split(":")[3], cluster_arn.split(":")[4]
        substitutions = {
            "${AWS::Partition}": partition,
            "${AWS::Region}": region,
            "${AWS::AccountId}": account,
            "${ClusterName}": cluster_arn.rsplit("/", 1)[1],
            "${KarpenterNodeRole.Arn}": next(s["Resource"] for s in granted if s.get("Action") == "iam:PassRole"),
            "${KarpenterInterruptionQueue.Arn}": next(
                s["Resource"] for s in granted if "sqs:ReceiveMessage" in _as_list(s.get("Action"))
            ),
        }
        for gap in uncovered(policy, reference_statements(substitutions)):
            findings.append(
                Finding(
                    "iam", f"{ROLE_POLICY} {registration.name}", f"does not grant {gap} as Karpenter 1.14's reference policy does"
                )
            )
    return findings
