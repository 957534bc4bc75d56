"""The typed environment configuration: one per stack, validated once at the entry point.

Field-level rules live on the fields and sections. Rules that join sections (the model on the
node pool, replicas against pool capacity) live in `infra/config/rules.py` and run once, in
`infra.config.load.validate_environment`, the only way to build an `EnvironmentConfig` that the
program, the plan and the CLI accept. Unknown keys are errors everywhere (`extra="forbid"`).
This module imports nothing of the toolkit but the catalog.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts import GATEWAY_IMAGE_NAME, GOVERNOR_IMAGE_NAME, MAX_USER_TAGS, REQUIRED_TAG_KEYS
from infra.catalog import load_catalog
from infra.models.config import ServedModelsConfig

NAME_RE = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
# Kubernetes label values: the same strings are AWS tags and Kubernetes labels, so they must
# satisfy the stricter of the two (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/).
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34", "1.35")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class NetworkConfig(Strict):
    """A new VPC for a new cluster: private subnets for nodes, public subnets for load balancers."""

    vpc_cidr: str = Field(default="10.40.0.0/16", description="CIDR of the new VPC; a /16 leaves room for pods on the VPC CNI.")
    availability_zones: int = Field(default=3, ge=2, le=3, description="How many zones get a public and a private subnet.")
    single_nat_gateway: bool = Field(
        default=True, description="One NAT gateway for all zones (cheaper) instead of one per zone (survives a zone outage)."
    )
    service_cidr: str = Field(
        default="172.20.0.0/16",
        description="Kubernetes Service CIDR of the new cluster (fixed so network policies can name the API "
        "server's ClusterIP range); must not overlap the VPC.",
    )

    @field_validator("service_cidr")
    @classmethod
    def _service_cidr(cls, value: str) -> str:
        network = ipaddress.ip_network(value, strict=True)
        if not 12 <= network.prefixlen <= 24:
            raise ValueError("must be a /12 to /24 (EKS API KubernetesNetworkConfigRequest.serviceIpv4Cidr)")
        return str(network)

    @model_validator(mode="after")
    def _disjoint(self) -> NetworkConfig:
        if ipaddress.ip_network(self.vpc_cidr).overlaps(ipaddress.ip_network(self.service_cidr)):
            raise ValueError(
                f"service_cidr {self.service_cidr} overlaps vpc_cidr {self.vpc_cidr}: pick ranges that do not overlap"
            )
        return self

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        network = ipaddress.ip_network(value, strict=True)
        if not 16 <= network.prefixlen <= 20:
            raise ValueError("must be a /16 to /20: pods take VPC addresses on the VPC CNI, and each zone needs room")
        return str(network)


class SystemNodeGroupConfig(Strict):
    """CPU nodes for the Ray head, the gateway, operators and add-ons."""

    instance_type: str = Field(default="m7i.large", description="CPU instance type from the catalog.")
    min_nodes: int = Field(default=2, ge=1, le=20, description="Never below 2 in prod: the gateway and its PDB need two nodes.")
    max_nodes: int = Field(default=4, ge=1, le=50, description="Upper bound for cluster-autoscaler.")
    disk_size_gib: int = Field(default=50, ge=20, le=500, description="Root volume size (gp3).")

    @field_validator("instance_type")
    @classmethod
    def _known_cpu_instance(cls, value: str) -> str:
        spec = load_catalog().instances.get(value)
        if spec is None or spec.gpu is not None:
            known = sorted(k for k, v in load_catalog().instances.items() if v.gpu is None)
            raise ValueError(f"not a CPU instance type in the catalog; known: {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> SystemNodeGroupConfig:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        return self


def _cidrs(value: list[str]) -> list[str]:
    """Normalised CIDRs; a host address with bits set (10.0.0.1/16) is refused, not guessed at."""
    out = []
    for cidr in value:
        try:
            out.append(str(ipaddress.ip_network(cidr, strict=True)))
        except ValueError:
            raise ValueError(f"{cidr!r} is not a network in CIDR notation (e.g. 203.0.113.0/24)") from None
    return out


class ApiAccessConfig(Strict):
    """How the machine that runs `pulumi up` (a laptop or a CI runner) reaches the Kubernetes API.

    The same `up` that creates the cluster creates namespaces, Secrets and Helm releases in it, so
    the runner must reach the API server. `public`: the endpoint is public, restricted to
    `public_cidrs` (private access stays on for the nodes). `private`: no public endpoint; the
    runner sits inside the cluster's VPC (or a network routed to it). A VPC this stack creates
    cannot hold the runner before the first `up`, so `private` needs `cluster.mode: existing`
    (or switch a created cluster to `private` once a runner inside its VPC exists).
    """

    mode: Literal["public", "private"] = Field(
        "public", description="`public` (restricted to public_cidrs) or `private` (runner inside the VPC)."
    )
    public_cidrs: list[str] = Field(
        default_factory=list,
        description="Source CIDRs allowed to reach a public endpoint: your office/VPN egress and your CI "
        "runners' egress. Required with mode `public`; ignored by an existing cluster (its endpoint is not managed here).",
    )

    @field_validator("public_cidrs")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        return _cidrs(value)

    @model_validator(mode="after")
    def _consistent(self) -> ApiAccessConfig:
        if self.mode == "public" and not self.public_cidrs:
            raise ValueError(
                "public_cidrs is required with mode `public`: list the egress CIDRs of the machines that run "
                "`pulumi up` (e.g. [203.0.113.0/24]); `0.0.0.0/0` opens the API server to the internet"
            )
        if self.mode == "private" and self.public_cidrs:
            raise ValueError("public_cidrs is only for mode `public`; a private endpoint has no public address")
        return self


class ClusterConfig(Strict):
    """The EKS cluster: created by this stack with its network, or an existing one attached by name."""

    mode: Literal["create", "existing"] = Field(description="`create` builds VPC + EKS; `existing` attaches by name.")
    name: str = Field(pattern=NAME_RE, description="EKS cluster name (new or existing).")
    kubernetes_version: str = Field(
        "1.35", description=f"EKS version for a new cluster; one of {', '.join(KUBERNETES_VERSIONS)}."
    )
    api_access: ApiAccessConfig = Field(description="How the runner of `pulumi up` reaches the Kubernetes API.")
    admin_role_arns: list[str] = Field(
        default_factory=list,
        description="IAM roles given cluster-admin through an EKS access entry (platform team), besides the identity "
        "that creates the cluster. On-call engineers: oncall_role_arns.",
    )
    oncall_role_arns: list[str] = Field(
        default_factory=list,
        description="IAM roles of the on-call engineers: an EKS access entry with the Kubernetes group "
        "`gpt-oss:oncall`, which may do exactly what the runbooks do (infra/oncall_rbac.py; docs/operating.md "
        "'On-call access'), nothing more. A role listed here must not be in admin_role_arns.",
    )
    network: NetworkConfig | None = Field(None, description="The new VPC; only with mode `create`.")
    subnet_ids: list[str] | None = Field(
        None, description="Private subnets for node groups of an existing cluster; default: the cluster's subnets."
    )
    system_node_group: SystemNodeGroupConfig = Field(
        default_factory=SystemNodeGroupConfig, description="CPU node group for everything that is not a model replica."
    )

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in KUBERNETES_VERSIONS:
            raise ValueError(f"must be one of {', '.join(KUBERNETES_VERSIONS)}")
        # Past the end of extended support EKS creates no cluster on the version and upgrades
        # existing control planes on its own (EKS release calendar, infra/catalog/eks_versions.yaml).
        # Extended support itself is allowed; the plan warns about its extra cost.
        eks = load_catalog().eks
        today = date.today()
        if eks.support(value, today) == "ended":
            ended = eks.versions[value].end_of_extended_support
            standard = [v for v in KUBERNETES_VERSIONS if eks.support(v, today) == "standard"]
            fix = (
                f"use {' or '.join(standard)} (in standard support)"
                if standard
                else "add a newer version to infra/catalog/eks_versions.yaml"
            )
            raise ValueError(
                f"EKS ended extended support for Kubernetes {value} on {ended.isoformat()}: it creates no new "
                f"cluster on it and upgrades existing control planes on its own; {fix}"
            )
        return value

    @field_validator("admin_role_arns", "oncall_role_arns")
    @classmethod
    def _role_arns(cls, value: list[str]) -> list[str]:
        bad = [arn for arn in value if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", arn)]
        if bad:
            raise ValueError(f"not IAM role ARNs (arn:aws:iam::<account>:role/<name>): {', '.join(bad)}")
        if len(set(value)) != len(value):
            raise ValueError("lists a role twice: EKS refuses a second access entry for the same principal")
        return value

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            bad = [s for s in value if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", s)]
            if bad:
                raise ValueError(f"not subnet ids: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _mode_fields(self) -> ClusterConfig:
        both = sorted(set(self.admin_role_arns) & set(self.oncall_role_arns))
        if both:
            raise ValueError(
                f"oncall_role_arns lists {', '.join(both)}, already in admin_role_arns: EKS refuses a second access "
                "entry for the same principal; keep each role in one list"
            )
        if self.mode == "create" and self.subnet_ids is not None:
            raise ValueError("subnet_ids is only for mode `existing`; a new cluster makes its own subnets")
        if self.mode == "existing" and self.network is not None:
            raise ValueError("network is only for mode `create`; an existing cluster keeps its VPC")
        if self.mode == "create" and self.api_access.mode == "private":
            raise ValueError(
                "api_access.mode `private` with mode `create`: the runner of `pulumi up` cannot be inside a VPC "
                "that this `up` creates, so it could not reach the API to install anything. Create with mode "
                "`public` and public_cidrs, then switch to `private` once a runner inside the VPC exists"
            )
        return self

    @property
    def effective_network(self) -> NetworkConfig:
        return self.network or NetworkConfig()


class ModelConfig(Strict):
    """Which gpt-oss model this environment serves, pinned to a weights revision."""

    name: Literal["gpt-oss-20b", "gpt-oss-120b"] = Field(description="Model served by the RayService.")
    revision: str = Field(
        pattern=r"^[0-9a-f]{40}$", description="Hugging Face commit of the weights (40 hex digits): a pinned revision."
    )
    source: Literal["huggingface", "s3"] = Field(
        "huggingface",
        description="`huggingface` downloads at start-up; `s3` reads from this environment's weights bucket "
        "(stage them first, see docs/serving.md).",
    )

    @model_validator(mode="after")
    def _revision_of_this_model(self) -> ModelConfig:
        # Switching `name` without `revision` would pin the new repository to the old one's
        # commit, which does not exist there: replicas would fail at download time, not here.
        for other, spec in load_catalog().models.items():
            if other != self.name and self.revision == spec.default_revision:
                own = load_catalog().models[self.name].default_revision
                raise ValueError(
                    f"revision {self.revision} is the pinned commit of {other} ({spec.hf_repo}), not of {self.name}: "
                    f"set model.revision to a commit of {self.hf_repo} (the catalog's is {own})"
                )
        return self

    @property
    def hf_repo(self) -> str:
        return load_catalog().models[self.name].hf_repo


class NodePoolConfig(Strict):
    """A pool of identical GPU nodes. With `capacity_type: spot`, `on_demand_floor` nodes stay on-demand."""

    name: str = Field(pattern=NAME_RE, description="Pool name; becomes part of node group and label names.")
    gpu: str = Field(description="GPU model (L4, A10G, L40S, A100-40G, H100, H200); normalised, e.g. `a10` -> `A10G`.")
    instance_type: str = Field(description="EC2 instance type from the catalog; must carry the `gpu` above.")
    capacity_type: Literal["on_demand", "spot"] = Field(description="Capacity of the nodes above the on-demand floor.")
    min_nodes: int = Field(ge=0, le=100, description="Nodes kept running; 0 lets the pool scale to zero.")
    max_nodes: int = Field(ge=1, le=100, description="Upper bound for the autoscaler.")
    on_demand_floor: int = Field(
        0, ge=0, le=100, description="With spot: this many nodes are on-demand and never preempted (<= min_nodes)."
    )
    provisioner: Literal["managed_node_group", "karpenter"] = Field(
        "managed_node_group",
        description="EKS managed node group (+ cluster-autoscaler) or Karpenter NodePool + EC2NodeClass.",
    )
    ami_family: Literal["al2023", "bottlerocket"] = Field(
        "al2023",
        description="AL2023 NVIDIA (driver included; this stack installs the device plugin) or Bottlerocket NVIDIA "
        "(driver and device plugin included).",
    )
    disk_size_gib: int = Field(200, ge=100, le=2000, description="Root volume (gp3): image (~20 GB), weights cache and logs.")
    ami_release: str | None = Field(
        None,
        description="Pin of the node image. Karpenter: alias version (`v20260714` for AL2023, `v1.63.0` for "
        "Bottlerocket; default pinned in infra/versions.py). Managed node group: EKS AMI release version "
        "(`1.33.5-20251112`; infra/catalog/eks_amis.yaml lists them); default: EKS' latest for the cluster version at creation, then held.",
    )

    @field_validator("gpu", mode="before")
    @classmethod
    def _normalise_gpu(cls, value: object) -> object:
        if isinstance(value, str):
            canonical = load_catalog().normalise_gpu(value)
            if canonical is None:
                raise ValueError(f"unknown GPU; known: {', '.join(sorted(load_catalog().gpus))}")
            return canonical
        return value

    @field_validator("instance_type")
    @classmethod
    def _known_gpu_instance(cls, value: str) -> str:
        spec = load_catalog().instances.get(value)
        if spec is None or spec.gpu is None:
            known = sorted(k for k, v in load_catalog().instances.items() if v.gpu)
            raise ValueError(f"not a GPU instance type in the catalog; known: {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> NodePoolConfig:
        errors = []
        carried = load_catalog().instances[self.instance_type].gpu
        if carried != self.gpu:
            errors.append(f"instance_type {self.instance_type} carries {carried}, not {self.gpu}")
        if self.min_nodes > self.max_nodes:
            errors.append(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        if self.capacity_type == "on_demand" and self.on_demand_floor:
            errors.append("on_demand_floor only applies to capacity_type spot; with on_demand every node is on-demand")
        if self.on_demand_floor > self.min_nodes:
            errors.append(f"on_demand_floor ({self.on_demand_floor}) is above min_nodes ({self.min_nodes})")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @property
    def gpus_per_node(self) -> int:
        return load_catalog().instances[self.instance_type].gpu_count

    @property
    def spot_max_nodes(self) -> int:
        """Nodes that may run on spot (0 when the pool is on-demand)."""
        return self.max_nodes - self.on_demand_floor if self.capacity_type == "spot" else 0


class GcsFaultToleranceConfig(Strict):
    """Ray GCS fault tolerance backed by Redis, so a head restart keeps the Serve applications.

    `managed` provisions an ElastiCache replication group (primary + replica in two zones,
    encrypted at rest, reachable only from the cluster's security group); `external` points
    at a Redis you run. Mutually exclusive: `redis_address` and `redis_password_secret` are
    only for `external`.
    """

    enabled: bool = Field(default=False, description="Turn on GCS FT; recommended for prod.")
    redis: Literal["managed", "external"] = Field(
        default="managed", description="`managed`: this stack creates ElastiCache; `external`: use `redis_address`."
    )
    redis_node_type: str = Field(
        default="cache.t4g.small", description="ElastiCache node type for `managed` (GCS data is small)."
    )
    redis_address: str | None = Field(
        default=None, description="host:port of a Redis the cluster can reach; only and required for `external`."
    )
    redis_password_secret: str | None = Field(
        default=None, description="`external` only: a Kubernetes Secret (key `password`) in the serving namespace."
    )

    @model_validator(mode="after")
    def _address(self) -> GcsFaultToleranceConfig:
        if self.redis == "external":
            if self.enabled and not self.redis_address:
                raise ValueError("redis_address is required when enabled is true and redis is `external`")
        elif self.redis_address or self.redis_password_secret:
            raise ValueError("redis_address and redis_password_secret are for redis `external`; `managed` makes its own")
        if self.redis_address and not re.fullmatch(r"[A-Za-z0-9.-]+:\d{2,5}", self.redis_address):
            raise ValueError(f"redis_address must be host:port, got {self.redis_address!r}")
        if self.redis_node_type not in load_catalog().services.elasticache_usd_per_node_hour:
            known = ", ".join(sorted(load_catalog().services.elasticache_usd_per_node_hour))
            raise ValueError(f"redis_node_type {self.redis_node_type!r} is not in the catalog; known: {known}")
        return self

    @property
    def managed(self) -> bool:
        return self.enabled and self.redis == "managed"


class ServingConfig(Strict):
    """The RayService: replicas, context length and parallelism of the model."""

    node_pool: str | None = Field(None, description="Node pool that hosts replicas; default: the only pool.")
    min_replicas: int = Field(ge=0, le=64, description="Replicas kept warm; 0 allows scale to zero (cold starts).")
    max_replicas: int = Field(ge=1, le=64, description="Upper bound for Ray Serve autoscaling.")
    max_model_len: int = Field(
        32768, ge=1024, le=131072, description="Longest prompt+completion in tokens; set to the real need."
    )
    tensor_parallel: int | None = Field(None, description="Force a TP degree (1, 2, 4, 8); default: smallest that fits.")
    gpu_memory_utilization: float | None = Field(
        None, ge=0.5, le=0.98, description="vLLM memory fraction; default 0.95 on Hopper at TP=1, else 0.90."
    )
    target_ongoing_requests: int = Field(32, ge=1, le=1024, description="Ray Serve autoscaling target per replica.")
    max_ongoing_requests: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="Requests one replica runs before Ray Serve queues (a short bounded queue, then 503). null: derived "
        "from the replica's KV cache, equal to vLLM's max_num_seqs (docs/serving.md 'Capacity'); a value above "
        "max_num_seqs is refused.",
    )
    release_managed_by: Literal["pulumi", "gitops"] = Field(
        "pulumi",
        description="Who installs the serving chart's release: `pulumi` (this stack) or `gitops` (Argo CD or Flux "
        "applies `gpt-oss-platform gitops render` output; the stack keeps the cloud side and installs no release).",
    )
    upgrade_strategy: Literal["NewCluster", "NewClusterWithIncrementalUpgrade", "None"] = Field(
        "NewCluster",
        description="KubeRay upgrade on rayClusterConfig change. NewCluster is blue/green and needs GPU headroom "
        "for a second set of replicas; NewClusterWithIncrementalUpgrade is alpha and needs Gateway API; "
        "None replaces nothing (apply cluster changes by hand).",
    )
    gcs_fault_tolerance: GcsFaultToleranceConfig = Field(
        default_factory=GcsFaultToleranceConfig, description="External Redis for the Ray GCS."
    )

    @field_validator("upgrade_strategy")
    @classmethod
    def _supported_upgrade(cls, value: str) -> str:
        if value == "NewClusterWithIncrementalUpgrade":
            raise ValueError(
                "needs a Gateway API GatewayClass and the RayServiceIncrementalUpgrade feature gate on the KubeRay "
                "operator (alpha in KubeRay 1.7); this toolkit has no field for the GatewayClass yet. Use "
                "NewCluster (blue/green, needs GPU headroom) or None"
            )
        return value

    @field_validator("tensor_parallel")
    @classmethod
    def _tp(cls, value: int | None) -> int | None:
        if value is not None and value not in (1, 2, 4, 8):
            raise ValueError("must be 1, 2, 4 or 8")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> ServingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        if self.max_ongoing_requests is not None and self.target_ongoing_requests > self.max_ongoing_requests:
            raise ValueError(
                f"target_ongoing_requests ({self.target_ongoing_requests}) is above "
                f"max_ongoing_requests ({self.max_ongoing_requests})"
            )
        return self


class FallbackConfig(Strict):
    """The managed API behind the self-hosted model."""

    allowed: bool = Field(description="Whether non-sovereign traffic may fall back to the managed API.")
    model: str = Field("o4-mini", description="Managed model used as fallback; must be in the price catalog.")
    base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible base URL of the managed API.")
    sovereign_only: str | None = Field(
        None,
        description="With `allowed: false`: the statement of why this environment never uses the managed API "
        "(e.g. `customer data stays in our account`). The prod tier requires fallback or this statement.",
    )

    @field_validator("model")
    @classmethod
    def _priced(cls, value: str) -> str:
        if value not in load_catalog().managed_api:
            raise ValueError(f"no price for it; priced models: {', '.join(sorted(load_catalog().managed_api))}")
        return value

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL: the managed API key travels on it")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _sovereign_statement(self) -> FallbackConfig:
        # Mutually exclusive: a statement that the environment never falls back, on an
        # environment that does, would mislead whoever reads it.
        if self.allowed and self.sovereign_only is not None:
            raise ValueError("sovereign_only states that the environment never falls back; it needs allowed: false")
        if self.sovereign_only is not None and not self.sovereign_only.strip():
            raise ValueError("sovereign_only must say why (a sentence), or be left out")
        return self


class GatewayImageConfig(Strict):
    """The gateway container image, pinned by digest (built by CI from serving/gateway/Dockerfile)."""

    repository: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*$",
        description="Image repository, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-gateway`; "
        "default: the ECR repository this stack creates.",
    )
    digest: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Image digest (`sha256:...`) the CI build recorded in the release pins. Required by `pulumi up`; "
        "the offline plan uses a placeholder and says so.",
    )


class GatewayIngressConfig(Strict):
    """How clients outside the cluster reach the gateway: an AWS Network Load Balancer that terminates
    TLS with an ACM certificate and admits only `source_cidrs`."""

    enabled: bool = Field(default=False, description="Create the load balancer Service; false: in-cluster clients only.")
    scheme: Literal["internal", "internet-facing"] = Field(
        default="internal", description="`internal` (reachable from the VPC and networks routed to it) or `internet-facing`."
    )
    certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$",
        description="ACM certificate for TLS on port 443 (it must cover the DNS name clients use). Required when enabled.",
    )
    source_cidrs: list[str] = Field(
        default_factory=list,
        description="Client CIDRs the load balancer and the gateway's NetworkPolicy admit; default: the VPC's CIDR.",
    )

    @field_validator("source_cidrs")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        return _cidrs(value)

    @model_validator(mode="after")
    def _tls(self) -> GatewayIngressConfig:
        if self.enabled and self.certificate_arn is None:
            raise ValueError(
                "certificate_arn is required when enabled: clients send API keys, so the load balancer terminates "
                "TLS with an ACM certificate (request one for the gateway's DNS name), or set enabled: false"
            )
        if self.scheme == "internet-facing" and (not self.source_cidrs or "0.0.0.0/0" in self.source_cidrs):
            raise ValueError(
                "an internet-facing gateway needs source_cidrs listing its clients (not 0.0.0.0/0): every request "
                "is still authenticated, but the allow-list keeps key-guessing and floods off the GPUs"
            )
        return self


class GatewayConfig(Strict):
    """The OpenAI-compatible gateway Deployment and its routing knobs."""

    min_replicas: int = Field(default=2, ge=1, le=50, description="HPA minimum; 2+ so a node drain never drops the endpoint.")
    max_replicas: int = Field(default=6, ge=1, le=100, description="HPA maximum.")
    first_byte_timeout_s: float = Field(
        default=20.0, gt=0, le=600, description="Give up on the self-hosted model if no byte arrives in this time (hung engine)."
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="Saturation ceiling per gateway pod: above this many in-flight primary requests, fall back. null: "
        "derived, so that min_replicas pods admit what the GPU replicas take (docs/serving.md 'Capacity'); a value "
        "that would send traffic to the managed API while the replicas at their floor have room is refused.",
    )
    circuit_failure_threshold: int = Field(default=5, ge=1, le=1000, description="Consecutive failures that open the circuit.")
    circuit_open_seconds: float = Field(default=10.0, gt=0, le=3600, description="How long an open circuit waits before a probe.")
    max_n: int = Field(
        default=4, ge=1, le=128, description="Largest `n` (choices per request) a client may ask for: each is a whole generation."
    )
    shared_limits: bool = Field(
        default=True,
        description="Share per-key rate limits and monthly spend across gateway pods through the environment's Redis "
        "(the managed or external Ray GCS store, under its own key prefix) when it has one; without one, or when "
        "false, every pod counts alone (a key may reach its limit once per pod).",
    )
    image: GatewayImageConfig = Field(default_factory=GatewayImageConfig, description="The gateway image, by digest.")
    ingress: GatewayIngressConfig = Field(
        default_factory=GatewayIngressConfig,
        description="The way in for clients outside the cluster (off by default: in-cluster clients only).",
    )

    @model_validator(mode="after")
    def _bounds(self) -> GatewayConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        return self


class ObservabilityConfig(Strict):
    """Metrics, dashboards and alerts."""

    install_prometheus_stack: bool = Field(
        default=True,
        description="Install kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana, "
        "kube-state-metrics) in namespace `monitoring`. Turn off only where the cluster already runs the "
        "Prometheus Operator: the chart's ServiceMonitor, PodMonitor and PrometheusRule need its CRDs.",
    )
    retention: str = Field(default="15d", pattern=r"^\d+[hdw]$", description="How long Prometheus keeps samples (e.g. `15d`).")


class TagsConfig(Strict):
    """Cost-allocation tags. Values double as Kubernetes labels, so they must be label-safe."""

    cost_center: str = Field(alias="cost-center", description="Finance cost center, e.g. `cc-4120`.")
    team: str = Field(description="Owning team handle, e.g. `ml-platform`.")
    owner: str = Field(description="Accountable person or rota handle, label-safe (no `@`), e.g. `jdoe`.")
    extra: dict[str, str] = Field(
        default_factory=dict, description="More tags; keys lower-case with hyphens, like the required ones."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    @field_validator("cost_center", "team", "owner")
    @classmethod
    def _label_safe(cls, value: str) -> str:
        if not value or len(value) > 63 or not LABEL_VALUE_RE.match(value):
            raise ValueError(
                "must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit "
                "(it is also a Kubernetes label value)"
            )
        return value

    @field_validator("extra")
    @classmethod
    def _extra(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", k)]
        if bad:
            raise ValueError(f"keys must be lower-case words joined by '-': {', '.join(sorted(bad))}")
        bad_values = [k for k, v in value.items() if len(v) > 63 or not LABEL_VALUE_RE.match(v)]
        if bad_values:
            raise ValueError(f"values must be label-safe (<= 63 chars, [A-Za-z0-9-_.]): {', '.join(sorted(bad_values))}")
        total = len(set(value) | set(REQUIRED_TAG_KEYS))
        if total > MAX_USER_TAGS:
            raise ValueError(
                f"{total} tags with the {len(REQUIRED_TAG_KEYS)} required ones exceed the limit of {MAX_USER_TAGS} "
                f"per resource (AWS allows 50 and its services add their own); remove {total - MAX_USER_TAGS} extra tag(s)"
            )
        return value


class BudgetConfig(Strict):
    """An AWS Budget on this environment's tagged spend."""

    monthly_usd: float = Field(gt=0, description="Monthly cost budget in USD, filtered by the environment tag.")
    alert_thresholds_percent: list[Annotated[int, Field(gt=0, le=500)]] = Field(
        default_factory=lambda: [50, 80, 100], description="Actual-spend alerts, percent of the budget."
    )
    forecast_alert_percent: int | None = Field(100, gt=0, le=500, description="Forecast alert; null turns it off.")
    notify_emails: list[str] = Field(min_length=1, description="Who receives the alerts.")

    @field_validator("notify_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [e for e in value if not EMAIL_RE.match(e)]
        if bad:
            raise ValueError(f"not email addresses: {', '.join(bad)}")
        return value


class EscalationStep(Strict):
    """One step of the escalation path: who is reached, and after how long without an answer."""

    after_minutes: int = Field(ge=0, le=1440, description="Minutes after the page when this step is reached (0: at once).")
    contact: str = Field(
        min_length=3, max_length=200, description="Who and how, as an engineer would type it: a rota, a person, a phone bridge."
    )


class OncallConfig(Strict):
    """Who answers for this environment: rendered into every runbook (`gpt-oss-platform runbooks`)."""

    team: str = Field(min_length=2, max_length=100, description="Team that owns the environment, e.g. `ML platform`.")
    primary: str = Field(
        min_length=3, max_length=200, description="Who is paged first, e.g. `PagerDuty service ml-platform-prod (primary rota)`."
    )
    escalation: list[EscalationStep] = Field(
        min_length=1, description="Escalation path after the primary, in order of `after_minutes`."
    )
    channel: str = Field(
        min_length=2,
        max_length=100,
        description="Incident chat channel where on-call posts status, e.g. `#ml-platform-incidents`.",
    )
    grafana_url: str | None = Field(
        None,
        description="Base URL of this environment's Grafana where on-call opens dashboards; null: the runbooks "
        "reach it with `kubectl port-forward` (http://localhost:3000).",
    )

    @field_validator("escalation")
    @classmethod
    def _ordered(cls, value: list[EscalationStep]) -> list[EscalationStep]:
        minutes = [step.after_minutes for step in value]
        if minutes != sorted(minutes):
            raise ValueError(f"steps must be in order of after_minutes, got {minutes}")
        return value

    @field_validator("grafana_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an https:// URL without query or fragment, e.g. https://grafana.prod.example.com")
        return value.rstrip("/") if value else value


# Keys that would hold a secret inline in a receiver: refused, and never echoed.
INLINE_SECRET_KEYS = ("api_url", "webhook_url", "routing_key", "service_key", "auth_password", "password", "token")
SEVERITIES = ("critical", "warning", "info")


class SecretKeyRef(Strict):
    """A key of a Kubernetes Secret in namespace `monitoring`, mounted into Alertmanager as a file."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63, description="Secret name.")
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253, description="Key in the Secret.")


class ReceiverConfig(Strict):
    """Where Alertmanager sends notifications. Secrets are referenced, never written here:

    - `slack`: `channel`, and `secret` holding the incoming-webhook URL;
    - `pagerduty`: `secret` holding the Events API v2 routing key;
    - `email`: `to`, `sender`, `smarthost`, optionally `auth_username` with `secret` holding the SMTP password.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$", description="Receiver name, used by `routes`.")
    type: Literal["slack", "pagerduty", "email"] = Field(description="Integration.")
    secret: SecretKeyRef | None = Field(
        None, description="Secret (namespace monitoring) with the webhook URL, routing key or SMTP password."
    )
    channel: str | None = Field(None, pattern=r"^[#@][\w.-]{1,79}$", description="`slack` only: channel, e.g. `#ml-alerts`.")
    to: list[str] | None = Field(None, description="`email` only: recipients.")
    sender: str | None = Field(None, description="`email` only: From address.")
    smarthost: str | None = Field(None, pattern=r"^[A-Za-z0-9.-]+:\d{2,5}$", description="`email` only: SMTP host:port.")
    auth_username: str | None = Field(None, description="`email` only: SMTP user (the password is `secret`).")
    send_resolved: bool = Field(True, description="Also notify when the alert resolves.")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: object) -> object:
        if isinstance(data, dict):
            inline = sorted(k for k in data if k in INLINE_SECRET_KEYS)
            if inline:
                # The value is replaced before the error is raised: the error shows its input.
                for key in inline:
                    data[key] = "<not shown>"
                raise ValueError(
                    f"{', '.join(inline)}: a secret is never written in the config; put it in a Kubernetes Secret in "
                    "namespace monitoring and reference it with `secret: {name: ..., key: ...}` (docs/operating.md)"
                )
        return data

    @model_validator(mode="after")
    def _fields_of_type(self) -> ReceiverConfig:
        errors = []
        email_only = {"to": self.to, "sender": self.sender, "smarthost": self.smarthost, "auth_username": self.auth_username}
        if self.type != "email":
            errors += [f"{key} is only for type email" for key, value in email_only.items() if value is not None]
        if self.type != "slack" and self.channel is not None:
            errors.append("channel is only for type slack")
        if self.type in ("slack", "pagerduty") and self.secret is None:
            what = "the incoming-webhook URL" if self.type == "slack" else "the Events API v2 routing key"
            errors.append(f"type {self.type} needs secret: {{name, key}} of the Secret holding {what}")
        if self.type == "slack" and self.channel is None:
            errors.append("type slack needs channel")
        if self.type == "email":
            missing = [key for key in ("to", "sender", "smarthost") if not email_only[key]]
            if missing:
                errors.append(f"type email needs {', '.join(missing)}")
            bad = [a for a in [*(self.to or []), *([self.sender] if self.sender else [])] if not EMAIL_RE.match(a)]
            if bad:
                errors.append(f"not email addresses: {', '.join(bad)}")
            if (self.auth_username is None) != (self.secret is None):
                errors.append("auth_username and secret (the SMTP password) go together")
        if errors:
            raise ValueError("; ".join(errors))
        return self


class AlertingConfig(Strict):
    """Alertmanager routing: receivers, and which receivers each severity reaches.

    Rendered into kube-prometheus-stack's Alertmanager config (infra/alert_routing.py), with the
    inhibition rules that silence symptom alerts while their cause fires. Empty: alerts reach no one.
    """

    receivers: list[ReceiverConfig] = Field(default_factory=list, description="Slack, PagerDuty or e-mail receivers.")
    critical: list[str] = Field(default_factory=list, description="Receivers of severity critical (pages).")
    warning: list[str] = Field(default_factory=list, description="Receivers of severity warning (tickets for working hours).")
    info: list[str] = Field(default_factory=list, description="Receivers of severity info (context).")
    repeat_interval: str = Field(default="4h", pattern=r"^\d+[mh]$", description="Re-send a still-firing alert this often.")

    @model_validator(mode="after")
    def _references(self) -> AlertingConfig:
        errors = []
        names = [r.name for r in self.receivers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            errors.append(f"duplicate receiver names: {', '.join(duplicates)}")
        used: set[str] = set()
        for severity in SEVERITIES:
            for name in getattr(self, severity):
                used.add(name)
                if name not in names:
                    errors.append(
                        f"{severity} names receiver {name!r}, which is not defined; receivers: {', '.join(names) or 'none'}"
                    )
        unused = sorted(set(names) - used)
        if unused:
            errors.append(f"receivers not used by any severity: {', '.join(unused)}")
        if self.receivers and not self.critical:
            errors.append("critical has no receiver: a page would reach no one")
        if errors:
            raise ValueError("; ".join(errors))
        return self


class RegistryConfig(Strict):
    """The ECR repositories the gateway and governor images are pushed to, in this environment's AWS account.

    One repository per account: where several environments share an account, exactly one of
    them creates it (`create: true`) and the others name the same repository with `create: false`.
    """

    create: bool = Field(
        default=True, description="This stack creates the repository; false where another stack of the account does."
    )
    repository: str = Field(
        default=GATEWAY_IMAGE_NAME,
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
        max_length=256,
        description="Repository name (ECR rules: lower-case, `/`, `.`, `_`, `-`).",
    )
    governor_repository: str = Field(
        default=GOVERNOR_IMAGE_NAME,
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
        max_length=256,
        description="Repository name of the cost governor's image (infra/operate/governor/Dockerfile), created beside "
        "the gateway's with the same rules.",
    )
    keep_images: int = Field(
        default=200,
        ge=10,
        le=10000,
        description="Images kept; older ones expire. Keep it above the pushes between a release reaching dev and "
        "leaving prod, or the image prod pins by digest can expire.",
    )
    untagged_expire_days: int = Field(
        default=14, ge=1, le=365, description="Untagged images (failed pushes) expire after this many days."
    )


class AccountConfig(Strict):
    """Account-wide resources: exactly one stack of an AWS account creates each (like the registry)."""

    create_spot_service_linked_role: bool = Field(
        default=True,
        description="Create `AWSServiceRoleForEC2Spot` (needed for spot; Karpenter cannot create it) when a pool uses "
        "spot. Set false where another stack of the account creates it or it exists and is not imported "
        "(`gpt-oss-platform preflight` says which).",
    )
    image_cache: Literal["off", "create", "existing"] = Field(
        default="off",
        description="Pull the Ray image (~11.6 GB compressed) through an ECR pull-through cache of Docker Hub instead of "
        "from Docker Hub over the NAT: `create` (this stack creates the account's rule, prefix `docker-hub`), "
        "`existing` (another stack of the account did), `off`.",
    )
    docker_hub_credential_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/.+$",
        description="Secrets Manager secret (name starting `ecr-pullthroughcache/`, keys `username` and `accessToken`) "
        "with a Docker Hub access token; ECR requires one for a Docker Hub cache. Required with image_cache `create`.",
    )
    ray_image_digest: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Digest of the Ray image (release pins `ray_image.digest`); pulled by digest when set.",
    )

    @model_validator(mode="after")
    def _credential(self) -> AccountConfig:
        if self.image_cache == "create" and self.docker_hub_credential_arn is None:
            raise ValueError(
                "image_cache create needs docker_hub_credential_arn: ECR refuses a Docker Hub pull-through cache rule "
                "without credentials (create the secret ecr-pullthroughcache/docker-hub with username and accessToken)"
            )
        return self


