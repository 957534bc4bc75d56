"""Rules that join sections of the environment config: model on pool, replicas on capacity.

Each rule takes the sections it needs and returns problems, so `validate_environment` can
run them even when an unrelated section failed to parse and report everything at once. They
run once, there, before any resource is registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.capacity import capacity_from_sections, derived_from_sections
from infra.config.errors import Problem, problem
from infra.node_pool_shape import karpenter_floor_nodes
from infra.sizing import (
    GATEWAY_BASELINE_MIB,
    PIPELINED_BODIES_PER_CONNECTION,
    PLANNING_TOKENS_PER_SEQUENCE,
    REQUEST_BYTES_PER_CONTEXT_TOKEN,
    SizingError,
    size_replica,
)

if TYPE_CHECKING:
    from infra.config.models import GatewayConfig, NodePoolConfig, ServingConfig


def pool_problems(pools: list[NodePoolConfig]) -> list[Problem]:
    seen: dict[str, int] = {}
    found = []
    for index, pool in enumerate(pools):
        if pool.name in seen:
            found.append(problem(f"node_pools[{index}].name", f"duplicates node_pools[{seen[pool.name]}]", pool.name))
        seen.setdefault(pool.name, index)
    return found


def serving_pool(pools: list[NodePoolConfig], serving: ServingConfig) -> tuple[NodePoolConfig | None, list[Problem]]:
    if serving.node_pool is None:
        if len(pools) == 1:
            return pools[0], []
        names = ", ".join(p.name for p in pools)
        return None, [problem("serving.node_pool", f"required when there are several node pools ({names})")]
    for pool in pools:
        if pool.name == serving.node_pool:
            return pool, []
    names = ", ".join(p.name for p in pools)
    return None, [problem("serving.node_pool", f"no node pool of that name; pools: {names}", serving.node_pool)]


def sizing_problems(model_name: str, pool: NodePoolConfig, pool_index: int, serving: ServingConfig) -> list[Problem]:
    """The model must fit the pool's GPUs, and the pool must hold the replicas (and upgrade headroom)."""
    try:
        sizing = size_replica(
            model_name,
            pool.instance_type,
            serving.max_model_len,
            serving.tensor_parallel,
            serving.gpu_memory_utilization,
            replicas=max(1, serving.min_replicas),
        )
    except SizingError as error:
        return [problem(f"node_pools[{pool_index}].instance_type", str(error), pool.instance_type)]

    found = []
    if pool.provisioner == "karpenter":
        floor = karpenter_floor_nodes(serving.min_replicas, sizing.replicas_per_node)
        if pool.min_nodes != floor:
            found.append(
                problem(
                    f"node_pools[{pool_index}].min_nodes",
                    f"Karpenter keeps no idle node: the floor is what serving.min_replicas "
                    f"({serving.min_replicas}) occupies, {floor} node(s); set min_nodes to {floor}",
                    pool.min_nodes,
                )
            )
    capacity = pool.max_nodes * sizing.replicas_per_node
    if serving.max_replicas > capacity:
        found.append(
            problem(
                "serving.max_replicas",
                f"node pool {pool.name!r} holds at most {capacity} replicas ({pool.max_nodes} nodes x "
                f"{sizing.replicas_per_node} per {pool.instance_type}); raise node_pools[{pool_index}].max_nodes "
                "or lower max_replicas",
                serving.max_replicas,
            )
        )
    if serving.upgrade_strategy == "NewCluster":
        # Blue/green: the new RayCluster starts its replicas before the old one is torn down.
        needed = 2 * max(serving.min_replicas, 1)
        if capacity < needed:
            found.append(
                problem(
                    "serving.upgrade_strategy",
                    f"NewCluster runs old and new clusters side by side and needs room for {needed} replicas; "
                    f"node pool {pool.name!r} holds {capacity}. Raise node_pools[{pool_index}].max_nodes or use `None`",
                    serving.upgrade_strategy,
                )
            )
    return found


