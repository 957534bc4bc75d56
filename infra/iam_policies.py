"""IAM policy documents as plain dicts (JSON-serialised by the components).

Built in Python rather than with `aws.iam.get_policy_document` so that they need no provider
call, serialise deterministically (sorted keys) and can be golden-tested.
"""

from __future__ import annotations

import json

AWS_MANAGED = "arn:aws:iam::aws:policy"
EKS_CLUSTER_POLICIES = (f"{AWS_MANAGED}/AmazonEKSClusterPolicy",)
EKS_NODE_POLICIES = (
    f"{AWS_MANAGED}/AmazonEKSWorkerNodePolicy",
    f"{AWS_MANAGED}/AmazonEC2ContainerRegistryReadOnly",
    f"{AWS_MANAGED}/AmazonEKS_CNI_Policy",
    # SSM instead of SSH: on-call can open a shell on a GPU node without a key pair.
    f"{AWS_MANAGED}/AmazonSSMManagedInstanceCore",
)


def dumps(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def assume_role(service: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def pod_identity_trust() -> dict:
    """Trust policy for EKS Pod Identity (no OIDC provider needed)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def weights_reader(bucket_arn: str) -> dict:
    """Read-only access to the weights bucket for the Ray worker pods."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "List", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn]},
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket_arn}/*"]},
        ],
    }


def deny_insecure_transport(bucket_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def cluster_autoscaler(cluster_name: str) -> dict:
    """cluster-autoscaler on AWS: describe everything, change only this cluster's groups."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Describe",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ScaleOwnGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
            },
        ],
    }


def karpenter_controller(cluster_name: str, region: str, node_role_arn: str, queue_arn: str, cluster_arn: str) -> dict:
    """The Karpenter controller's permissions, scoped to this cluster's tag where EC2 allows it
    (after Karpenter's reference CloudFormation, v1)."""
    owned = {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}}
    request_owned = {
        "StringEquals": {
            f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
            "aws:RequestTag/eks:eks-cluster-name": cluster_name,
        }
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadOnly",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                    "pricing:GetProducts",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                "Sid": "LaunchWithinCluster",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Resource": [
                    f"arn:aws:ec2:{region}:*:fleet/*",
                    f"arn:aws:ec2:{region}:*:instance/*",
                    f"arn:aws:ec2:{region}:*:volume/*",
                    f"arn:aws:ec2:{region}:*:network-interface/*",
                    f"arn:aws:ec2:{region}:*:launch-template/*",
                    f"arn:aws:ec2:{region}:*:spot-instances-request/*",
                ],
                "Condition": request_owned,
            },
            {
                "Sid": "LaunchFromSharedResources",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [
                    f"arn:aws:ec2:{region}::image/*",
                    f"arn:aws:ec2:{region}::snapshot/*",
                    f"arn:aws:ec2:{region}:*:security-group/*",
                    f"arn:aws:ec2:{region}:*:subnet/*",
                    f"arn:aws:ec2:{region}:*:launch-template/*",
                ],
            },
            {
                "Sid": "TagOnLaunch",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": [
                    f"arn:aws:ec2:{region}:*:fleet/*",
                    f"arn:aws:ec2:{region}:*:instance/*",
                    f"arn:aws:ec2:{region}:*:volume/*",
                    f"arn:aws:ec2:{region}:*:network-interface/*",
                    f"arn:aws:ec2:{region}:*:launch-template/*",
                    f"arn:aws:ec2:{region}:*:spot-instances-request/*",
                ],
                "Condition": {
                    **request_owned,
                    "StringEqualsIfExists": {"ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
                },
            },
            {
                "Sid": "TerminateOwn",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate", "ec2:CreateTags"],
                "Resource": [f"arn:aws:ec2:{region}:*:instance/*", f"arn:aws:ec2:{region}:*:launch-template/*"],
                "Condition": owned,
            },
            {"Sid": "PassNodeRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": node_role_arn},
            {
                "Sid": "InstanceProfiles",
                "Effect": "Allow",
                "Action": [
                    "iam:AddRoleToInstanceProfile",
                    "iam:CreateInstanceProfile",
                    "iam:DeleteInstanceProfile",
                    "iam:GetInstanceProfile",
                    "iam:ListInstanceProfiles",
                    "iam:RemoveRoleFromInstanceProfile",
                    "iam:TagInstanceProfile",
                ],
                "Resource": "*",
            },
            {"Sid": "AmiLookup", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"arn:aws:ssm:{region}::parameter/aws/service/*"},
            {
                "Sid": "Interruptions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
            {"Sid": "Cluster", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": cluster_arn},
        ],
    }


def interruption_queue_policy(queue_arn: str) -> dict:
    """Let EventBridge deliver spot interruption and rebalance events to Karpenter's queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


# EventBridge patterns Karpenter consumes (Karpenter docs, "Interruption").
INTERRUPTION_EVENTS = {
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
}