class GovernorImageConfig(Strict):
    """The governor's container image, pinned by digest (built by the image workflow from
    infra/operate/governor/Dockerfile, recorded in the release pins)."""

    repository: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*$",
        description="Image repository; default: the ECR repository `registry.governor_repository` of this account.",
    )
    digest: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Image digest (`sha256:...`) the image workflow recorded in the release pins. Until it is set, "
        "`pulumi up` leaves the governor out (bootstrap_pending says so); the offline plan renders a placeholder.",
    )


class GovernorConfig(Strict):
    """The cost governor (docs/cost.md "Cost governor"): moves the serving floor with the traffic
    against break-even, decided by the same cost code as `cost compare`."""

    mode: Literal["off", "recommend", "enforce"] = Field(
        default="recommend",
        description="`off`: not deployed; `recommend`: decisions as metrics and Kubernetes Events, nothing changed "
        "(the default, and what prod runs until its decisions have been reviewed); `enforce`: patch the RayService's "
        "`min_replicas` and the GPU pool's floor.",
    )
    image: GovernorImageConfig = Field(default_factory=GovernorImageConfig, description="The governor image.")
    interval_s: int = Field(default=300, ge=60, le=3600, description="Seconds between two decisions.")
    horizon_hours: int = Field(
        default=24, ge=2, le=168, description="Hours of forecast the decision plans over (time-of-day and weekday profile)."
    )
    history_days: int = Field(
        default=14,
        ge=1,
        le=90,
        description="Days of the gateway's metrics the forecast learns from; within Prometheus' retention.",
    )
    min_dwell_minutes: int = Field(
        default=60,
        ge=0,
        le=1440,
        description="Minutes a floor stays before the next change (a raise for sovereign traffic excepted).",
    )
    max_changes_per_day: int = Field(
        default=6, ge=1, le=48, description="Most floor changes in any 24 hours (a raise for sovereign traffic excepted)."
    )
    hysteresis_usd_per_month: float = Field(
        default=50.0,
        ge=0,
        description="A change must save at least this much, as a monthly rate over the horizon, or the floor stays.",
    )
    sovereign_min_replicas: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Replicas kept whatever the traffic, for sovereign requests that must never wait for a cold start "
        "(the sovereign service level). Above it, the floor keeps what the largest sovereign hour in the history needs.",
    )
    sovereign_learning_hours: int = Field(
        default=168,
        ge=0,
        le=2160,
        description="Hours of history the governor must have seen before it lets the floor reach 0: sovereign traffic "
        "that has not shown up yet may still come (a week covers a weekly rhythm). 0 trusts an empty history.",
    )
    sovereign_teams: list[str] = Field(
        default_factory=list,
        description="Teams (the gateway's `team` label, from the clients file) whose tokens count as sovereign in the "
        "history the governor reads: the gateway's token counters carry no per-request sovereign label.",
    )
    measured_throughput: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/-]*\.ya?ml$",
        description="A measured-throughput file (`gpt-oss-platform bench replica --collect`), relative to the repository "
        "root: the governor's cost model uses its figure for this environment's replica instead of the catalog's, at the "
        "3:1 input:output ratio the governor costs (a figure measured at another ratio is refused at plan time).",
    )

    @field_validator("measured_throughput")
    @classmethod
    def _inside_repository(cls, value: str | None) -> str | None:
        if value is not None and ".." in value.split("/"):
            raise ValueError("must stay inside the repository (no `..`): the chart values are computed from its files")
        return value


