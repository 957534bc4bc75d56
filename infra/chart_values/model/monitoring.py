"""`metrics` (PodMonitor, Grafana dashboard) and `alerts` (the PrometheusRule whose alerts link
their runbooks: scope, SLO, thresholds) of the chart values."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from contracts import UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from infra.chart_values.model.base import Duration, Labels, LabelValue, ScrapeInterval, Section

# Where runbooks/ is published: every alert's runbook_url is "<runbookBaseUrl>/<AlertName>.md"
# (templates/prometheusrule.yaml); this repository's environments append /<env>, the runbooks
# rendered for that environment (runbooks/<env>/, `gpt-oss-platform runbooks`). A placeholder:
# CHANGE IT WHEN YOU FORK, to the URL your on-call engineers can open (a Git host's file view
# of runbooks/ on the default branch, or an internal docs site that publishes the folder).
RUNBOOK_BASE_URL = "https://github.com/example/gpt-oss-platform/blob/main/runbooks"
# `le` labels of the gateway's histogram buckets as Prometheus exposes them (serving/gateway/metrics.py
# TTFT_BUCKETS and LATENCY_BUCKETS, formatted like prometheus_client's floatToGoString; a test in
# tests/runbooks compares them). Prometheus counts requests below a threshold only at a bucket boundary.
TtftBucket = Literal[
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "20.0", "60.0"
]
LatencyBucket = Literal[
    "0.001",
    "0.0025",
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1.0",
    "2.5",
    "5.0",
    "10.0",
    "30.0",
    "60.0",
    "120.0",
    "300.0",
]
# The chart sets these labels on every alert itself.
RESERVED_RULE_LABELS = ("severity", "environment")


def _not_reserved(name: str) -> str:
    if name in RESERVED_RULE_LABELS:
        raise ValueError(f"alerts.ruleLabels may not set {name!r}: the chart sets {' and '.join(RESERVED_RULE_LABELS)} itself")
    return name


def _refuse_reserved_names(schema: dict) -> None:
    """The schema's side of `_not_reserved` (the key pattern joins it in infra/chart_values/schema.py)."""
    schema.setdefault("propertyNames", {})["not"] = {"enum": list(RESERVED_RULE_LABELS)}


# A Prometheus label name (https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels).
RuleLabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$"), AfterValidator(_not_reserved)]
UpstreamName = Annotated[str, Field(max_length=63, pattern=r"^([a-z0-9][-a-z0-9_.]*)?$")]
PoolName = Annotated[str, Field(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]


class PodMonitor(Section):
    enabled: bool = Field(
        default=False,
        description="Render a PodMonitor (monitoring.coreos.com/v1) for Ray's metrics port on head and workers, where Ray "
        "Serve and vLLM (`ray_vllm_*`) metrics are exported. Needs the Prometheus Operator CRDs.",
    )
    interval: ScrapeInterval = Field(default="30s", description="Scrape interval.")
    labels: Labels = Field(
        default_factory=dict, description="Extra labels, e.g. the `release` label your Prometheus selects monitors by."
    )


class Dashboard(Section):
    enabled: bool = Field(
        default=True,
        description="Render the Grafana dashboard (dashboards/gpt-oss-serving.json) as a ConfigMap labelled "
        '`grafana_dashboard: "1"` for Grafana\'s dashboard sidecar.',
    )
    labels: Labels = Field(default_factory=dict, description="Extra labels of the dashboard ConfigMap.")


class Metrics(Section):
    podMonitor: PodMonitor = Field(default_factory=PodMonitor, description="Prometheus scraping of the Ray pods.")
    dashboard: Dashboard = Field(default_factory=Dashboard, description="The Grafana dashboard.")


class AlertsGateway(Section):
    primaryUpstream: UpstreamName = Field(
        default=UPSTREAM_SELF_HOSTED,
        min_length=1,
        description="The gateway's upstream name of the self-hosted model (`routes[].primary` of `gateway.settings`).",
    )
    managedUpstream: UpstreamName = Field(
        default=UPSTREAM_MANAGED,
        description="The gateway's upstream name of the managed API (`routes[].fallback`); empty when there is no fallback.",
    )


class Slo(Section):
    availability: float = Field(
        default=0.995,
        gt=0.9,
        lt=1,
        description="Availability objective of the gateway: share of routed requests answered without a 5xx. 0.995 leaves a "
        "0.5% error budget; the fast-burn alert pages at 14.4x (7.2% errors over 1 h and 5 min).",
    )
    latencyObjective: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="Share of self-hosted requests that must meet the latency thresholds below (0.95: a p95 objective).",
    )
    ttftSecondsBucket: TtftBucket = Field(
        default="2.5",
        description="Streaming time-to-first-token threshold, as the `le` label of a gateway_time_to_first_token_seconds bucket "
        "(Prometheus can only count requests below a bucket boundary, so other values are refused).",
    )
    latencySecondsBucket: LatencyBucket = Field(
        default="60.0",
        description="Non-streaming request duration threshold, as the `le` label of a gateway_request_duration_seconds bucket.",
    )


