"""The PrometheusRule the chart renders: every alert is complete (severity, category, summary,
description, runbook link), scoped to its environment and namespace, and follows the environment
(its warm minimum, its GPU pools, its gateway), with the values infra/chart_values/ derives.
"""

from __future__ import annotations

import re

import pytest

from contracts import NAMESPACE
from infra.capacity import replica_sizing
from infra.catalog import load_catalog
from infra.chart_values.alerts import RUNBOOK_BASE_URL
from infra.chart_values.model.monitoring import Thresholds
from infra.gateway_settings import settings_for_environment

SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """(metric, {label: (operator, value)}) of every `metric{...}` selector in a PromQL expression."""
    out = []
    for name, body in SELECTOR.findall(expr):
        if name in {"by", "without", "on", "ignoring", "group_left", "group_right"}:
            continue
        out.append((name, {label: (op, value) for label, op, value in MATCHER.findall(body)}))
    return out


def test_every_alert_is_complete_and_links_its_runbook(alerting, stack):
    values = alerting.values(stack)
    base = values["alerts"]["runbookBaseUrl"]
    env, _ = alerting.environment(stack)
    for rule in alerting.alert_rules(stack):
        name = rule["alert"]
        assert re.fullmatch(r"GptOss[A-Z][A-Za-z0-9]+", name), name
        assert rule["labels"]["severity"] in alerting.SEVERITIES, name
        assert rule["labels"]["category"], name
        assert rule["labels"]["environment"] == env.name, name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        annotations = rule["annotations"]
        assert annotations["runbook_url"] == f"{base}/{name}.md", name
        assert annotations["summary"].strip() and len(annotations["description"]) > 80, name
        assert "${" not in rule["expr"] + annotations["summary"] + annotations["description"], name


def test_rules_sharing_an_alert_name_differ_by_their_labels(alerting):
    """GptOssGatewayErrorBudgetBurn (fast/slow) and GptOssMonitoringInputsMissing (one rule per
    input) are several rules: their static labels keep the alerts apart in Alertmanager."""
    seen: dict[tuple, int] = {}
    for rule in alerting.alert_rules("prod"):
        key = (rule["alert"], tuple(sorted(rule["labels"].items())))
        seen[key] = seen.get(key, 0) + 1
    assert all(count == 1 for count in seen.values()), [k for k, c in seen.items() if c > 1]


def test_every_selector_is_scoped_to_the_release_and_its_environment(alerting, stack):
    """Two environments in one Prometheus (a central store, Thanos) must never mix: gateway, Ray
    and recorded series carry namespace and environment; KubeRay's are per RayService; pod
    series are joined with kube_pod_labels' label_environment; node series with kube_node_labels'."""
    env, _ = alerting.environment(stack)
    scoped = {"namespace": ("=", NAMESPACE), "environment": ("=", env.name)}
    for rule in alerting.all_rules(stack):
        for metric, matchers in selectors(rule["expr"]):
            where = f"{rule.get('alert') or rule.get('record')}: {metric}"
            if metric.startswith(("gateway_", "ray_", "gpt_oss:", "gpt_oss_governor_")):
                assert scoped.items() <= matchers.items(), where
            elif metric.startswith("kuberay_"):
                assert matchers["namespace"] == ("=", NAMESPACE) and matchers["name"] == ("=", "gpt-oss"), where
            elif metric == "kube_node_labels":
                assert matchers["label_environment"] == ("=", env.name), where
            elif metric == "kube_node_status_condition":
                # Joined on `node` with kube_node_labels{label_environment=...} in the same expression.
                assert "kube_node_labels" in rule["expr"], where
            elif metric.startswith("kube_pod_"):
                assert matchers["namespace"] == ("=", NAMESPACE), where
                if metric != "kube_pod_labels":
                    assert re.search(rf'kube_pod_labels\{{[^}}]*label_environment="{env.name}"', rule["expr"]), where
            else:
                pytest.fail(f"{where}: a metric no scoping rule covers")


def test_pages_wait_for_a_warm_minimum_where_the_pool_scales_to_zero(alerting):
    """The configured minimum is a series; the alerts about 'should be warm' require it > 0."""
    for stack in alerting.STACKS:
        env, _ = alerting.environment(stack)
        (record,) = [r for r in alerting.all_rules(stack) if r.get("record") == "gpt_oss:serving_min_replicas"]
        assert record["expr"] == f"vector({env.serving.min_replicas})"
    for rule in alerting.alert_rules("prod"):
        if rule["alert"] in {
            "GptOssGatewayUpstreamNotReady",
            "GptOssGatewayHighFallbackRatio",
            "GptOssGatewaySovereignRequestsRefused",
            "GptOssSelfHostedCostAboveManaged",
        }:
            assert "gpt_oss:serving_min_replicas" in rule["expr"], rule["alert"]


