"""infra/chart_values/model/: the chart's values model, the one place a key is declared."""

from __future__ import annotations

import copy
import typing

import pytest
from pydantic import BaseModel, ValidationError

from infra.capacity import replica_sizing
from infra.catalog import load_catalog
from infra.chart_values import StackOutputs, chart_values
from infra.chart_values.model import ChartValues, dump
from infra.chart_values.model.base import IpBlock
from infra.chart_values.model.gateway import Gateway
from infra.chart_values.model.monitoring import Alerts
from infra.chart_values.model.ray import GcsFaultTolerance
from infra.chart_values.ray import worker_group
from infra.chart_values.serve import serve_values
from infra.config import read_stack_file, validate_environment
from infra.config.load import ENVIRONMENT_KEY, PROJECT

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-gateway@sha256:" + "ab" * 32


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """`model` and every model its fields hold (directly, in lists, maps or optionals)."""
    if model in seen:
        return seen
    seen.add(model)

    def visit(annotation: typing.Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _models(annotation, seen)
        for arg in typing.get_args(annotation):
            visit(arg)

    for field in model.model_fields.values():
        visit(field.annotation)
    return seen


def test_every_key_of_the_chart_has_a_description():
    """The description is the key's `# --` line, README row and schema description."""
    missing = [
        f"{model.__name__}.{name}"
        for model in _models(ChartValues, set())
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing, f"fields without a description: {missing}"


def test_a_key_the_chart_does_not_know_is_refused_with_its_path():
    values = dump(ChartValues())
    values["serve"]["autoscaling"]["maxReplica"] = 3
    with pytest.raises(ValidationError) as refused:
        ChartValues.model_validate(values)
    assert "serve.autoscaling.maxReplica" in str(refused.value)
    assert "Extra inputs are not permitted" in str(refused.value)


def test_the_gateway_is_refused_without_settings():
    with pytest.raises(ValidationError, match=r"gateway\.enabled needs gateway\.settings"):
        Gateway(enabled=True)
    assert Gateway(enabled=True, settings={"port": 8080}).enabled


def test_gcs_fault_tolerance_is_refused_without_redis():
    with pytest.raises(ValidationError, match="needs redisAddress"):
        GcsFaultTolerance(enabled=True)


def test_rule_labels_may_not_set_what_the_chart_sets():
    with pytest.raises(ValidationError, match="may not set 'environment'"):
        Alerts(ruleLabels={"environment": "prod"})
    assert Alerts(ruleLabels={"team": "ml-platform"}).ruleLabels == {"team": "ml-platform"}


def test_the_dump_uses_the_charts_key_names_and_never_null():
    """Helm reads `except` (a Python keyword, hence the alias), and a null would delete a default key."""
    assert dump_of(IpBlock(cidr="0.0.0.0/0", except_=["10.0.0.0/8"])) == {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}
    assert dump_of(IpBlock(cidr="10.0.0.0/8")) == {"cidr": "10.0.0.0/8"}

    def nulls(node, path=""):
        if isinstance(node, dict):
            return [p for k, v in node.items() for p in nulls(v, f"{path}.{k}")]
        if isinstance(node, list):
            return [p for i, v in enumerate(node) for p in nulls(v, f"{path}[{i}]")]
        return [path] if node is None else []

    assert nulls(dump(ChartValues())) == []


def dump_of(model: BaseModel) -> dict:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _raw(stack: str) -> dict:
    return copy.deepcopy(read_stack_file(stack)[f"{PROJECT}:{ENVIRONMENT_KEY}"])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_environments_values_round_trip_through_the_model(stack):
    env = validate_environment(_raw(stack), stack=stack)
    outputs = StackOutputs(IMAGE, env.cluster.effective_network.service_cidr, "gpt-oss-test-weights", "redis.example:6379")
    values = chart_values(env, stack, outputs)
    assert dump(ChartValues.model_validate(values)) == values


def test_the_chart_defaults_are_what_the_sizing_gives_gpt_oss_20b_on_one_l4():
    """values.yaml alone is a working install of gpt-oss-20b on a g6.xlarge pool scaling 0..1: its
    worker group and Serve config are the ones chart_values derives for such an environment, so a
    sizing change cannot leave the standalone defaults behind."""
    raw = _raw("dev")
    raw["model"].update(name="gpt-oss-20b", revision=load_catalog().models["gpt-oss-20b"].default_revision, source="huggingface")
    raw["node_pools"] = [{**raw["node_pools"][0], "name": "gpu-l4", "gpu": "L4", "instance_type": "g6.xlarge", "min_nodes": 0}]
    raw["serving"].update(min_replicas=0, max_replicas=1, max_model_len=32768, target_ongoing_requests=32)
    raw["serving"].pop("max_ongoing_requests", None)  # derived from the sizing
    raw["serving"].pop("gpu_memory_utilization", None)
    raw["serving"].pop("tensor_parallel", None)
    raw.pop("served_models", None)  # the standalone install serves no adapters
    env = validate_environment(raw, stack="dev")
    defaults = ChartValues()
    assert dump_of(worker_group(env, replica_sizing(env))) == dump_of(defaults.ray.workerGroups[0])
    assert dump_of(serve_values(env, replica_sizing(env))) == dump_of(defaults.serve)
