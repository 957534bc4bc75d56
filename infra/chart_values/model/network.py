"""`networkPolicy` of the chart values: who may talk to the Ray pods, and where they may go."""

from __future__ import annotations

from pydantic import Field

from infra.chart_values.model.base import IpBlock, Section, internet
from infra.versions import KUBERAY_OPERATOR


class DnsPods(Section):
    namespace: str = Field(default="kube-system", min_length=1, description="Namespace of the cluster DNS pods.")
    podLabels: dict[str, str] = Field(
        default_factory=lambda: {"k8s-app": "kube-dns"}, description="Labels of the cluster DNS pods."
    )


class PrometheusPods(Section):
    namespace: str = Field(
        default="monitoring", min_length=1, description="Namespace of the Prometheus that scrapes Ray and gateway metrics."
    )
    podLabels: dict[str, str] = Field(
        default_factory=dict, description="Labels of the Prometheus pods (empty: any pod of that namespace)."
    )


class NetworkPolicy(Section):
    enabled: bool = Field(
        default=True,
        description="Render NetworkPolicies: Ray pods accept traffic only from each other, the gateway (Serve port), Prometheus "
        "(metrics) and the KubeRay operator (head dashboard and Serve health); egress only to DNS, each other and "
        "where weights come from. Needs a CNI that enforces NetworkPolicy (EKS: VPC CNI with network policy on).",
    )
    dns: DnsPods = Field(default_factory=DnsPods, description="The cluster DNS pods every pod may query.")
    prometheus: PrometheusPods = Field(default_factory=PrometheusPods, description="The Prometheus pods allowed to scrape.")
    kuberayOperatorNamespace: str = Field(
        default=KUBERAY_OPERATOR.namespace,
        min_length=1,
        description="Namespace of the KubeRay operator; it calls the head's dashboard (8265) and Serve proxy health (8000).",
    )
    kubeApiServer: list[IpBlock] = Field(
        default_factory=lambda: [IpBlock(cidr="10.0.0.0/8")],
        description="Where the head's Ray autoscaler reaches the Kubernetes API (port 443): the VPC CIDR on EKS, whose "
        "control-plane ENIs live there. List of NetworkPolicy ipBlocks (`{cidr, except}`).",
    )
    weightsEgress: list[IpBlock] = Field(
        default_factory=internet,
        description="Where worker pods may download weights and tiktoken files (port 443): S3 and Hugging Face have no fixed "
        "addresses and NetworkPolicy cannot name a host, so the default is the internet minus private ranges. "
        "With an S3 gateway endpoint and no Hugging Face, narrow it to the S3 prefix list's CIDRs.",
    )
    podIdentityAgent: bool = Field(
        default=True, description="Let worker pods reach the EKS Pod Identity agent (169.254.170.23:80) for S3 credentials."
    )
    redisEgress: list[IpBlock] = Field(
        default_factory=lambda: [IpBlock(cidr="10.0.0.0/8")],
        description="Where the head reaches the GCS Redis (only with gcsFaultTolerance): ipBlocks, plus any pod in the cluster.",
    )