def test_gpu_pool_floors_follow_the_node_pools(alerting, stack):
    env, _ = alerting.environment(stack)
    floors = {
        r["labels"]["pool"]: r["expr"] for r in alerting.all_rules(stack) if r.get("record") == "gpt_oss:gpu_node_pool_min_nodes"
    }
    assert floors == {pool.name: f"vector({pool.min_nodes})" for pool in env.node_pools}


def test_alert_values_come_from_the_environment(alerting, stack):
    env, _ = alerting.environment(stack)
    alerts = alerting.values(stack)["alerts"]
    settings = settings_for_environment(env, primary_base_url="http://unused:8000/v1")
    primary = next(u for u in settings["upstreams"] if u["name"] == settings["routes"][0]["primary"])
    price = load_catalog().managed_api[env.fallback.model]
    assert alerts["enabled"] is True
    assert alerts["runbookBaseUrl"] == f"{RUNBOOK_BASE_URL}/{stack}"
    assert alerts["environment"] == env.name
    assert alerts["gateway"] == {"primaryUpstream": "self-hosted", "managedUpstream": "managed"}
    thresholds = alerts["thresholds"]
    assert thresholds["selfHostedFleetUsdPerHour"] == primary["cost"]["fleet_usd_per_hour"]
    assert thresholds["managedSpendUsdPerHour"] == primary["cost"]["fleet_usd_per_hour"]
    assert (thresholds["managedInputUsdPerMtok"], thresholds["managedOutputUsdPerMtok"]) == (
        price.input_per_mtok,
        price.output_per_mtok,
    )
    # The other thresholds are not per environment: the chart's defaults.
    priced = {"managedSpendUsdPerHour", "selfHostedFleetUsdPerHour", "managedInputUsdPerMtok", "managedOutputUsdPerMtok"}
    assert {k: v for k, v in Thresholds().model_dump().items() if k not in priced}.items() <= thresholds.items()
    hopper = replica_sizing(env).gpu_generation == "hopper"
    assert alerts["slo"]["ttftSecondsBucket"] == ("2.5" if hopper else "5.0")


def test_the_rule_object_carries_the_cost_labels_and_extra_labels(alerting):
    values = alerting.values("prod")
    values["alerts"]["labels"] = {"release": "kube-prometheus-stack"}
    values["alerts"]["ruleLabels"] = {"team": "ml-platform"}
    (rule,) = alerting.prometheus_rules(values)
    labels = rule["metadata"]["labels"]
    assert labels["release"] == "kube-prometheus-stack"
    assert labels.items() >= values["labels"]["cost"].items()
    assert labels["app.kubernetes.io/component"] == "alerts"
    assert rule["metadata"]["namespace"] == NAMESPACE
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert all(r["labels"]["team"] == "ml-platform" for r in alerts)


def test_a_forked_runbook_location_reaches_every_alert(alerting):
    values = alerting.values("staging")
    values["alerts"]["runbookBaseUrl"] = "https://git.internal.example/platform/gpt-oss/-/blob/main/runbooks"
    (rule,) = alerting.prometheus_rules(values)
    urls = {r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert urls and all(u.startswith("https://git.internal.example/platform/gpt-oss/-/blob/main/runbooks/") for u in urls)


def test_alerts_are_off_unless_asked_for_and_gateway_alerts_need_the_gateway(alerting):
    values = alerting.values("prod")
    values["alerts"]["enabled"] = False
    assert alerting.prometheus_rules(values) == []

    values = alerting.values("prod")
    values["gateway"]["enabled"] = False
    (rule,) = alerting.prometheus_rules(values)
    names = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "GptOssGatewayUpstreamNotReady" not in names and "GptOssVllmEngineHung" in names
    missing = [r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == "GptOssMonitoringInputsMissing"]
    assert "gateway" not in {r["labels"]["input"] for r in missing}


def test_alerts_without_an_environment_are_refused_with_the_reason(alerting):
    import helm_python as helm

    values = alerting.values("dev")
    values["alerts"]["environment"] = ""
    values["labels"]["cost"].pop("environment")
    with pytest.raises(helm.errors.HelmError) as raised:
        alerting.prometheus_rules(values)
    assert "alerts.environment" in str(raised.value)


def test_chart_defaults_render_the_alerts_when_enabled_with_an_environment(alerting):
    """values.yaml alone (gateway off) plus alerts.enabled and an environment renders valid rules."""
    (rule,) = alerting.prometheus_rules({"alerts": {"enabled": True, "environment": "sandbox"}})
    names = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "GptOssVllmEngineHung" in names and not any(n and n.startswith("GptOssGateway") for n in names)
