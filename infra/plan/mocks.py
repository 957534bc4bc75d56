"""Pulumi's mock engine, recording every resource the program registers.

The mocks answer like AWS would with plausible ids and the outputs the program reads
(cluster endpoint, node group ASG names, availability zones), and remember each
registration: type, name, inputs, provider and which input paths were marked secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import Mocks
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

# The marker Pulumi's wire format uses for a secret value (sdk/proto: "4dabf18193072939515e22adb298388d").
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"
ACCOUNT = "123456789012"
PLACEHOLDER_GENERATED_SECRET = "offline-plan-generated-secret"


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    provider: str | None
    parent: str
    resource_id: str = ""
    secret_paths: set[str] = field(default_factory=set)
    urn: str = ""
    # URNs this resource waits for before the engine creates it: its own `depends_on` plus every
    # resource whose outputs its inputs use (RegisterResourceRequest.dependencies and
    # propertyDependencies), exactly what the Pulumi engine orders steps by.
    dependencies: set[str] = field(default_factory=set)
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    # What the mocked provider answered (the resource's outputs), e.g. a node group's nodeGroupName.
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def provider_name(self) -> str | None:
        """`aws` from a provider reference `urn:pulumi:<stack>::<project>::pulumi:providers:aws::aws::<id>`."""
        parts = (self.provider or "").split("::")
        return parts[3] if len(parts) >= 4 else None


def _fake_id(kind: str, name: str) -> str:
    return f"{kind}-{hashlib.sha1(name.encode()).hexdigest()[:17]}"


def asg_name(node_group: str) -> str:
    """The Auto Scaling group name the mocked EKS gives a node group."""
    return f"eks-{node_group}-{_fake_id('asg', node_group)[4:12]}"


def plain_values(value: Any) -> Any:
    """Inputs as the program meant them: secret envelopes opened (which paths were secret is
    recorded separately) and integers given back their type, since the wire format carries
    every number as a double (CRD schemas with `type: integer` reject `1.0`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE:
            return plain_values(value.get("value"))
        return {key: plain_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_values(item) for item in value]
    return value


def secret_paths(value: Any, path: str = "") -> set[str]:
    """Dotted paths of the values marked secret in a wire-format struct (as a Python dict)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE:
            found.add(path)
            return found
        for key, item in value.items():
            found |= secret_paths(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= secret_paths(item, f"{path}[{index}]")
    return found


class RecordingMonitor(MockMonitor):
    """A mock monitor that also notes which inputs arrived marked secret."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request):
        from google.protobuf import json_format

        raw = json_format.MessageToDict(request.object)
        key = (request.type, request.name)
        self.recorder.pending_secret_paths[key] = secret_paths(raw)
        self.recorder.pending_parents[key] = request.parent
        dependencies = set(request.dependencies)
        for urns in request.propertyDependencies.values():
            dependencies |= set(urns.urns)
        self.recorder.pending_dependencies[key] = dependencies
        self.recorder.pending_options[key] = (bool(request.protect), tuple(request.ignoreChanges))
        response = super().RegisterResource(request)
        self.recorder.set_urn(request.type, request.name, response.urn)
        return response


class RecordingMocks(Mocks):
    def __init__(self, region: str):
        self.region = region
        self.registrations: list[Registration] = []
        self.pending_secret_paths: dict[tuple[str, str], set[str]] = {}
        self.pending_parents: dict[tuple[str, str], str] = {}
        self.pending_dependencies: dict[tuple[str, str], set[str]] = {}
        self.pending_options: dict[tuple[str, str], tuple[bool, tuple[str, ...]]] = {}

    def set_urn(self, type_: str, name: str, urn: str) -> None:
        for registration in reversed(self.registrations):
            if registration.type == type_ and registration.name == name:
                registration.urn = urn
                return

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict]:
        key = (args.typ, args.name)
        resource_id, state = self._outputs(args)
        self.registrations.append(
            Registration(
                type=args.typ,
                name=args.name,
                inputs=plain_values(dict(args.inputs)),
                custom=bool(args.custom),
                provider=args.provider or None,
                parent=self.pending_parents.pop(key, ""),
                resource_id=resource_id,
                secret_paths=self.pending_secret_paths.pop(key, set()),
                dependencies=self.pending_dependencies.pop(key, set()),
                protect=self.pending_options.get(key, (False, ()))[0],
                ignore_changes=self.pending_options.pop(key, (False, ()))[1],
                outputs=plain_values(dict(state)),
            )
        )
        return resource_id, state

    def _outputs(self, args: MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        # Auto-naming, as Pulumi does: the logical name plus a random-looking suffix.
        name = inputs.get("name") or f"{args.name}-{_fake_id('n', args.name)[2:9]}"
        kind = args.typ.split(":")[-1].lower()
        arn = f"arn:aws:{args.typ.split(':')[1].split('/')[0]}:{self.region}:{ACCOUNT}:{kind}/{name}"
        state = {**inputs, "arn": arn}
        if args.typ.startswith("aws:"):
            state.setdefault("name", name)
        resource_id = _fake_id(kind[:6], args.name)
        if args.typ == "aws:eks/cluster:Cluster":
            state.update(
                endpoint=f"https://{_fake_id('eks', args.name)}.gr7.{self.region}.eks.amazonaws.com",
                certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
                vpcConfig={
                    **(inputs.get("vpcConfig") or {}),
                    "clusterSecurityGroupId": _fake_id("sg", args.name),
                    "vpcId": _fake_id("vpc", args.name),
                },
            )
            resource_id = name
        elif args.typ == "aws:eks/nodeGroup:NodeGroup":
            # EKS keeps the name it was given; without one, Pulumi auto-names it (the name above).
            # The mocked Auto Scaling group stays keyed by the logical name (asg_name), which the
            # plan's checks look it up by.
            node_group = inputs.get("nodeGroupName") or name
            state.update(
                nodeGroupName=node_group,
                # EKS's node group ARN: nodegroup/<cluster>/<name>/<uuid> (Service Authorization
                # Reference, Amazon EKS resource type `nodegroup`).
                arn=f"arn:aws:eks:{self.region}:{ACCOUNT}:nodegroup/{inputs.get('clusterName')}/{node_group}/"
                f"{_fake_id('ng', args.name)[3:11]}-0000-0000-0000-{_fake_id('ng', args.name)[11:20]}000",
                resources=[{"autoscalingGroups": [{"name": asg_name(args.name)}]}],
            )
        elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1)
        elif args.typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{args.name}-{_fake_id('b', args.name)[2:10]}"
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
            resource_id = bucket
        elif args.typ == "aws:sqs/queue:Queue":
            queue = inputs.get("name") or f"{args.name}-{_fake_id('q', args.name)[2:8]}"
            state.update(name=queue, url=f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{queue}")
        elif args.typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            state.update(primaryEndpointAddress=f"{name}.{_fake_id('c', name)[2:8]}.ng.0001.use1.cache.amazonaws.com")
        elif args.typ == "random:index/randomPassword:RandomPassword":
            # A fixed stand-in, marked secret by the program; the plan's secret scan looks for it.
            state.update(result=PLACEHOLDER_GENERATED_SECRET)
        elif args.typ == "kubernetes:core/v1:Namespace":
            state.setdefault("metadata", {}).setdefault("name", args.name)
        return resource_id, state

    def call(self, args: MockCallArgs) -> tuple[dict, list | None]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{self.region}{suffix}" for suffix in "abc"], "zoneIds": []}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/offline-plan",
                "userId": "AROAOFFLINEPLAN",
                "id": ACCOUNT,
            }, []
        if args.token == "aws:eks/getCluster:getCluster":
            name = args.args["name"]
            return {
                "name": name,
                "arn": f"arn:aws:eks:{self.region}:{ACCOUNT}:cluster/{name}",
                "endpoint": f"https://{_fake_id('eks', name)}.gr7.{self.region}.eks.amazonaws.com",
                "certificateAuthorities": [{"data": "bW9jaw=="}],
                "vpcConfig": {
                    "clusterSecurityGroupId": _fake_id("sg", name),
                    "vpcId": _fake_id("vpc", name),
                    "subnetIds": [_fake_id("subnet", f"{name}-{i}") for i in range(3)],
                },
                # What EKS picks when a cluster is created without a Service CIDR in a 192.168/16 VPC.
                "kubernetesNetworkConfigs": [{"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"}],
            }, []
        return {}, []
