"""The capacity limits of one environment: every layer's limit from one sizing (infra/sizing.py
`serving_capacity`), with the environment's explicit values where it sets them. The plan refuses
explicit values that contradict the sizing (infra/config/rules.py `capacity_problems`), so what
this returns for a validated environment is consistent."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from infra.sizing import QUEUE_DIVISOR, ReplicaSizing, ServingCapacity, serving_capacity, size_replica

if TYPE_CHECKING:
    from infra.catalog import Catalog
    from infra.config.models import EnvironmentConfig, GatewayConfig, NodePoolConfig, ServingConfig


def replica_sizing(env: EnvironmentConfig, catalog: Catalog | None = None) -> ReplicaSizing:
    """One replica of the environment's model on its serving pool, as the chart, the gateway's
    settings and the plan size it."""
    pool = env.serving_pool()
    return size_replica(
        env.model.name,
        pool.instance_type,
        env.serving.max_model_len,
        env.serving.tensor_parallel,
        env.serving.gpu_memory_utilization,
        catalog,
    )


def derived_from_sections(
    model_name: str, pool: NodePoolConfig, serving: ServingConfig, gateway: GatewayConfig
) -> ServingCapacity:
    """Every layer's limit from the sizing alone, before any explicit value (raises SizingError
    when the model does not fit)."""
    sizing = size_replica(
        model_name,
        pool.instance_type,
        serving.max_model_len,
        serving.tensor_parallel,
        serving.gpu_memory_utilization,
        replicas=max(1, serving.min_replicas),
    )
    return serving_capacity(sizing, serving.min_replicas, serving.max_replicas, gateway.min_replicas)


def capacity_from_sections(
    model_name: str, pool: NodePoolConfig, serving: ServingConfig, gateway: GatewayConfig
) -> ServingCapacity:
    """The derived limits, then the environment's explicit `serving.max_ongoing_requests` and
    `gateway.max_in_flight` in their place (raises SizingError when the model does not fit)."""
    capacity = derived_from_sections(model_name, pool, serving, gateway)
    if serving.max_ongoing_requests is not None:
        ongoing = serving.max_ongoing_requests
        capacity = dataclasses.replace(
            capacity, max_ongoing_requests=ongoing, max_queued_requests=max(1, -(-ongoing // QUEUE_DIVISOR))
        )
    if gateway.max_in_flight is not None:
        capacity = dataclasses.replace(capacity, gateway_max_in_flight=gateway.max_in_flight)
    return capacity


def capacity_for(env: EnvironmentConfig) -> ServingCapacity:
    """The limits of a validated environment."""
    return capacity_from_sections(env.model.name, env.serving_pool(), env.serving, env.gateway)


@dataclasses.dataclass(frozen=True)
class AcceptedRange:
    """The values of one capacity key the plan accepts for an environment as it stands (the other
    keys unchanged): `low..high` inclusive, `now` in force, `derived` when the key is removed."""

    key: str
    now: int
    derived: int
    low: int
    high: int
    explicit: bool  # the environment sets the key (else `now` is the derived value)


def accepted_ranges(env: EnvironmentConfig) -> dict[str, AcceptedRange]:
    """What `serving.max_ongoing_requests` and `gateway.max_in_flight` may be set to without the
    plan refusing it (infra/config/rules.py `capacity_problems`, the ServingConfig validator):
    max_ongoing_requests from `serving.target_ongoing_requests` (the autoscaling target may not
    exceed it) to vLLM's max_num_seqs; max_in_flight from what the replicas at the floor take,
    split over the gateway's minimum pods, to the connections one gateway pod's memory holds.
    Runbooks render these so every edit they advise is one the plan accepts
    (tests/runbooks/test_capacity_advice.py applies both ends and one step beyond each)."""
    pool, serving, gateway = env.serving_pool(), env.serving, env.gateway
    derived = derived_from_sections(env.model.name, pool, serving, gateway)
    capacity = capacity_from_sections(env.model.name, pool, serving, gateway)
    return {
        "max_ongoing_requests": AcceptedRange(
            key="serving.max_ongoing_requests",
            now=capacity.max_ongoing_requests,
            derived=derived.max_ongoing_requests,
            low=serving.target_ongoing_requests,
            high=derived.max_num_seqs,
            explicit=serving.max_ongoing_requests is not None,
        ),
        "max_in_flight": AcceptedRange(
            key="gateway.max_in_flight",
            now=capacity.gateway_max_in_flight,
            derived=derived.gateway_max_in_flight,
            low=-(-capacity.floor_requests // capacity.gateway_pods),
            high=capacity.gateway_max_connections,
            explicit=gateway.max_in_flight is not None,
        ),
    }
