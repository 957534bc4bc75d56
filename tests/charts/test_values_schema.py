"""The chart's values contract as Helm applies it: values.schema.json and values.yaml are generated
from the values model (infra/chart_values/model/), and Helm validates every release's merged values
against the schema. These tests run Helm's own engine (helm-python-sdk) on them."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import ValidationError

from infra.chart_values.model import ChartValues
from infra.paths import CHART_DIR


@pytest.fixture(scope="module")
def chart():
    import helm_python as helm

    with helm.Chart.load(str(CHART_DIR)) as loaded:
        yield loaded


def test_every_environment_and_scenario_passes_helms_schema_check(kit, case, chart):
    chart.validate_schema(kit.values(case))


def test_the_chart_defaults_alone_pass_helms_schema_check(chart):
    chart.validate_schema({})


def test_helms_merge_with_the_chart_defaults_adds_nothing_to_an_environments_values(kit, case, chart):
    """Helm deep-merges maps with values.yaml: a key chart_values left out would come from the
    chart's defaults unnoticed, and a map entry it did not want would survive the merge."""
    values = json.loads(json.dumps(kit.values(case)))
    assert chart.merge_values(values) == values


# (change, key path as Helm names it, text pydantic's error contains): one per kind of constraint
# the model declares, so the model (Python side) and the schema (Helm side) are shown to agree.
REFUSALS = [
    (lambda v: v["serve"]["autoscaling"].update(maxReplica=3), "/serve/autoscaling", "maxReplica"),
    (lambda v: v["serve"]["engine"].update(tensorParallelSize=3), "/serve/engine/tensorParallelSize", "tensorParallelSize"),
    (lambda v: v["ray"]["image"].update(digest="latest"), "/ray/image/digest", "digest"),
    (lambda v: v["gateway"]["autoscaling"].update(minReplicas=0), "/gateway/autoscaling/minReplicas", "minReplicas"),
    (
        lambda v: v["serve"]["engine"].update(gpuMemoryUtilization=0.99),
        "/serve/engine/gpuMemoryUtilization",
        "gpuMemoryUtilization",
    ),
    (lambda v: v["alerts"].update(ruleLabels={"severity": "page"}), "severity", "severity"),
    (lambda v: v["alerts"]["slo"].update(ttftSecondsBucket="3"), "/alerts/slo/ttftSecondsBucket", "ttftSecondsBucket"),
    (lambda v: v["labels"]["cost"].update(team="ML Platform"), "/labels/cost/team", "team"),
    (
        lambda v: v["ray"]["workerGroups"][0]["tolerations"][0].update(effect="Sometimes"),
        "/ray/workerGroups/0/tolerations/0/effect",
        "effect",
    ),
    (
        lambda v: v["networkPolicy"]["kubeApiServer"][0].update({"except": ["nope"]}),
        "/networkPolicy/kubeApiServer/0/except/0",
        "except",
    ),
    (
        lambda v: v["gateway"]["networkPolicy"]["ingressFrom"][0].update(namespace="x"),
        "/gateway/networkPolicy/ingressFrom/0",
        "namespace",
    ),
    (lambda v: v["gateway"].update(settings={}), "/gateway", "gateway.settings"),
    (lambda v: v["rayService"]["gcsFaultTolerance"].update(redisAddress=""), "/rayService/gcsFaultTolerance", "redisAddress"),
    (lambda v: v["ray"].update(workerGroups=[]), "/ray/workerGroups", "workerGroups"),
]
IDS = [
    "unknown-key",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "reserved-rule-label",
    "bucket",
    "label-value",
    "toleration-effect",
    "ipblock-except",
    "policy-peer-key",
    "gateway-without-settings",
    "gcs-ft-without-redis",
    "no-worker-group",
]


@pytest.mark.parametrize(("change", "helm_path", "model_text"), REFUSALS, ids=IDS)
def test_a_bad_value_is_refused_by_the_model_and_by_helm_naming_the_key(kit, chart, change, helm_path, model_text):
    import helm_python as helm

    values = copy.deepcopy(json.loads(json.dumps(kit.values("prod"))))
    change(values)
    with pytest.raises(ValidationError) as refused:
        ChartValues.model_validate(values)
    assert model_text in str(refused.value)
    with pytest.raises(helm.HelmValuesError) as rejected:
        chart.validate_schema(values)
    assert helm_path in str(rejected.value)
