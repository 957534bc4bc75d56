"""The alerts that ship with runbooks: `alerts` values (scope, SLO, thresholds) of an environment.
Keys, defaults (the thresholds that are not per environment, the SLO) and descriptions live in
infra/chart_values/model/monitoring.py.

Upstream names and the fleet's hourly price come from the gateway's own settings, so the
alerts compare what the gateway meters; managed prices come from the catalog entry of the
fallback model (also without fallback: what the API would cost is still the benchmark).
"""

from __future__ import annotations

from contracts import UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED
from infra.catalog import load_catalog
from infra.chart_values.governor import lowest_node_floor
from infra.chart_values.model.monitoring import RUNBOOK_BASE_URL, Alerts, AlertsGateway, Slo, Thresholds
from infra.config.models import EnvironmentConfig
from infra.gateway_settings import settings_for_environment
from infra.sizing import ReplicaSizing

__all__ = ["RUNBOOK_BASE_URL", "alert_values"]

# Time-to-first-token thresholds: `le` labels of the gateway's histogram buckets (serving/gateway/metrics.py).
# Hopper prefills a 32k prompt in about a second; Ampere/Ada GPUs take several.
TTFT_BUCKET_HOPPER = "2.5"
TTFT_BUCKET_OTHER = "5.0"


def gpu_node_pool_floors(env: EnvironmentConfig) -> dict[str, int]:
    """A pool's floor is its min_nodes: what the autoscaler keeps, so fewer ready nodes for long
    means a loss that was not replaced (spot interruption, no capacity). In enforce mode the cost
    governor moves the serving pool's floor (docs/cost.md "Cost governor"): there the floor is the
    lowest the governor can set, so its own decisions do not page anyone."""
    floors = {pool.name: pool.min_nodes for pool in env.node_pools}
    if env.governor.mode == "enforce":
        floors[env.serving_pool().name] = min(floors[env.serving_pool().name], lowest_node_floor(env))
    return floors


def alert_values(env: EnvironmentConfig, environment_label: str, sizing: ReplicaSizing) -> Alerts:
    settings = settings_for_environment(env)
    primary = next(u for u in settings["upstreams"] if u["name"] == UPSTREAM_SELF_HOSTED)
    fleet_usd_per_hour = primary["cost"]["fleet_usd_per_hour"]
    price = load_catalog().managed_api[env.fallback.model]
    return Alerts(
        enabled=True,
        runbookBaseUrl=f"{RUNBOOK_BASE_URL}/{env.name}",
        environment=environment_label,
        gateway=AlertsGateway(
            primaryUpstream=UPSTREAM_SELF_HOSTED,
            managedUpstream=UPSTREAM_MANAGED if env.fallback.allowed else "",
        ),
        gpuNodePoolFloors=gpu_node_pool_floors(env),
        slo=Slo(ttftSecondsBucket=TTFT_BUCKET_HOPPER if sizing.gpu_generation == "hopper" else TTFT_BUCKET_OTHER),
        thresholds=Thresholds(
            # The fallback should never cost more per hour than the warm GPUs it stands in for.
            managedSpendUsdPerHour=fleet_usd_per_hour,
            selfHostedFleetUsdPerHour=fleet_usd_per_hour,
            managedInputUsdPerMtok=price.input_per_mtok,
            managedOutputUsdPerMtok=price.output_per_mtok,
        ),
    )
