"""Capacity is derived, not typed (issue #16 'Capacity that pays the API early'): one sizing feeds
vLLM's max_num_seqs, Serve's max_ongoing_requests and max_queued_requests, the gateway's in-flight
limit and its connection cap; the plan refuses explicit values that contradict it, naming the key,
the value, the derived figure and the fix."""

from __future__ import annotations

import copy

import pytest

from infra.capacity import capacity_for
from infra.config import ConfigError, environment_from_stack_file, read_stack_file, validate_environment
from infra.config.load import PROJECT
from infra.sizing import GATEWAY_MEMORY_LIMIT_MIB, serving_capacity, size_replica


def stack_env(name: str) -> dict:
    return copy.deepcopy(read_stack_file(name)[f"{PROJECT}:environment"])


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw)
    return [p.render() for p in caught.value.problems]


def only(problems: list[str], path: str) -> str:
    matching = [p for p in problems if p.startswith(f"{path}:")]
    assert matching, f"no problem at {path}; got {problems}"
    return matching[0]


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_environment_admits_at_the_gateway_what_its_replicas_take_at_the_floor(name):
    capacity = capacity_for(environment_from_stack_file(name))
    assert capacity.max_ongoing_requests == capacity.max_num_seqs
    assert 1 <= capacity.max_queued_requests <= capacity.max_ongoing_requests // 4
    assert capacity.gateway_pods * capacity.gateway_max_in_flight >= capacity.floor_requests
    assert capacity.gateway_max_in_flight <= capacity.gateway_max_connections
    assert capacity.gateway_memory_needed_mib <= GATEWAY_MEMORY_LIMIT_MIB


def test_dev_no_longer_sends_traffic_to_the_api_while_its_replica_has_room():
    """The issue's case: dev admitted 64 per pod while its one replica took 128."""
    capacity = capacity_for(environment_from_stack_file("dev"))
    assert capacity.gateway_pods == 1
    assert capacity.gateway_max_in_flight >= capacity.max_ongoing_requests + capacity.max_queued_requests


def test_the_engine_batch_follows_the_kv_cache():
    small = size_replica("gpt-oss-20b", "g6.xlarge", 32768)
    large = size_replica("gpt-oss-20b", "g6.xlarge", 32768, gpu_memory_utilization=0.8)
    assert serving_capacity(large, 1, 1, 1).max_num_seqs < serving_capacity(small, 1, 1, 1).max_num_seqs


def test_a_gateway_in_flight_limit_below_the_floor_is_refused_with_the_derived_figure():
    raw = stack_env("dev")
    raw["gateway"]["max_in_flight"] = 64
    message = only(problems_of(raw), "gateway.max_in_flight")
    derived = capacity_for(environment_from_stack_file("dev")).gateway_max_in_flight
    assert "64 x 1 gateway pod(s)" in message
    assert "requests would go to the paid managed API while the GPUs have room" in message
    assert f"derived: {derived}" in message and "(got 64)" in message


def test_max_ongoing_requests_above_the_engine_batch_is_refused():
    raw = stack_env("prod")
    raw["serving"]["max_ongoing_requests"] = 192
    seqs = capacity_for(environment_from_stack_file("prod")).max_num_seqs
    message = only(problems_of(raw), "serving.max_ongoing_requests")
    assert f"above the {seqs} sequences one replica's engine runs at once" in message
    assert f"set it to at most {seqs}" in message and "(got 192)" in message


def test_an_explicit_value_that_agrees_is_used():
    raw = stack_env("prod")
    raw["serving"]["max_ongoing_requests"] = 64
    raw["gateway"]["max_in_flight"] = 300
    env = validate_environment(raw)
    capacity = capacity_for(env)
    assert (capacity.max_ongoing_requests, capacity.max_queued_requests, capacity.gateway_max_in_flight) == (64, 8, 300)


def test_an_autoscaling_target_above_what_a_replica_runs_is_refused():
    raw = stack_env("prod")
    raw["serving"]["target_ongoing_requests"] = 1000
    message = only(problems_of(raw), "serving.target_ongoing_requests")
    assert "autoscaling would never reach its target" in message


def test_more_in_flight_than_the_gateway_pod_memory_holds_connections_for_is_refused():
    raw = stack_env("prod")
    raw["serving"]["max_model_len"] = 131072  # 2 MiB request bodies: far fewer connections fit in 512Mi
    raw["gateway"]["max_in_flight"] = 300
    message = only(problems_of(raw), "gateway.max_in_flight")
    assert "holds at most" in message and f"{GATEWAY_MEMORY_LIMIT_MIB}Mi memory limit" in message
    assert "lower serving.max_model_len" in message


def test_a_large_kv_cache_fills_the_gateway_pods_up_to_their_connection_cap_not_beyond():
    """20b on an H100: 256 sequences per replica; what four replicas take does not fit three pods'
    connections, but what the floor's two take does, so the environment stays valid."""
    raw = stack_env("prod")
    raw["model"]["name"] = "gpt-oss-20b"
    raw["model"]["revision"] = read_stack_file("dev")[f"{PROJECT}:environment"]["model"]["revision"]
    capacity = capacity_for(validate_environment(raw))
    assert capacity.gateway_max_in_flight == capacity.gateway_max_connections
    assert capacity.gateway_pods * capacity.gateway_max_in_flight >= capacity.floor_requests