def capacity_problems(model_name: str, pool: NodePoolConfig, serving: ServingConfig, gateway: GatewayConfig) -> list[Problem]:
    """The limits of every layer must agree (infra/sizing.py `serving_capacity`): an explicit value
    that contradicts the sizing is refused with the derived figure and the fix."""
    try:
        derived = derived_from_sections(model_name, pool, serving, gateway)
        capacity = capacity_from_sections(model_name, pool, serving, gateway)
    except SizingError:
        return []  # sizing_problems reports it
    found = []
    seqs = derived.max_num_seqs
    if serving.max_ongoing_requests is not None and serving.max_ongoing_requests > seqs:
        found.append(
            problem(
                "serving.max_ongoing_requests",
                f"above the {seqs} sequences one replica's engine runs at once (vLLM max_num_seqs: its KV cache "
                f"/ {PLANNING_TOKENS_PER_SEQUENCE} tokens per sequence on {pool.instance_type}); the rest would wait "
                f"inside vLLM, where Ray Serve cannot see them, instead of getting Serve's 503 and the fallback at "
                f"once. Remove the key (derived: {seqs}) or set it to at most {seqs}",
                serving.max_ongoing_requests,
            )
        )
    elif serving.target_ongoing_requests > capacity.max_ongoing_requests:
        found.append(
            problem(
                "serving.target_ongoing_requests",
                f"above the {capacity.max_ongoing_requests} requests one replica runs (max_ongoing_requests): "
                f"autoscaling would never reach its target. Set it to at most {capacity.max_ongoing_requests}",
                serving.target_ongoing_requests,
            )
        )
    pods = capacity.gateway_pods
    if gateway.max_in_flight is not None and gateway.max_in_flight * pods < capacity.floor_requests:
        need = -(-capacity.floor_requests // pods)
        found.append(
            problem(
                "gateway.max_in_flight",
                f"{gateway.max_in_flight} x {pods} gateway pod(s) (gateway.min_replicas) admits "
                f"{gateway.max_in_flight * pods} requests, fewer than the {capacity.floor_replicas} replica(s) at the "
                f"floor take ({capacity.floor_requests} = {capacity.floor_replicas} x ({capacity.max_ongoing_requests} "
                f"running + {capacity.max_queued_requests} queued)): requests would go to the paid managed API while "
                f"the GPUs have room. Remove the key (derived: {derived.gateway_max_in_flight}) or set it to at least {need}",
                gateway.max_in_flight,
            )
        )
    if capacity.gateway_max_in_flight > capacity.gateway_max_connections:
        found.append(
            problem(
                "gateway.max_in_flight" if gateway.max_in_flight is not None else "gateway.min_replicas",
                f"a gateway pod would admit {capacity.gateway_max_in_flight} requests but holds at most "
                f"{capacity.gateway_max_connections} client connections in its {capacity.gateway_memory_limit_mib}Mi "
                f"memory limit ({GATEWAY_BASELINE_MIB}Mi baseline, then per connection {PIPELINED_BODIES_PER_CONNECTION} "
                f"request bodies of {capacity.max_request_bytes} bytes = serving.max_model_len {serving.max_model_len} x "
                f"{REQUEST_BYTES_PER_CONTEXT_TOKEN}, plus buffers). Raise gateway.min_replicas (more pods share the "
                f"replicas' requests), lower serving.max_model_len or gateway.max_in_flight",
                gateway.max_in_flight if gateway.max_in_flight is not None else gateway.min_replicas,
            )
        )
    return found


def cross_section_problems(
    pools: list[NodePoolConfig],
    serving: ServingConfig | None,
    model_name: str | None,
    gateway: GatewayConfig | None = None,
) -> list[Problem]:
    """Every rule that joins sections, over whichever sections parsed (None: did not parse)."""
    found = pool_problems(pools)
    if pools and serving is not None:
        pool, missing = serving_pool(pools, serving)
        found += missing
        if pool is not None and model_name is not None:
            found += sizing_problems(model_name, pool, pools.index(pool), serving)
            if gateway is not None:
                found += capacity_problems(model_name, pool, serving, gateway)
    return found