class Thresholds(Section):
    minRequestRate: float = Field(
        default=0.05,
        ge=0,
        description="Requests per second below which ratio alerts stay silent (a handful of requests is no trend).",
    )
    fallbackRatio: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Share of requests the fallback served for one reason, over 15 minutes, above which HighFallbackRatio fires.",
    )
    managedSpendUsdPerHour: float = Field(
        default=0.8048,
        gt=0,
        description="USD per hour spent on the managed API above which ManagedSpendHigh fires (default: what the warm "
        "self-hosted fleet costs per hour, so the fallback never silently becomes a second bill as large as the GPUs).",
    )
    spendCapRatio: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a key's or team's monthly spend cap, above which SpendCapNear fires (at 1 its requests get 429).",
    )
    sovereignRefusals: int = Field(
        default=5,
        ge=1,
        description="Requests refused with 503 in 10 minutes (no allowed upstream, the managed API's circuit closed) that fire "
        "SovereignRequestsRefused.",
    )
    streamFailureRatio: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Share of streams cut after their first byte, over 15 minutes, above which StreamFailures fires.",
    )
    rateLimitedRatio: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Share of one client's requests refused with 429, over 10 minutes, above which RateLimiting fires (info).",
    )
    selfHostedFleetUsdPerHour: float = Field(
        default=0.8048,
        gt=0,
        description="USD per hour of the warm self-hosted fleet (the gateway's `fleet_usd_per_hour`), compared with what the "
        "managed API would have charged for the same tokens.",
    )
    managedInputUsdPerMtok: float = Field(
        default=1.1, ge=0, description="Managed model's list price per million prompt tokens (the fallback model of the catalog)."
    )
    managedOutputUsdPerMtok: float = Field(
        default=4.4, gt=0, description="Managed model's list price per million completion tokens, reasoning included."
    )
    kvCacheUsage: float = Field(
        default=0.9, gt=0, le=1, description="vLLM KV-cache use (0-1) above which, with requests waiting, KvCacheNearFull fires."
    )
    queueWaitingRatio: float = Field(
        default=0.5,
        gt=0,
        description="Requests waiting in a vLLM engine per request running, above which RequestQueueBacklog fires.",
    )
    queueWaitingMin: int = Field(
        default=8,
        ge=1,
        description="Fewest waiting requests for RequestQueueBacklog (a ratio of 2 waiting to 1 running is no backlog).",
    )
    preemptionsPerRequest: float = Field(
        default=0.1, gt=0, description="vLLM preemptions per finished request, over 15 minutes, above which Preemptions fires."
    )
    crashLoopRestarts: int = Field(
        default=3, ge=1, description="Container restarts of a Ray pod within 30 minutes that fire RayPodsCrashLooping."
    )
    podPendingFor: Duration = Field(
        default="20m",
        description="How long a GPU worker pod may stay Pending (node provisioning, a ~20 GB image pull, init containers) before "
        "GpuWorkerPodsPending fires.",
    )
    upgradeStuckFor: Duration = Field(
        default="45m",
        description="How long a blue/green (NewCluster) upgrade may run before RayServiceUpgradeStuck fires: a new GPU node, the "
        "image, the weights and vLLM's start-up take 20-30 minutes when nothing is wrong.",
    )


class Alerts(Section):
    enabled: bool = Field(
        default=False,
        description="Render a PrometheusRule (monitoring.coreos.com/v1) with the alerts of files/alerts.yaml, each linking its "
        "runbook. Needs the Prometheus Operator CRDs, the PodMonitor/ServiceMonitor above, KubeRay's operator metrics and "
        "kube-state-metrics exporting the node and pod labels listed in docs/alerts.md, or the alerts stay blind "
        "(GptOssMonitoringInputsMissing then says which input is missing).",
    )
    runbookBaseUrl: str = Field(
        default=RUNBOOK_BASE_URL,
        pattern=r"^https?://[^\s]+[^/\s]$",
        description="Where runbooks/ is published, without a trailing slash: every alert gets "
        "`runbook_url: <runbookBaseUrl>/<AlertName>.md`. Point it at your fork (`RUNBOOK_BASE_URL` in "
        "infra/chart_values/model/monitoring.py sets it for this repository's environments, plus `/<env>`).",
    )
    environment: LabelValue = Field(
        default="",
        description="Value of the `environment` label every selector matches and every alert carries (default: "
        "`labels.cost.environment`), so two environments in one Prometheus never mix.",
    )
    labels: Labels = Field(
        default_factory=dict,
        description="Extra labels of the PrometheusRule object, e.g. the `release` label a Prometheus `ruleSelector` selects by.",
    )
    ruleLabels: dict[RuleLabelName, str] = Field(
        default_factory=dict,
        json_schema_extra=_refuse_reserved_names,
        description="Labels added to every alert, e.g. `team` for Alertmanager routing (severity and environment are always set "
        "by the chart and may not be given here).",
    )
    gateway: AlertsGateway = Field(
        default_factory=AlertsGateway, description="The gateway's upstream names the alerts select on."
    )
    gpuNodePoolFloors: dict[PoolName, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=dict,
        description="GPU node pools whose ready nodes are counted: pool name (node label `gpt-oss.platform/node-pool`) -> fewest "
        "ready nodes the pool must hold (its `min_nodes`; 0 watches nothing). Needs kube-state-metrics to export that node label.",
    )
    slo: Slo = Field(default_factory=Slo, description="The gateway's service-level objectives.")
    thresholds: Thresholds = Field(
        default_factory=Thresholds, description="Alert thresholds (each explained in its alert's description)."
    )
