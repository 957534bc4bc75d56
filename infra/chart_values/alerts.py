"""The alerts that ship with runbooks: `alerts` values (scope, SLO, thresholds).

Upstream names and the fleet's hourly price come from the gateway's own settings, so the
alerts compare what the gateway meters; managed prices come from the catalog entry of the
fallback model (also without fallback: what the API would cost is still the benchmark).
"""

from __future__ import annotations

from typing import Any

from contracts import UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from infra.catalog import load_catalog
from infra.config.models import EnvironmentConfig
from infra.gateway_settings import settings_for_environment
from infra.sizing import ReplicaSizing

# Where runbooks/ is published: every alert's runbook_url is "<RUNBOOK_BASE_URL>/<env>/<AlertName>.md"
# (charts/gpt-oss-serving/templates/prometheusrule.yaml), the runbook rendered for that environment
# (runbooks/<env>/, `gpt-oss-platform runbooks`). A placeholder for this repository:
# CHANGE IT WHEN YOU FORK, to the URL your on-call engineers can open (a Git host's file view
# of runbooks/ on the default branch, or an internal docs site that publishes the folder).
RUNBOOK_BASE_URL = "https://github.com/example/gpt-oss-platform/blob/main/runbooks"
# Alert thresholds that are not per environment (each is explained in its alert's description,
# charts/gpt-oss-serving/files/alerts.yaml, and in values.yaml).
ALERT_THRESHOLDS: dict[str, Any] = {
    "minRequestRate": 0.05,
    "fallbackRatio": 0.1,
    "sovereignRefusals": 5,
    "streamFailureRatio": 0.02,
    "rateLimitedRatio": 0.1,
    "kvCacheUsage": 0.9,
    "queueWaitingRatio": 0.5,
    "queueWaitingMin": 8,
    "preemptionsPerRequest": 0.1,
    "crashLoopRestarts": 3,
    "podPendingFor": "20m",
    "upgradeStuckFor": "45m",
}
AVAILABILITY_SLO = 0.995
LATENCY_OBJECTIVE = 0.95  # p95
# Time-to-first-token and request-duration thresholds: `le` labels of the gateway's histogram
# buckets (serving/gateway/metrics.py), as Prometheus exposes them. Hopper prefills a 32k prompt
# in about a second; Ampere/Ada GPUs take several.
TTFT_BUCKET_HOPPER = "2.5"
TTFT_BUCKET_OTHER = "5.0"
LATENCY_BUCKET = "60.0"


def alert_values(env: EnvironmentConfig, environment_label: str, sizing: ReplicaSizing) -> dict[str, Any]:
    settings = settings_for_environment(env)
    primary = next(u for u in settings["upstreams"] if u["name"] == UPSTREAM_SELF_HOSTED)
    fleet_usd_per_hour = primary["cost"]["fleet_usd_per_hour"]
    price = load_catalog().managed_api[env.fallback.model]
    return {
        "enabled": True,
        "runbookBaseUrl": f"{RUNBOOK_BASE_URL}/{env.name}",
        "environment": environment_label,
        "labels": {},
        "ruleLabels": {},
        "gateway": {
            "primaryUpstream": UPSTREAM_SELF_HOSTED,
            "managedUpstream": UPSTREAM_MANAGED if env.fallback.allowed else "",
        },
        # A pool's floor is its min_nodes: what the autoscaler keeps, so fewer ready nodes for long
        # means a loss that was not replaced (spot interruption, no capacity).
        "gpuNodePoolFloors": {pool.name: pool.min_nodes for pool in env.node_pools},
        "slo": {
            "availability": AVAILABILITY_SLO,
            "latencyObjective": LATENCY_OBJECTIVE,
            "ttftSecondsBucket": TTFT_BUCKET_HOPPER if sizing.gpu_generation == "hopper" else TTFT_BUCKET_OTHER,
            "latencySecondsBucket": LATENCY_BUCKET,
        },
        "thresholds": {
            **ALERT_THRESHOLDS,
            # The fallback should never cost more per hour than the warm GPUs it stands in for.
            "managedSpendUsdPerHour": fleet_usd_per_hour,
            "selfHostedFleetUsdPerHour": fleet_usd_per_hour,
            "managedInputUsdPerMtok": price.input_per_mtok,
            "managedOutputUsdPerMtok": price.output_per_mtok,
        },
    }
