"""Which AWS resources belong to an environment, as the account shows them (boto3).

A resource belongs to the environment when
- it carries the environment's `environment` tag, in any spelling of the key (Resource Groups
  Tagging API GetResources, which returns tagged resources of every service in the region);
- it is the environment's EKS cluster (mode `create`) or one of the cluster's managed node
  groups, or an Auto Scaling group of those node groups or tagged for the cluster;
- it is an EC2 instance of the cluster: tagged by EKS (`eks:cluster-name`), by Karpenter or the
  cloud provider (`kubernetes.io/cluster/<name>`), or, for a VPC this stack created, any
  instance in that VPC (an untagged instance there is still the environment's);
- it is a volume attached to such an instance, or the instance's primary network interface
  (device index 0, created with the instance from the launch template). Secondary interfaces
  that the VPC CNI attaches later carry the CNI's own tags and cost nothing; they are not audited.

Read-only calls and the IAM actions they need (Service Authorization Reference):
tag:GetResources, eks:DescribeCluster, eks:ListNodegroups, eks:DescribeNodegroup,
autoscaling:DescribeAutoScalingGroups, ec2:DescribeInstances, ec2:DescribeVolumes,
ec2:DescribeNetworkInterfaces, ec2:DescribeSubnets, ec2:DescribeVpcs, budgets:ViewBudget, and
sts:GetCallerIdentity (needs none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from infra.audit.errors import AuditError

# IAM action behind each call, named in the error when the account refuses it.
ACTIONS = {
    "GetResources": "tag:GetResources",
    "DescribeCluster": "eks:DescribeCluster",
    "ListNodegroups": "eks:ListNodegroups",
    "DescribeNodegroup": "eks:DescribeNodegroup",
    "DescribeAutoScalingGroups": "autoscaling:DescribeAutoScalingGroups",
    "DescribeInstances": "ec2:DescribeInstances",
    "DescribeVolumes": "ec2:DescribeVolumes",
    "DescribeNetworkInterfaces": "ec2:DescribeNetworkInterfaces",
    "DescribeSubnets": "ec2:DescribeSubnets",
    "DescribeVpcs": "ec2:DescribeVpcs",
    "DescribeBudgets": "budgets:ViewBudget",
    "GetCallerIdentity": "sts:GetCallerIdentity",
}
# EC2 DescribeVolumes/DescribeNetworkInterfaces accept at most 200 values per filter.
FILTER_CHUNK = 200
LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")


@dataclass(frozen=True)
class Found:
    kind: str  # e.g. ec2:instance, ec2:volume, ec2:network-interface, eks:cluster, autoscaling:group
    id: str
    tags: dict[str, str]
    via: str  # why it belongs to the environment


@dataclass
class Inventory:
    items: dict[str, Found] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, item: Found) -> None:
        self.items.setdefault(item.id, item)


def call(client: Any, operation: str, **kwargs: Any) -> dict:
    """One API call; refusals and missing credentials become AuditError naming the fix."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
    try:
        return method(**kwargs)
    except NoCredentialsError:
        raise AuditError(
            "no AWS credentials: set AWS_PROFILE (or --profile) or the AWS_* variables of an account that may read the environment"
        ) from None
    except NoRegionError:
        raise AuditError("no AWS region: the environment's region is used; set AWS_DEFAULT_REGION if this persists") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"):
            raise AuditError(
                f"{operation} was refused ({code}): the identity needs {ACTIONS.get(operation, operation)}"
            ) from None
        raise


def _tags(pairs: list[dict] | None) -> dict[str, str]:
    return {p["Key"]: p.get("Value", "") for p in pairs or []}


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict]:
    """Every item of a paginated listing (bounded: 10,000 pages)."""
    items: list[dict] = []
    token_in, token_out = {
        "GetResources": ("PaginationToken", "PaginationToken"),
        "DescribeAutoScalingGroups": ("NextToken", "NextToken"),
        "DescribeInstances": ("NextToken", "NextToken"),
        "DescribeVolumes": ("NextToken", "NextToken"),
        "DescribeNetworkInterfaces": ("NextToken", "NextToken"),
        "ListNodegroups": ("nextToken", "nextToken"),
    }[operation]
    token = None
    for _ in range(10_000):
        page = call(client, operation, **kwargs, **({token_in: token} if token else {}))
        items += page.get(key) or []
        token = page.get(token_out)
        if not token:
            return items
    raise AuditError(f"{operation}: more than 10,000 pages; narrow the account or region")


def _is_environment_key(key: str) -> bool:
    return re.sub(r"[-_ .:]", "", key).lower() == "environment"


def _of_environment(tags: dict[str, str], environment: str) -> bool:
    return any(_is_environment_key(k) and v == environment for k, v in tags.items())


def _of_cluster(tags: dict[str, str], cluster: str) -> bool:
    return (
        tags.get("eks:cluster-name") == cluster
        or tags.get("aws:eks:cluster-name") == cluster
        or f"kubernetes.io/cluster/{cluster}" in tags
    )


def _launched_by(tags: dict[str, str], fallback: str) -> str:
    if "eks:nodegroup-name" in tags:
        return f"launched by node group {tags['eks:nodegroup-name']}"
    if "karpenter.sh/nodepool" in tags:
        return f"launched by Karpenter NodePool {tags['karpenter.sh/nodepool']}"
    if "aws:autoscaling:groupName" in tags:
        return f"launched by Auto Scaling group {tags['aws:autoscaling:groupName']}"
    return fallback


