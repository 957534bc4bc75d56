"""The controller's settings file, `governor.json` (the chart's `governor.settings`, derived from
the environment by infra/chart_values/governor.py). Validated once at start; a bad file names the
key and the value."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicySettings(_Strict):
    """The policy's knobs (infra/config/models.py GovernorConfig, same names and meaning)."""

    mode: Literal["off", "recommend", "enforce"] = Field(description="off, recommend or enforce.")
    horizon_hours: int = Field(ge=2, le=168, description="Hours of forecast the decision plans over.")
    min_dwell_minutes: int = Field(ge=0, le=1440, description="Minutes a floor stays before the next change.")
    max_changes_per_day: int = Field(ge=1, le=48, description="Most floor changes in any 24 hours.")
    hysteresis_usd_per_month: float = Field(ge=0, description="Least monthly saving of a change.")
    sovereign_learning_hours: int = Field(ge=0, le=2160, description="History needed before the floor may reach 0.")


class Target(_Strict):
    """The objects the controller reads and, in enforce mode, patches."""

    namespace: str = Field(min_length=1, description="Namespace of the RayService, the Lease and the Events.")
    rayservice: str = Field(min_length=1, description="RayService name.")
    application: str = Field(min_length=1, description="Serve application in serveConfigV2 whose deployments carry min_replicas.")
    route_override_configmap: str = Field(min_length=1, description="The drain switch's ConfigMap.")
    lease: str = Field(min_length=1, description="Lease of the leader election.")
    provisioner: Literal["managed_node_group", "karpenter"] = Field(description="What holds the GPU pool's floor.")
    node_pool: str = Field(min_length=1, description="Managed node group or Karpenter NodePool name.")
    pinned_nodes: int = Field(ge=0, description="Nodes another group keeps regardless (the on-demand floor of a spot pool).")
    cluster_name: str = Field(default="", description="EKS cluster (managed node group).")
    region: str = Field(default="", description="AWS region (managed node group).")


class PrometheusSettings(_Strict):
    url: str = Field(pattern=r"^https?://", description="Prometheus base URL; /api/v1/query_range is used.")
    environment: str = Field(min_length=1, description="The gateway metrics' `environment` label.")
    history_days: int = Field(ge=1, le=90, description="Days of hourly history the forecast reads.")
    sovereign_teams: list[str] = Field(
        default_factory=list,
        description="Teams (the gateway's `team` label) whose tokens count as sovereign; the gateway's token counters "
        "carry no per-request sovereign label.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Timeout of one query.")


class ControllerSettings(_Strict):
    environment: str = Field(min_length=1, description="Environment name.")
    interval_s: int = Field(ge=10, le=3600, description="Seconds between decisions.")
    policy: PolicySettings
    prometheus: PrometheusSettings
    target: Target
    cost_model: dict[str, Any] = Field(
        description="infra/cost/governor/model.py HourlyCost as data (hourly_cost_dict), computed by the plan from the "
        "same code as `cost compare`."
    )
