"""Node-true prices reach the gateway: one replica on a shared node pays the whole node."""

from __future__ import annotations

import copy

import pytest

from infra.config import read_stack_file, validate_environment
from infra.config.load import PROJECT
from infra.gateway_settings import settings_for_environment


def _prod_on(instance_type: str, gpu: str, min_replicas: int):
    raw = copy.deepcopy(read_stack_file("prod")[f"{PROJECT}:environment"])
    raw["node_pools"][0].update(instance_type=instance_type, gpu=gpu)
    raw["serving"].update(min_replicas=min_replicas, max_replicas=max(min_replicas, 2))
    return validate_environment(raw, stack="prod")


def _fleet(env) -> float:
    primary = next(u for u in settings_for_environment(env)["upstreams"] if u["name"] == "self-hosted")
    return primary["cost"]["fleet_usd_per_hour"]


def test_one_replica_on_a_4_gpu_node_amortises_the_whole_node():
    # Issue 11: the gateway amortised a share of the node (half a g6e.12xlarge here, 2 replicas/node)
    # although the one replica keeps the whole node running.
    assert _fleet(_prod_on("g6e.12xlarge", "L40S", 1)) == pytest.approx(10.49264)


def test_two_replicas_that_share_a_node_amortise_it_once():
    assert _fleet(_prod_on("g6e.12xlarge", "L40S", 2)) == pytest.approx(10.49264)


def test_one_replica_per_node_pays_one_node_each():
    assert _fleet(_prod_on("p5.4xlarge", "H100", 2)) == pytest.approx(2 * 6.88)
