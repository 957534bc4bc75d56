"""The values of charts/gpt-oss-serving for one environment, from the typed config alone.

`chart_values(env, stack, outputs)` is the one place an environment becomes chart values: the
Pulumi program hands the result to the Helm release, the offline plan renders the chart from the
same dict, and `gpt-oss-platform values --env prod` writes it as a commented values file for the
GitOps path. The values are built through the chart's values model (`model/`: every key, its type,
default and description, declared once), so a key the chart does not know cannot be produced and
a key an environment does not decide keeps the chart's default. The chart's values.yaml,
values.schema.json and README values table are generated from the same model (`defaults_file`,
`schema`, `values_table`; `gpt-oss-platform reference --write`).

One module per concern decides what differs per environment: `ray` (the RayCluster), `serve` (the
model and vLLM), `gateway`, `network` (NetworkPolicies), `alerts`, `route_override` (the drain
switch); `values_file` renders the commented file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import APPLICATION, MANAGED_BY, RELEASE
from infra.capacity import replica_sizing
from infra.chart_values.alerts import alert_values
from infra.chart_values.gateway import gateway_values
from infra.chart_values.governor import governor_values
from infra.chart_values.model import ChartValues, ObjectLabels, dump
from infra.chart_values.model.monitoring import Metrics, PodMonitor
from infra.chart_values.network import network_policy_values, vpc_cidrs
from infra.chart_values.ray import ray_service_values, ray_values, worker_disruption_budget
from infra.chart_values.route_override import route_override_values
from infra.chart_values.serve import model_values, serve_values, tiktoken_values
from infra.chart_values.served_models import with_served_models, with_served_workers
from infra.config.models import EnvironmentConfig
from infra.tags import cost_tags


@dataclass(frozen=True)
class StackOutputs:
    """What the chart values need from the running stack, not from the config: names AWS or the
    stack assigns. The Pulumi program passes its outputs; the GitOps path reads them from
    `pulumi stack output`; tests and the offline plan use stand-ins."""

    gateway_image: str  # repository@sha256:digest
    service_cidr: str
    weights_bucket: str | None = None  # required when model.source is s3
    gcs_redis_address: str | None = None  # required when gcs_fault_tolerance.redis is managed
    governor_image: str | None = None  # repository@sha256:digest; default: the chart's governor image


def label_values(env: EnvironmentConfig, stack: str) -> ObjectLabels:
    """The cost labels and the app.kubernetes.io/* values the chart puts on every object; the
    chart adds app.kubernetes.io/name and component per object."""
    return ObjectLabels(
        cost=cost_tags(env, stack),
        instance=f"{APPLICATION}-{env.name}",
        partOf=APPLICATION,
        managedBy=MANAGED_BY,
    )


def chart_values(env: EnvironmentConfig, stack: str, outputs: StackOutputs) -> dict[str, Any]:
    """The complete chart values for `env` deployed as Pulumi stack `stack`, built and validated
    through the values model and dumped under the chart's key names. Every key is present (Helm's
    merge with values.yaml then adds nothing); keys not set here keep the chart's defaults.
    Raises ValueError naming what is missing when the values cannot be computed (pydantic's
    ValidationError, naming the key and the value, is a ValueError)."""
    sizing = replica_sizing(env)
    labels = label_values(env, stack)
    weights_bucket, gcs_redis_address = outputs.weights_bucket, outputs.gcs_redis_address
    ray = with_served_workers(ray_values(env, sizing), env)
    values = ChartValues(
        fullnameOverride=RELEASE,
        labels=labels,
        ray=ray,
        podDisruptionBudget=worker_disruption_budget(ray),
        model=model_values(env, weights_bucket),
        serve=with_served_models(serve_values(env, sizing), env, weights_bucket),
        tiktoken=tiktoken_values(env, weights_bucket),
        rayService=ray_service_values(env, sizing, gcs_redis_address),
        networkPolicy=network_policy_values(env, outputs.service_cidr),
        metrics=Metrics(podMonitor=PodMonitor(enabled=True)),
        alerts=alert_values(env, labels.cost["environment"], sizing),
        gateway=gateway_values(env, outputs.gateway_image, vpc_cidrs(env), labels.cost),
        routeOverride=route_override_values(),
        governor=governor_values(env, outputs.governor_image),
    )
    return dump(values)