class EnvironmentConfig(Strict):
    """Everything that differs between dev, staging and prod.

    Build it with `infra.config.validate_environment`, which also runs the cross-section rules;
    `model_validate` alone checks each section but not how they fit together.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,15}$", description="Environment name; equals the stack name.")
    tier: str = Field(
        description="`dev`, `staging` or `prod`: the guardrails (infra/config/tiers.yaml) and the promotion order "
        "this environment follows."
    )
    region: str = Field(
        pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$",
        description="AWS region, e.g. `us-east-1`: one that exists (infra/catalog/aws_regions.yaml), equal to the "
        "stack's `aws:region`.",
    )
    cluster: ClusterConfig
    model: ModelConfig
    node_pools: list[NodePoolConfig] = Field(min_length=1, description="GPU node pools.")
    serving: ServingConfig
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    fallback: FallbackConfig
    tags: TagsConfig
    budget: BudgetConfig
    protect_stateful: bool = Field(
        True,
        description="Protect what holds state (weights bucket, KMS key, API key secret, GCS Redis) against "
        "`pulumi destroy` and replacement; set false where the environment is disposable (dev).",
    )
    oncall: OncallConfig | None = Field(
        None, description="Who answers for this environment; required to render its runbooks (`gpt-oss-platform runbooks`)."
    )
    alerting: AlertingConfig = Field(default_factory=AlertingConfig, description="Alertmanager receivers and severity routing.")
    registry: RegistryConfig = Field(default_factory=RegistryConfig, description="ECR repository of the gateway image.")
    account: AccountConfig = Field(default_factory=AccountConfig, description="Account-wide resources this stack creates.")
    governor: GovernorConfig = Field(
        default_factory=GovernorConfig, description="The cost governor: the serving floor follows the traffic (docs/cost.md)."
    )

    @model_validator(mode="after")
    def _governor_within_serving(self) -> EnvironmentConfig:
        if self.governor.sovereign_min_replicas > self.serving.max_replicas:
            raise ValueError(
                f"governor.sovereign_min_replicas ({self.governor.sovereign_min_replicas}) is above serving.max_replicas "
                f"({self.serving.max_replicas}): raise serving.max_replicas or lower the sovereign floor"
            )
        return self

    served_models: ServedModelsConfig = Field(
        default_factory=ServedModelsConfig,
        description="LoRA adapters of `model` and further served models, each routed by name (docs/models.md).",
    )

    def serving_pool(self) -> NodePoolConfig:
        """The node pool that hosts model replicas (validate_environment proved it exists)."""
        return find_serving_pool(self.node_pools, self.serving.node_pool)


def find_serving_pool(pools: list[NodePoolConfig], name: str | None) -> NodePoolConfig:
    """`serving.node_pool`, or the only pool when it is not set. KeyError when there is none."""
    if name is None and len(pools) == 1:
        return pools[0]
    for pool in pools:
        if pool.name == name:
            return pool
    raise KeyError(name)
