"""`gateway` (the OpenAI-compatible gateway: image, scaling, settings, secrets, ingress, policy)
and `routeOverride` (the drain switch) of the chart values. A new gateway value is one field of
`Gateway` (or of one of its sections) with its default and description; the chart's values.yaml,
values.schema.json and README table follow from `gpt-oss-platform reference --write`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from contracts import (
    CLIENT_KEYS_SECRET,
    GATEWAY_IMAGE_NAME,
    GATEWAY_PORT,
    GATEWAY_SERVICE_ACCOUNT,
    MANAGED_API_KEY_SECRET,
    NODE_POOL_LABEL,
    ROUTE_OVERRIDE_CONFIGMAP,
)
from infra.chart_values.model.base import (
    Digest,
    DnsName,
    IpBlock,
    Item,
    Labels,
    PullPolicy,
    Resources,
    ScrapeInterval,
    Section,
    internet,
)
from infra.sizing import GATEWAY_MEMORY_LIMIT_MIB


class GatewayImage(Section):
    repository: str = Field(
        default=f"ghcr.io/example/{GATEWAY_IMAGE_NAME}",
        min_length=1,
        description="Gateway image, built from serving/gateway/Dockerfile.",
    )
    tag: str = Field(default="", description="Gateway image tag; empty when the image is pulled by digest only.")
    digest: Digest = Field(default="", description="Gateway image digest (`sha256:...`); when set the image is pulled by digest.")
    pullPolicy: PullPolicy = Field(default="IfNotPresent", description="Pull policy of the gateway image.")


class GatewayAutoscaling(Section):
    enabled: bool = Field(default=True, description="HorizontalPodAutoscaler on CPU.")
    minReplicas: int = Field(
        default=2, ge=1, description="Fewest gateway pods; 2 or more so that a node drain never drops the endpoint."
    )
    maxReplicas: int = Field(default=6, ge=1, description="Most gateway pods.")
    targetCPUUtilizationPercentage: int = Field(default=70, ge=1, le=100, description="Average CPU utilisation the HPA aims for.")


class ContainerResources(Item):
    """Requests and limits of a container."""

    requests: Resources = Field(description="What the scheduler reserves.")
    limits: Resources = Field(description="What the container may use at most.")


class GatewayService(Section):
    port: int = Field(default=GATEWAY_PORT, ge=1024, le=65535, description="Port of the gateway Service (and container).")


class GatewayIngress(Section):
    enabled: bool = Field(
        default=False, description="Create a LoadBalancer Service (AWS Network Load Balancer) for clients outside the cluster."
    )
    scheme: Literal["internal", "internet-facing"] = Field(
        default="internal", description="`internal` (the VPC and networks routed to it) or `internet-facing`."
    )
    certificateArn: str = Field(
        default="",
        pattern=r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$",
        description="ACM certificate ARN; the load balancer terminates TLS with it. Required when enabled.",
    )
    port: int = Field(default=443, ge=1, le=65535, description="Port the load balancer listens on (TLS).")
    sourceCidrs: list[str] = Field(
        default_factory=list,
        description="Client CIDRs the load balancer and the gateway's NetworkPolicy admit. Never leave an internet-facing one "
        "open to 0.0.0.0/0.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="AWS tags of the load balancer (the cost tags): it is launched by the cloud provider, outside Pulumi.",
    )


class PodDisruption(Section):
    enabled: bool = Field(default=True, description="PodDisruptionBudget over the gateway pods.")
    maxUnavailable: int = Field(default=1, ge=1, description="Gateway pods a voluntary disruption may take at once.")


class LabelSelectorRequirement(Item):
    key: str = Field(description="Label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="How the key's value is matched.")
    values: list[str] | None = Field(default=None, description="Values for In and NotIn.")


class LabelSelector(Item):
    """A label selector; empty selects everything."""

    matchLabels: dict[str, str] | None = Field(default=None, description="Labels that must all match.")
    matchExpressions: list[LabelSelectorRequirement] | None = Field(default=None, description="Requirements that must all hold.")


class NetworkPolicyPeer(Item):
    """A NetworkPolicy peer
    (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec)."""

    podSelector: LabelSelector | None = Field(
        default=None, description="Pods (in the policy's namespace, or in namespaceSelector's)."
    )
    namespaceSelector: LabelSelector | None = Field(default=None, description="Namespaces; `{}` is every namespace.")
    ipBlock: IpBlock | None = Field(default=None, description="Addresses outside the cluster.")


class GatewayNetworkPolicy(Section):
    ingressFrom: list[NetworkPolicyPeer] = Field(
        default_factory=lambda: [NetworkPolicyPeer(namespaceSelector=LabelSelector())],
        min_length=1,
        description="Who may call the gateway on 8080: NetworkPolicy peers. The default, any pod in any namespace, keeps "
        "the gateway reachable cluster-wide; narrow it to your clients' namespaces (Prometheus is always allowed).",
    )
    managedApiEgress: list[IpBlock] = Field(
        default_factory=internet,
        description="Where the gateway reaches the managed API (port 443). NetworkPolicy cannot name api.openai.com, and "
        "its addresses are not fixed, so the default is the internet minus private ranges; with an egress proxy, "
        "put the proxy's CIDR here instead.",
    )


class ServiceMonitor(Section):
    enabled: bool = Field(
        default=False,
        description="Render a ServiceMonitor (monitoring.coreos.com/v1) for the gateway's /metrics. Needs the Prometheus Operator CRDs.",
    )
    interval: ScrapeInterval = Field(default="30s", description="Scrape interval.")
    labels: Labels = Field(
        default_factory=dict, description="Extra labels, e.g. the `release` label your Prometheus selects monitors by."
    )


class Gateway(Section):
    # The schema says it too (if enabled then settings), so a hand-written values file is refused at render.
    model_config = Section.model_config | {
        "json_schema_extra": {
            "if": {"properties": {"enabled": {"const": True}}},
            "then": {"properties": {"settings": {"minProperties": 1}}},
        }
    }

    enabled: bool = Field(default=False, description="Deploy the OpenAI-compatible gateway (serving/gateway). Needs `settings`.")
    image: GatewayImage = Field(default_factory=GatewayImage, description="The gateway image.")
    replicas: int = Field(default=2, ge=1, description="Replicas when autoscaling is off.")
    autoscaling: GatewayAutoscaling = Field(
        default_factory=GatewayAutoscaling, description="The gateway's HorizontalPodAutoscaler."
    )
    resources: ContainerResources = Field(
        default_factory=lambda: ContainerResources(
            requests=Resources(cpu="250m", memory="256Mi"), limits=Resources(cpu="1", memory=f"{GATEWAY_MEMORY_LIMIT_MIB}Mi")
        ),
        description="Requests and limits of the gateway container. The memory limit is the one the plan checks the "
        "gateway's connection cap and request size against (docs/serving.md 'Capacity'): raise both together.",
    )
    # Free-form here: its model is the gateway's own (serving/gateway/settings.py GatewaySettings), which
    # infra/ may not import (tests/test_import_graph.py); tests/infra/test_gateway_settings.py validates
    # every environment's settings against it.
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="The gateway's settings object, written verbatim to `gateway.json`. Its shape is the gateway's settings "
        "model (serving/gateway/settings.py `GatewaySettings`); this repository derives it from the environment "
        "(infra/gateway_settings.py `settings_for_environment`).",
    )
    clientKeysSecret: str = Field(
        default=CLIENT_KEYS_SECRET,
        min_length=1,
        description="Secret (key `clients.json`) with the client API keys, created outside Git by the operator.",
    )
    managedApiKeySecret: str = Field(
        default=MANAGED_API_KEY_SECRET,
        min_length=1,
        description="Secret (key `api-key`) with the managed API key, created by Pulumi from the `managedApiKey` secret.",
    )
    managedApiKeyOptional: bool = Field(
        default=False, description="Start without the managed API key Secret (environments that never fall back)."
    )
    service: GatewayService = Field(default_factory=GatewayService, description="The gateway's ClusterIP Service.")
    ingress: GatewayIngress = Field(default_factory=GatewayIngress, description="Access from outside the cluster.")
    nodeSelector: dict[str, str] = Field(
        default_factory=dict,
        description=f"Node selector of the gateway, e.g. `{{{NODE_POOL_LABEL}: system}}` for the CPU system nodes.",
    )
    podDisruptionBudget: PodDisruption = Field(
        default_factory=PodDisruption, description="Disruption budget of the gateway pods."
    )
    networkPolicy: GatewayNetworkPolicy = Field(
        default_factory=GatewayNetworkPolicy, description="Who may call the gateway, and where it may go."
    )
    serviceMonitor: ServiceMonitor = Field(default_factory=ServiceMonitor, description="Prometheus scraping of the gateway.")

    @model_validator(mode="after")
    def _settings_when_enabled(self) -> Gateway:
        if self.enabled and not self.settings:
            raise ValueError("gateway.enabled needs gateway.settings (infra/gateway_settings.py settings_for_environment)")
        return self


class RouteOverride(Section):
    enabled: bool = Field(
        default=False,
        description="The drain switch (docs/operating.md): give the gateway a service account that may get, list and watch "
        "exactly one ConfigMap, `configMapName`, which `gpt-oss-platform drain` writes. Needs `gateway.enabled`, and the "
        "gateway settings' `route_override` naming the same ConfigMap. The chart never creates the ConfigMap: an upgrade "
        "would reset an on-call engineer's drain; no ConfigMap means automatic routing.",
    )
    configMapName: DnsName = Field(
        default=ROUTE_OVERRIDE_CONFIGMAP,
        description="Name of the ConfigMap the gateway watches (contracts.ROUTE_OVERRIDE_CONFIGMAP).",
    )
    serviceAccountName: DnsName = Field(
        default=GATEWAY_SERVICE_ACCOUNT, description="Service account of the gateway pods (its token is mounted only for this)."
    )
