"""promtool on the rendered rules: they load (`promtool check rules`: PromQL, durations, annotation
templates) for every stack, and the unit tests in tests/runbooks/promtool/ prove that the alerts
fire on synthetic series of a broken system and stay silent on a healthy one.

Each unit-test file is named `<stack>-<topic>.yaml` and reads `rules.yaml`: the test writes the
PrometheusRule rendered for that stack next to a copy of it and runs `promtool test rules`.
Series carry the labels Prometheus gives them in the cluster (namespace from the scrape target,
environment from the gateway or the Ray PodMonitor's relabelling, label_* from kube-state-metrics).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

UNIT_TESTS = sorted((Path(__file__).parent / "promtool").glob("*.yaml"))


def test_the_rules_of_every_stack_pass_promtool_check(alerting, stack, tmp_path):
    rules = alerting.write_rules(stack, tmp_path, annotations=True)
    result = alerting.run_promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_there_are_unit_tests_for_every_stack_they_name(alerting):
    assert UNIT_TESTS, "no promtool unit tests in tests/runbooks/promtool/"
    for path in UNIT_TESTS:
        assert path.name.split("-")[0] in alerting.STACKS, f"{path.name}: name it <stack>-<topic>.yaml"


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=[p.stem for p in UNIT_TESTS])
def test_alerts_fire_on_broken_series_and_stay_silent_on_healthy_ones(alerting, unit_test, tmp_path):
    case = unit_test.name.split("-")[0]
    alerting.write_rules(case, tmp_path, annotations=False)
    test = yaml.safe_load(unit_test.read_text())
    # promtool evaluates groups in random order unless told (an unstable sort over a map): an
    # alert would then read a recording rule of another group from the previous evaluation, and
    # with an evaluation interval above the 5-minute lookback it would read nothing. Prometheus
    # itself evaluates groups concurrently, every 30 s; evaluate them here in file order, the
    # recording rules first.
    test.setdefault("group_eval_order", [g["name"] for g in alerting.rule_object(case)["spec"]["groups"]])
    (tmp_path / unit_test.name).write_text(yaml.safe_dump(test, sort_keys=False))
    result = alerting.run_promtool("test", "rules", unit_test.name, cwd=tmp_path)
    assert result.returncode == 0, f"{unit_test.name}:\n{result.stdout}\n{result.stderr}"


def test_the_unit_tests_cover_the_important_alerts(alerting):
    """At least these alerts have a test that expects them to fire."""
    fired = set()
    for path in UNIT_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    required = {
        "GptOssGatewayUpstreamNotReady",
        "GptOssGatewayCircuitOpen",
        "GptOssGatewayHighFallbackRatio",
        "GptOssVllmKvCacheNearFull",
        "GptOssVllmEngineHung",
        "GptOssSelfHostedCostAboveManaged",
        "GptOssGatewaySovereignRequestsRefused",
    }
    assert required <= fired, f"no firing unit test for {sorted(required - fired)}"
