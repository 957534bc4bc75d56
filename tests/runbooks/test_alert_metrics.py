"""Every metric an alert reads exists under that name, with the labels the alert matches on.

- Gateway metrics: the registry of serving/gateway/metrics.py, populated once and exposed with
  prometheus_client (so `_total`, `_bucket` and `le` are what Prometheus really scrapes); label
  values the alerts match exactly (served_by, reason, state) are the gateway's own enums.
- Ray Serve metrics: defined in the installed ray package (the lock file pins ray 2.58.0, the
  version of the rayproject/ray-llm image).
- vLLM metrics through Ray Serve LLM: named in Ray 2.58's own Serve LLM Grafana dashboard, or
  listed below with their source.
- kube-state-metrics label_* names: allow-listed by the Pulumi program (KUBE_STATE_METRICS_LABELS
  in infra/components/addons.py), or kube-state-metrics does not export them.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.utils import floatToGoString

from serving.gateway.circuit import CircuitState
from serving.gateway.metrics import LATENCY_BUCKETS, TTFT_BUCKETS, GatewayMetrics
from serving.gateway.route_override import RouteOverride
from serving.gateway.routing import FallbackReason
from serving.gateway.upstreams import ADAPTERS

REPO_ROOT = Path(__file__).resolve().parents[2]
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
METRIC_NAME = re.compile(r"\b((?:gateway|ray|kube|kuberay)_[a-zA-Z0-9_]+)\b")
# Labels Prometheus adds to every scraped series of a ServiceMonitor/PodMonitor target.
TARGET_LABELS = {"namespace", "pod", "job", "instance", "service", "endpoint", "container"}
# vLLM series through Ray that Ray 2.58's dashboards do not show, with where the name comes from.
VLLM_NOT_IN_RAY_DASHBOARDS = {
    "ray_vllm_num_preemptions_total": (
        "vLLM 0.26 vllm/v1/metrics/loggers.py: Counter `vllm:num_preemptions`; "
        "vllm/v1/metrics/ray_wrappers.py sanitises ':' to '_'; Ray prefixes ray_ and exposes counters with _total"
    ),
}
# kube-state-metrics series (docs/metrics/workload/pod-metrics.md, docs/metrics/cluster/node-metrics.md).
KUBE_STATE_METRICS = {
    "kube_pod_labels",
    "kube_pod_status_phase",
    "kube_pod_container_status_restarts_total",
    "kube_node_labels",
    "kube_node_status_condition",
}
# KubeRay >= 1.4 operator metrics (docs.ray.io, "KubeRay metrics references"; kuberay
# ray-operator/pkg/features metrics: name, namespace, condition labels).
KUBERAY_METRICS = {
    "kuberay_service_info",
    "kuberay_service_condition_ready",
    "kuberay_service_condition_upgrade_in_progress",
}


def _exprs(alerting) -> list[str]:
    return [r["expr"] for r in alerting.all_rules("prod")]


def _selectors(alerting) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    out = []
    for expr in _exprs(alerting):
        for name, body in SELECTOR.findall(expr):
            out.append((name, {label: (op, value) for label, op, value in MATCHER.findall(body)}))
    return out


def _metric_names(alerting, prefix: str) -> set[str]:
    return {name for expr in _exprs(alerting) for name in METRIC_NAME.findall(expr) if name.startswith(prefix)}


def exposed_gateway_metrics() -> dict[str, set[str]]:
    """Sample name -> label names, as the gateway exposes them once every metric has a child."""
    metrics = GatewayMetrics("test")
    # The drain switch registers its metrics on the gateway's registry (serving/gateway/route_override.py).
    RouteOverride(metrics.registry, "test")
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            child = metric.labels(*["x"] * len(metric._labelnames))
            child.observe(1) if hasattr(child, "observe") else child.inc()
    exposed: dict[str, set[str]] = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest))
            exposed.setdefault(name.split()[0], set()).update(labels)
    return exposed


def test_every_gateway_metric_an_alert_reads_is_exposed_with_the_labels_it_matches(alerting):
    exposed = exposed_gateway_metrics()
    used = _metric_names(alerting, "gateway_")
    assert used, "no gateway metric in the alerts?"
    assert not used - exposed.keys(), f"not exposed by serving/gateway/metrics.py: {sorted(used - exposed.keys())}"
    for name, matchers in _selectors(alerting):
        if name.startswith("gateway_"):
            unknown = set(matchers) - exposed[name] - TARGET_LABELS
            assert not unknown, f"{name} has no label {sorted(unknown)}"


def test_label_values_the_alerts_match_are_the_gateways_own(alerting):
    served_by = {adapter.served_by for adapter in ADAPTERS.values()} | {"none"}
    reasons = {reason.value for reason in FallbackReason}
    states = {state.name.lower() for state in CircuitState}
    settings_upstreams = {"self-hosted", "managed"}
    for name, matchers in _selectors(alerting):
        if not name.startswith("gateway_"):
            continue
        for label, (op, value) in matchers.items():
            if op != "=" and op != "!=":
                continue
            if label == "served_by":
                assert value in served_by, f"{name}: served_by={value!r}"
            if label == "reason" and name in {"gateway_unavailable_total", "gateway_fallbacks_total", "gateway_replays_total"}:
                assert value in reasons, f"{name}: reason={value!r}"
            if label == "state":
                assert value in states, f"{name}: state={value!r}"
            if label == "upstream":
                assert value in settings_upstreams, f"{name}: upstream={value!r}"
            if label == "stream":
                assert value in {"true", "false"}, f"{name}: stream={value!r}"


def test_latency_thresholds_are_buckets_the_gateway_exposes():
    """Prometheus counts requests below a threshold only at a bucket boundary, and `le` is
    matched as text ("60.0", not "60"): the schema's choices are the gateway's buckets."""
    import json

    schema = json.loads((REPO_ROOT / "charts/gpt-oss-serving/values.schema.json").read_text())
    slo = schema["properties"]["alerts"]["properties"]["slo"]["properties"]
    assert slo["ttftSecondsBucket"]["enum"] == [floatToGoString(b) for b in TTFT_BUCKETS]
    assert slo["latencySecondsBucket"]["enum"] == [floatToGoString(b) for b in LATENCY_BUCKETS]


def _ray_sources() -> str:
    (root,) = importlib.util.find_spec("ray").submodule_search_locations
    files = [
        Path(root, "serve/_private/deployment_state.py"),
        Path(root, "serve/_private/request_ingress_metrics.py"),
    ]
    return "\n".join(p.read_text() for p in files)


def _ray_llm_dashboards() -> str:
    (root,) = importlib.util.find_spec("ray").submodule_search_locations
    folder = Path(root, "dashboard/modules/metrics/dashboards")
    return "\n".join(p.read_text() for p in folder.glob("*llm*"))


def test_ray_serve_metrics_exist_in_ray(alerting):
    used = _metric_names(alerting, "ray_serve_")
    assert used
    sources = _ray_sources()
    for name in used:
        # Ray exports `serve_x` as `ray_serve_x`, counters with `_total`.
        base = name.removeprefix("ray_").removesuffix("_total")
        assert f'"{base}"' in sources, f"{name}: no metric {base!r} in ray.serve"


def test_vllm_metrics_are_the_names_ray_serve_llm_exports(alerting):
    used = _metric_names(alerting, "ray_vllm_")
    assert used
    dashboards = _ray_llm_dashboards()
    for name in used:
        assert name in dashboards or name in VLLM_NOT_IN_RAY_DASHBOARDS, (
            f"{name} is neither in Ray 2.58's Serve LLM dashboards nor listed with a source"
        )
    # The pre-V1 name is gone in vLLM 0.26: an alert on it would never fire.
    assert not any("gpu_cache_usage_perc" in expr for expr in _exprs(alerting))


def test_kube_state_metrics_and_kuberay_metrics_are_known(alerting):
    assert _metric_names(alerting, "kube_") <= KUBE_STATE_METRICS
    assert _metric_names(alerting, "kuberay_") <= KUBERAY_METRICS


def _allow_listed_labels() -> set[str]:
    """label_<sanitised> names kube-state-metrics exports with the Pulumi program's allowlist."""
    tree = ast.parse((REPO_ROOT / "infra/components/addons.py").read_text())
    allowlist = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "KUBE_STATE_METRICS_LABELS" for t in node.targets)
    )
    labels = set()
    for entry in allowlist:
        resource, _, keys = entry.partition("=")
        for key in keys.strip("[]").split(","):
            labels.add((resource, "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key.strip())))
    return labels


@pytest.mark.parametrize("metric,resource", [("kube_pod_labels", "pods"), ("kube_node_labels", "nodes")])
def test_kube_state_metrics_exports_every_label_the_alerts_select_on(alerting, metric, resource):
    """kube-state-metrics exports no Kubernetes label unless its metricLabelsAllowlist names it;
    a selector on a label it does not export matches nothing and the alert can never fire."""
    allowed = {label for res, label in _allow_listed_labels() if res == resource}
    used = {
        label for name, matchers in _selectors(alerting) if name == metric for label in matchers if label.startswith("label_")
    }
    assert used, f"no {metric} selector in the alerts?"
    missing = sorted(used - allowed)
    assert not missing, (
        f"{metric} selectors use {missing}, which infra/components/addons.py KUBE_STATE_METRICS_LABELS does not "
        f"allow-list for {resource}: add the Kubernetes label keys (e.g. `environment`) to its `{resource}=[...]` entry"
    )


def test_the_kuberay_operator_metrics_are_scraped_with_the_rayservice_namespace(alerting):
    """GptOssRayServiceNotReady and GptOssRayServiceUpgradeStuck read the KubeRay operator's
    metrics, which Prometheus scrapes only through the operator chart's ServiceMonitor; with
    honorLabels the RayService's namespace stays the `namespace` label the alerts select."""
    from infra.components.addons import kuberay_values

    assert _metric_names(alerting, "kuberay_")
    monitor = kuberay_values({}).get("metrics", {}).get("serviceMonitor", {})
    assert monitor.get("enabled") is True, (
        "infra/components/addons.py kuberay_values must set metrics.serviceMonitor.enabled: true "
        "(kuberay-operator chart), or the KubeRay alerts never fire"
    )
    assert monitor.get("honorLabels", True) is True, "keep metrics.serviceMonitor.honorLabels true (the chart's default)"
