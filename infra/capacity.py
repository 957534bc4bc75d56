"""The capacity limits of one environment: every layer's limit from one sizing (infra/sizing.py
`serving_capacity`), with the environment's explicit values where it sets them. The plan refuses
explicit values that contradict the sizing (infra/config/rules.py `capacity_problems`), so what
this returns for a validated environment is consistent."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from infra.sizing import QUEUE_DIVISOR, ServingCapacity, serving_capacity, size_replica

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig, GatewayConfig, NodePoolConfig, ServingConfig


def capacity_from_sections(
    model_name: str, pool: NodePoolConfig, serving: ServingConfig, gateway: GatewayConfig
) -> ServingCapacity:
    """The derived limits, then the environment's explicit `serving.max_ongoing_requests` and
    `gateway.max_in_flight` in their place (raises SizingError when the model does not fit)."""
    sizing = size_replica(
        model_name,
        pool.instance_type,
        serving.max_model_len,
        serving.tensor_parallel,
        serving.gpu_memory_utilization,
        replicas=max(1, serving.min_replicas),
    )
    capacity = serving_capacity(sizing, serving.min_replicas, serving.max_replicas, gateway.min_replicas)
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
