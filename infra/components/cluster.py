"""The EKS cluster: created with its IAM, encryption and system node group, or attached by name.

Either way the component exposes the same `ClusterHandle`, so node pools, add-ons and the
serving release do not care which mode the environment chose.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts import NODE_POOL_LABEL, SYSTEM_POOL
from infra import iam_policies
from infra.components.launch_template import tag_node_group_asg, tagged_launch_template
from infra.config.models import ClusterConfig
from infra.oncall_rbac import ONCALL_GROUP

# EKS-managed add-ons. The cluster is created without EKS's self-managed copies
# (`bootstrapSelfManagedAddons: false`, EKS API CreateCluster), so these are the only ones and
# nothing conflicts; `resolve_conflicts_on_create` still overwrites a copy an existing cluster
# may hold. Networking comes before any node, or nodes never turn Ready; CoreDNS needs nodes.
NETWORK_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
NODE_ADDONS = ("coredns",)
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator"]
# The chart's NetworkPolicies (model pods reachable only from the gateway and Prometheus) are
# only enforced when the VPC CNI runs its network policy agent.
ADDON_CONFIGURATION = {"vpc-cni": json.dumps({"enableNetworkPolicy": "true"}, sort_keys=True)}
# Cluster-wide admin for the roles in cluster.admin_role_arns (EKS access policies).
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@dataclass
class ClusterHandle:
    """What the rest of the program needs to know about the cluster, whatever its mode."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]
    service_cidr: pulumi.Output[str]
    # Managed node groups (system and GPU) share this role; EKS creates its access entry.
    node_role_arn: pulumi.Output[str]
    # Nodes Karpenter launches use a role of their own with an access entry this stack creates:
    # EKS refuses a second entry for the managed node groups' role (one entry per principal).
    karpenter_node_role_arn: pulumi.Output[str] | None
    karpenter_node_role_name: pulumi.Output[str] | None
    kubernetes_version: str


