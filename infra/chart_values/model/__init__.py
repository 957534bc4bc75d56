"""The typed model of charts/gpt-oss-serving's values: the one place a key is declared.

Each key has its type and constraints, its default (the chart's own: gpt-oss-20b on one L4 from
Hugging Face, scaling between zero and one replica, gateway off) and its description. From it:
- `chart_values()` builds an environment's values through it (a key the chart does not know
  cannot be produced);
- `gpt-oss-platform reference --write` writes the chart's values.yaml (`# --` comments),
  values.schema.json and the values table of its README (`--check`, a test, fails on drift).

One module per part of the chart: `ray` (ray, rayService, podDisruptionBudget), `serve` (model,
serve, tiktoken, probes), `network` (networkPolicy), `monitoring` (metrics, alerts), `gateway`
(gateway, routeOverride), `governor`; `base` holds the shared types.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from contracts import APPLICATION
from infra.chart_values.model.base import Item, Labels, LabelValue, Section
from infra.chart_values.model.gateway import Gateway, RouteOverride
from infra.chart_values.model.governor import Governor
from infra.chart_values.model.monitoring import Alerts, Metrics
from infra.chart_values.model.network import NetworkPolicy
from infra.chart_values.model.ray import PodDisruptionBudget, Ray, RayService
from infra.chart_values.model.serve import Model, Probes, Serve, Tiktoken

__all__ = ["ChartValues", "Item", "ObjectLabels", "Section", "dump"]


class ObjectLabels(Section):
    cost: Labels = Field(
        default_factory=dict,
        description="Cost-allocation labels put on every object and pod template (environment, cost-center, team, owner, "
        "application, model, managed-by, stack; see infra/tags.py). Keys and values must be label-safe.",
    )
    instance: LabelValue = Field(default="", description="Value of `app.kubernetes.io/instance` (default: the release name).")
    partOf: LabelValue = Field(default=APPLICATION, description="Value of `app.kubernetes.io/part-of`.")
    managedBy: LabelValue = Field(
        default="Helm",
        description="Value of `app.kubernetes.io/managed-by` (Pulumi installs the release, so the stack says `pulumi`).",
    )


class ChartValues(Section):
    nameOverride: str = Field(
        default="",
        max_length=63,
        description="Replaces the chart name in `app.kubernetes.io/name` of objects that have no component name.",
    )
    fullnameOverride: str = Field(
        default="",
        max_length=40,
        pattern=r"^([a-z]([-a-z0-9]*[a-z0-9])?)?$",
        description="Name prefix of every object (default: the release name). The RayService is named exactly this, "
        "so KubeRay's Serve Service is `<fullname>-serve-svc`: the gateway's base URL depends on it.",
    )
    labels: ObjectLabels = Field(default_factory=ObjectLabels, description="Labels of every object the chart renders.")
    ray: Ray = Field(
        default_factory=Ray, description="The RayCluster the RayService runs: image, head, autoscaler, GPU worker groups."
    )
    model: Model = Field(default_factory=Model, description="The model served and where its weights come from.")
    serve: Serve = Field(
        default_factory=Serve, description="The Ray Serve LLM application (`serveConfigV2`) and its vLLM engine."
    )
    tiktoken: Tiktoken = Field(default_factory=Tiktoken, description="Harmony's tokenizer files, staged before Ray starts.")
    probes: Probes = Field(default_factory=Probes, description="Probes of the GPU worker pods.")
    rayService: RayService = Field(default_factory=RayService, description="The RayService: upgrades and GCS fault tolerance.")
    networkPolicy: NetworkPolicy = Field(default_factory=NetworkPolicy, description="NetworkPolicies of the Ray pods.")
    metrics: Metrics = Field(default_factory=Metrics, description="Metrics scraping and the Grafana dashboard.")
    alerts: Alerts = Field(default_factory=Alerts, description="The alerts that ship with runbooks (a PrometheusRule).")
    podDisruptionBudget: PodDisruptionBudget = Field(default_factory=PodDisruptionBudget, description="Disruption budgets.")
    gateway: Gateway = Field(default_factory=Gateway, description="The OpenAI-compatible gateway in front of the RayService.")
    routeOverride: RouteOverride = Field(
        default_factory=RouteOverride, description="The drain switch (`gpt-oss-platform drain`)."
    )
    governor: Governor = Field(
        default_factory=Governor, description="The cost governor: the serving floor follows the traffic (docs/cost.md)."
    )


def dump(values: ChartValues) -> dict[str, Any]:
    """The values as Helm takes them: the chart's key names, JSON types, no nulls (a null would
    delete a default key in Helm's merge)."""
    return values.model_dump(mode="json", by_alias=True, exclude_none=True)
