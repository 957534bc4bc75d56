"""`governor` of the chart values: the cost governor's controller (infra/operate/governor),
templates/governor.yaml. A new governor value is one field here with its default and description."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from infra.chart_values.model.base import (
    Digest,
    DnsName,
    IpBlock,
    Labels,
    PullPolicy,
    Resources,
    ScrapeInterval,
    Section,
    internet,
)


class GovernorImage(Section):
    repository: str = Field(
        default="ghcr.io/example/gpt-oss-governor",
        min_length=1,
        description="Governor image, built from infra/operate/governor/Dockerfile (the `governor` dependency group).",
    )
    tag: str = Field(default="0.1.0", description="Image tag (the project version); empty when pulled by digest only.")
    digest: Digest = Field(default="", description="Image digest (`sha256:...`); when set the image is pulled by digest.")
    pullPolicy: PullPolicy = Field(default="IfNotPresent", description="Pull policy of the governor image.")


class GovernorNodePool(Section):
    provisioner: Literal["managed_node_group", "karpenter"] = Field(
        default="managed_node_group",
        description="What holds the GPU pool's floor: an EKS managed node group (its minSize, through the EKS API with "
        "Pod Identity) or a Karpenter NodePool (no node minimum: the worker pods min_replicas keeps hold the nodes).",
    )
    name: str = Field(default="", description="Node group or NodePool name of the serving pool.")
    clusterName: str = Field(default="", description="EKS cluster name (managed node group only).")
    region: str = Field(default="", description="AWS region of the cluster (managed node group only).")


class GovernorPodMonitor(Section):
    enabled: bool = Field(
        default=False,
        description="Render a PodMonitor for the governor's /metrics (decisions, floor, expected saving). Needs the "
        "Prometheus Operator CRDs.",
    )
    interval: ScrapeInterval = Field(default="60s", description="Scrape interval.")
    labels: Labels = Field(default_factory=dict, description="Extra labels, e.g. the `release` your Prometheus selects by.")


class Governor(Section):
    # The schema says it too (if enabled then settings), so a hand-written values file is refused at render.
    model_config = Section.model_config | {
        "json_schema_extra": {
            "if": {"properties": {"enabled": {"const": True}}},
            "then": {"properties": {"settings": {"minProperties": 1}}},
        }
    }

    enabled: bool = Field(
        default=False,
        description='Deploy the cost governor (docs/cost.md "Cost governor"): one active replica (Lease leader '
        "election) that moves the serving floor with the traffic. Needs `settings`.",
    )
    mode: Literal["recommend", "enforce"] = Field(
        default="recommend",
        description="`recommend`: decisions as metrics and Events, nothing changed, and RBAC to read only; `enforce`: "
        "also patch the RayService's `min_replicas` and the GPU pool's floor (RBAC adds `patch` on those two objects). "
        "Review a week of recommendations before turning on `enforce`.",
    )
    replicas: int = Field(
        default=2, ge=1, le=3, description="Pods; one is active (it holds the Lease), the others wait to take over."
    )
    image: GovernorImage = Field(default_factory=GovernorImage, description="The governor image.")
    serviceAccountName: DnsName = Field(default="gpt-oss-governor", description="Service account of the governor pods.")
    leaseName: DnsName = Field(default="gpt-oss-governor", description="Lease (coordination.k8s.io) of the leader election.")
    nodePool: GovernorNodePool = Field(default_factory=GovernorNodePool, description="The GPU pool whose floor it sets.")
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="100m", memory="256Mi"),
        description="Requests = limits of the governor container; a decision is a few milliseconds of arithmetic.",
    )
    nodeSelector: dict[str, str] = Field(default_factory=dict, description="Node selector, e.g. the CPU system nodes.")
    awsApiEgress: list[IpBlock] = Field(
        default_factory=internet,
        description="Where the EKS API (eks.<region>.amazonaws.com, port 443) may be reached, in enforce mode with a managed "
        "node group; NetworkPolicy cannot name a host. Narrow it to a VPC endpoint's subnets where you have one.",
    )
    podMonitor: GovernorPodMonitor = Field(default_factory=GovernorPodMonitor, description="Scraping of the governor.")
    # Free-form here: its model is the controller's (infra/operate/governor/settings.py
    # ControllerSettings); tests/charts/test_governor_chart.py validates every environment's against it.
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="The controller's settings, written verbatim to `governor.json`: Prometheus URL, the policy's knobs, "
        "the cost model (from `cost compare`'s code) and the objects it reads and patches. This repository derives it "
        "from the environment (infra/chart_values/governor.py).",
    )

    @model_validator(mode="after")
    def _settings_when_enabled(self) -> Governor:
        if self.enabled and not self.settings:
            raise ValueError("governor.enabled needs governor.settings (infra/chart_values/governor.py governor_values)")
        return self
