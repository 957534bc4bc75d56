"""GptOssGpuNodePoolBelowFloor and the cost governor: in enforce mode the governor lowers the
serving pool's node floor on purpose, so the alert's floor for that pool is the lowest floor the
governor can set, not the configured min_nodes (which would page on every lowering)."""

from __future__ import annotations

from infra.chart_values.alerts import gpu_node_pool_floors
from infra.config import environment_from_stack_file
from infra.config.models import EnvironmentConfig


def prod_with(min_nodes: int, on_demand_floor: int, mode: str) -> EnvironmentConfig:
    env = environment_from_stack_file("prod")
    pool = env.node_pools[0].model_copy(update={"min_nodes": min_nodes, "on_demand_floor": on_demand_floor})
    return env.model_copy(update={"node_pools": [pool], "governor": env.governor.model_copy(update={"mode": mode})})


def test_in_enforce_mode_the_serving_pools_alert_floor_is_the_governors_lowest():
    # prod's tier minimum is one replica, one replica per p5.4xlarge: the governor may go down to
    # one node, and never below the one pinned on-demand node.
    assert gpu_node_pool_floors(prod_with(3, 1, "enforce")) == {"gpu-h100": 1}
    assert gpu_node_pool_floors(prod_with(3, 2, "enforce")) == {"gpu-h100": 2}, "the pinned on-demand nodes stay"


def test_in_recommend_mode_the_alert_floor_is_the_configured_one():
    assert gpu_node_pool_floors(prod_with(3, 1, "recommend")) == {"gpu-h100": 3}