def _arn_id(arn: str) -> tuple[str, str]:
    """(kind, id) of an ARN; EC2 resources by their id so they merge with the EC2 listings."""
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5]
    kind, _, ident = resource.partition("/")
    if service == "ec2" and ident:
        return f"ec2:{kind}", ident
    return f"{service}:{kind or resource}", arn


def _environment_vpc(ec2: Any, described: dict | None, environment: str, inventory: Inventory) -> str | None:
    """The VPC this stack created: the cluster's (from its subnets when DescribeCluster does not
    name it), else the one VPC tagged with the environment."""
    subnets = ((described or {}).get("resourcesVpcConfig") or {}).get("subnetIds") or []
    if subnets:
        found = call(ec2, "DescribeSubnets", SubnetIds=subnets[:FILTER_CHUNK]).get("Subnets") or []
        vpcs = {s["VpcId"] for s in found}
        if len(vpcs) == 1:
            return vpcs.pop()
    tagged = call(ec2, "DescribeVpcs", Filters=[{"Name": "tag:environment", "Values": [environment]}]).get("Vpcs") or []
    if len(tagged) == 1:
        return tagged[0]["VpcId"]
    inventory.notes.append(
        "the environment's VPC was not found: instances are matched by their cluster and environment tags only"
    )
    return None


def collect(session: Any, environment: str, cluster: str, cluster_created: bool) -> Inventory:
    """Everything of `environment` the account shows in the session's region."""
    inventory = Inventory()
    eks = session.client("eks")
    vpc_id = None
    from botocore.exceptions import ClientError

    try:
        described = call(eks, "DescribeCluster", name=cluster)["cluster"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        described = None
        inventory.notes.append(f"EKS cluster {cluster!r} not found in {session.region_name}")
    nodegroup_asgs: set[str] = set()
    if described:
        vpc_id = (described.get("resourcesVpcConfig") or {}).get("vpcId")
        if cluster_created:
            inventory.add(Found("eks:cluster", described["arn"], dict(described.get("tags") or {}), "the environment's cluster"))
        for name in _pages(eks, "ListNodegroups", "nodegroups", clusterName=cluster):
            group = call(eks, "DescribeNodegroup", clusterName=cluster, nodegroupName=name)["nodegroup"]
            inventory.add(
                Found("eks:nodegroup", group["nodegroupArn"], dict(group.get("tags") or {}), f"node group of cluster {cluster}")
            )
            for asg in (group.get("resources") or {}).get("autoScalingGroups") or []:
                nodegroup_asgs.add(asg["name"])

    autoscaling = session.client("autoscaling")
    for group in _pages(autoscaling, "DescribeAutoScalingGroups", "AutoScalingGroups"):
        tags = {t["Key"]: t.get("Value", "") for t in group.get("Tags") or []}
        name = group["AutoScalingGroupName"]
        if name in nodegroup_asgs or _of_cluster(tags, cluster) or _of_environment(tags, environment):
            inventory.add(
                Found(
                    "autoscaling:group",
                    group.get("AutoScalingGroupARN", name),
                    tags,
                    _launched_by(tags, f"Auto Scaling group of cluster {cluster}"),
                )
            )

    ec2 = session.client("ec2")
    if cluster_created:
        vpc_id = _environment_vpc(ec2, described, environment, inventory) if vpc_id is None else vpc_id
    instance_ids = []
    for reservation in _pages(ec2, "DescribeInstances", "Reservations"):
        for instance in reservation.get("Instances") or []:
            if (instance.get("State") or {}).get("Name") not in LIVE_STATES:
                continue
            tags = _tags(instance.get("Tags"))
            in_vpc = cluster_created and vpc_id is not None and instance.get("VpcId") == vpc_id
            if in_vpc or _of_cluster(tags, cluster) or _of_environment(tags, environment):
                fallback = f"in the environment's VPC {vpc_id}" if in_vpc else f"node of cluster {cluster}"
                inventory.add(Found("ec2:instance", instance["InstanceId"], tags, _launched_by(tags, fallback)))
                instance_ids.append(instance["InstanceId"])
    for start in range(0, len(instance_ids), FILTER_CHUNK):
        chunk = instance_ids[start : start + FILTER_CHUNK]
        for volume in _pages(ec2, "DescribeVolumes", "Volumes", Filters=[{"Name": "attachment.instance-id", "Values": chunk}]):
            owner = next((a["InstanceId"] for a in volume.get("Attachments") or []), "?")
            inventory.add(Found("ec2:volume", volume["VolumeId"], _tags(volume.get("Tags")), f"volume of instance {owner}"))
        for eni in _pages(
            ec2, "DescribeNetworkInterfaces", "NetworkInterfaces", Filters=[{"Name": "attachment.instance-id", "Values": chunk}]
        ):
            attachment = eni.get("Attachment") or {}
            if attachment.get("DeviceIndex", 0) != 0:
                continue
            tags = _tags(eni.get("TagSet"))
            inventory.add(
                Found(
                    "ec2:network-interface",
                    eni["NetworkInterfaceId"],
                    tags,
                    f"primary interface of instance {attachment.get('InstanceId', '?')}",
                )
            )

    tagging = session.client("resourcegroupstaggingapi")
    for mapping in _pages(tagging, "GetResources", "ResourceTagMappingList"):
        tags = _tags(mapping.get("Tags"))
        if _of_environment(tags, environment):
            kind, ident = _arn_id(mapping["ResourceARN"])
            inventory.add(Found(kind, ident, tags, "tagged with the environment"))
    return inventory