def kubeconfig(name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` (no static credentials in it)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def node_role(name: str, policies: tuple[str, ...], parent: pulumi.Resource) -> aws.iam.Role:
    """An IAM role EC2 nodes assume, with the AWS-managed node policies attached."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        name,
        assume_role_policy=iam_policies.dumps(iam_policies.assume_role("ec2.amazonaws.com")),
        opts=child,
    )
    for index, arn in enumerate(policies):
        aws.iam.RolePolicyAttachment(f"{name}-{index}", role=role.name, policy_arn=arn, opts=child)
    return role


class EksCluster(pulumi.ComponentResource):
    """A new EKS cluster (IAM, KMS envelope encryption of Secrets, logs, core add-ons, a CPU
    system node group), or an existing cluster looked up by name."""

    def __init__(
        self,
        name: str,
        config: ClusterConfig,
        region: str,
        cost_tags: dict[str, str],
        *,
        karpenter_nodes: bool,
        protect: bool,
        private_subnet_ids: Sequence[pulumi.Input[str]] | None = None,
        public_subnet_ids: Sequence[pulumi.Input[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:eks:Cluster", name, None, opts)
        role = node_role(f"{name}-node-role", iam_policies.EKS_NODE_POLICIES, self)
        karpenter_role = (
            node_role(f"{name}-karpenter-node-role", iam_policies.KARPENTER_NODE_POLICIES, self) if karpenter_nodes else None
        )

        if config.mode == "create":
            cluster = self._create(name, config, private_subnet_ids or [], public_subnet_ids or [], protect)
            addons = self._addons(name, cluster.name, NETWORK_ADDONS, [])
            group = self._system_node_group(name, config, cluster, role, private_subnet_ids or [], cost_tags, addons)
            self._addons(name, cluster.name, NODE_ADDONS, [group])
            cluster_name = cluster.name
            arn = cluster.arn
            endpoint = cluster.endpoint
            certificate = cluster.certificate_authority.apply(lambda ca: ca["data"])
            security_group = cluster.vpc_config.apply(lambda vpc: vpc["cluster_security_group_id"])
            vpc_id = cluster.vpc_config.apply(lambda vpc: vpc["vpc_id"])
            subnets = pulumi.Output.all(*(private_subnet_ids or [])).apply(list)
            # Fixed in the config (cluster.network.service_cidr) so that policies can name the API
            # server's ClusterIP range; EKS would otherwise pick 10.100.0.0/16 or 172.20.0.0/16.
            service_cidr = pulumi.Output.from_input(config.effective_network.service_cidr)
        else:
            existing = aws.eks.get_cluster_output(name=config.name, opts=pulumi.InvokeOutputOptions(parent=self))
            cluster_name = existing.name
            arn = existing.arn
            endpoint = existing.endpoint
            certificate = existing.certificate_authorities.apply(lambda cas: cas[0]["data"])
            security_group = existing.vpc_config.apply(lambda vpc: vpc["cluster_security_group_id"])
            vpc_id = existing.vpc_config.apply(lambda vpc: vpc["vpc_id"])
            subnets = (
                pulumi.Output.from_input(list(config.subnet_ids))
                if config.subnet_ids
                else existing.vpc_config.apply(lambda vpc: sorted(vpc["subnet_ids"]))
            )
            service_cidr = existing.kubernetes_network_configs.apply(lambda configs: configs[0]["service_ipv4_cidr"])

        if karpenter_role is not None:
            aws.eks.AccessEntry(
                f"{name}-karpenter-nodes",
                cluster_name=cluster_name,
                principal_arn=karpenter_role.arn,
                type="EC2_LINUX",
                opts=pulumi.ResourceOptions(parent=self),
            )
        for index, role_arn in enumerate(config.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{index}",
                cluster_name=cluster_name,
                principal_arn=role_arn,
                type="STANDARD",
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}",
                cluster_name=cluster_name,
                principal_arn=entry.principal_arn,
                policy_arn=CLUSTER_ADMIN_POLICY,
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self),
            )

        # On-call: the Kubernetes group of infra/oncall_rbac.py and no EKS access policy, so the
        # RBAC objects OncallAccess creates are all it may do (EKS docs, "Grant IAM users access to
        # Kubernetes with EKS access entries": `kubernetesGroups`).
        for index, role_arn in enumerate(config.oncall_role_arns):
            aws.eks.AccessEntry(
                f"{name}-oncall-{index}",
                cluster_name=cluster_name,
                principal_arn=role_arn,
                type="STANDARD",
                kubernetes_groups=[ONCALL_GROUP],
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.handle = ClusterHandle(
            name=cluster_name,
            arn=arn,
            endpoint=endpoint,
            certificate_authority=certificate,
            security_group_id=security_group,
            vpc_id=vpc_id,
            subnet_ids=subnets,
            service_cidr=service_cidr,
            node_role_arn=role.arn,
            karpenter_node_role_arn=karpenter_role.arn if karpenter_role else None,
            karpenter_node_role_name=karpenter_role.name if karpenter_role else None,
            kubernetes_version=config.kubernetes_version,
        )
        self.kubeconfig = pulumi.Output.all(cluster_name, endpoint, certificate).apply(
            lambda args: kubeconfig(args[0], args[1], args[2], region)
        )
        self.register_outputs({"name": cluster_name, "endpoint": endpoint, "node_role_arn": role.arn})

    def _create(
        self,
        name: str,
        config: ClusterConfig,
        private_subnet_ids: Sequence[pulumi.Input[str]],
        public_subnet_ids: Sequence[pulumi.Input[str]],
        protect: bool,
    ) -> aws.eks.Cluster:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=iam_policies.dumps(iam_policies.assume_role("eks.amazonaws.com")),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-cluster-role-{i}", role=role.name, policy_arn=arn, opts=child)
            for i, arn in enumerate(iam_policies.EKS_CLUSTER_POLICIES)
        ]
        # Envelope encryption of Kubernetes Secrets (the managed API key lives in one). Losing the
        # key makes every Secret of the cluster unreadable: protected where state matters.
        key = aws.kms.Key(
            f"{name}-secrets",
            description=f"EKS secrets envelope encryption for {config.name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.kms.Alias(f"{name}-secrets", name=f"alias/{config.name}-eks-secrets", target_key_id=key.key_id, opts=child)
        access = config.api_access
        return aws.eks.Cluster(
            name,
            name=config.name,
            version=config.kubernetes_version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": [*private_subnet_ids, *public_subnet_ids],
                # Nodes always reach the API privately; the runner of `pulumi up` over the public
                # endpoint from the listed CIDRs only (cluster.api_access).
                "endpoint_private_access": True,
                "endpoint_public_access": access.mode == "public",
                "public_access_cidrs": list(access.public_cidrs) if access.mode == "public" else None,
            },
            kubernetes_network_config={"service_ipv4_cidr": config.effective_network.service_cidr},
            bootstrap_self_managed_addons=False,
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments, protect=protect),
        )

    def _addons(
        self, name: str, cluster_name: pulumi.Input[str], addons: tuple[str, ...], after: list[pulumi.Resource]
    ) -> list[aws.eks.Addon]:
        return [
            aws.eks.Addon(
                f"{name}-{addon}",
                cluster_name=cluster_name,
                addon_name=addon,
                configuration_values=ADDON_CONFIGURATION.get(addon),
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                opts=pulumi.ResourceOptions(parent=self, depends_on=after or None),
            )
            for addon in addons
        ]

    def _system_node_group(
        self,
        name: str,
        config: ClusterConfig,
        cluster: aws.eks.Cluster,
        role: aws.iam.Role,
        subnet_ids: Sequence[pulumi.Input[str]],
        cost_tags: dict[str, str],
        network_addons: list[aws.eks.Addon],
    ) -> aws.eks.NodeGroup:
        system = config.system_node_group
        template = tagged_launch_template(
            f"{name}-system",
            cost_tags=cost_tags,
            instance_name=f"{config.name}-system",
            disk_size_gib=system.disk_size_gib,
            ami_family="al2023",
            parent=self,
        )
        group = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_role_arn=role.arn,
            subnet_ids=subnet_ids,
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=[system.instance_type],
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            scaling_config={"min_size": system.min_nodes, "max_size": system.max_nodes, "desired_size": system.min_nodes},
            update_config={"max_unavailable": 1},
            # Node labels go to the kubelet's --node-labels: cost tags (plain keys) and our own
            # domain only; the kubelet refuses kubernetes.io / k8s.io keys (infra/plan/checks/node_labels.py).
            labels={**cost_tags, NODE_POOL_LABEL: SYSTEM_POOL},
            # cluster-autoscaler owns desired_size after creation; Pulumi must not reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"], depends_on=network_addons),
        )
        tag_node_group_asg(f"{name}-system", group, cost_tags, self)
        return group
