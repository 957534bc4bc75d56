"""Every Prometheus query of every rendered prod runbook, EXECUTED as the runbook writes it.

The runbooks read Prometheus through the API server's service proxy (`promql` defined in each
block: `kubectl get --raw .../services/kube-prometheus-stack-prometheus:9090/proxy/api/v1/query`,
the query URL-encoded by jq, the answer printed by a jq filter). Here that whole pipeline runs
(`set -eo pipefail`) with a real kubectl against the fake API (tests/support/fake_kube_api.py),
whose service proxy forwards to a real Prometheus (tests/support/prometheus_server.py) holding
series for every metric the queries select:

- a series is written only for a metric whose name is KNOWN from the code that exports it: the
  gateway's registry (serving/gateway/metrics.py, as tests/runbooks/test_alert_metrics.py exposes
  it), Ray Serve's sources and Ray's Serve LLM dashboards (vLLM through Ray), the governor's
  gauges (infra/operate/governor/controller.py), the recording rules of the chart's alerts file,
  kube-state-metrics and KubeRay names the alerts already rely on; a misspelt name therefore
  yields no series and the query prints nothing, which fails;
- its labels are the ones the query matches on and groups by (values as matched, `$ENV` = prod)
  plus the scrape target's `pod`; gateway label names must be ones the gateway exposes.

Each `promql` call must print at least one line: a wrong service, port, namespace, URL encoding,
jq filter or metric name fails the test.
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path

import pytest

from support.prometheus_server import prometheus_with
from tests.runbooks.test_alert_metrics import (
    KUBE_STATE_METRICS,
    KUBERAY_METRICS,
    VLLM_NOT_IN_RAY_DASHBOARDS,
    _ray_llm_dashboards,
    _ray_sources,
    exposed_gateway_metrics,
)
from tests.runbooks.test_runbook_execution import blocks, fill, run, started_cluster

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GOVERNOR = ROOT / "infra" / "operate" / "governor" / "controller.py"
ALERTS_FILE = ROOT / "charts" / "gpt-oss-serving" / "files" / "alerts.yaml"
PROMETHEUS = ("monitoring", "kube-prometheus-stack-prometheus:9090")
STACK = "prod"
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
BY = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
PROMQL_CALL = re.compile(r'^\s*promql\s+"((?:[^"\\]|\\.)*)"\s*$')
BUILT_IN = {"up"}
STEP_S = 30
SAMPLES = 3 * 3600 // STEP_S


class Known:
    """Metric names the exporting code defines (see the module docstring)."""

    def __init__(self) -> None:
        self.gateway = exposed_gateway_metrics()
        # Ray Serve's metrics: the two modules the alerts' test reads, the router (queued
        # queries) and Ray's own Serve dashboards (names a metric is exported under).
        (ray_root,) = importlib.util.find_spec("ray").submodule_search_locations
        serve_files = [Path(ray_root, "serve/_private/router.py")]
        serve_files += Path(ray_root, "dashboard/modules/metrics/dashboards").glob("serve*_panels.py")
        self.ray = _ray_sources() + "\n".join(p.read_text() for p in serve_files)
        self.dashboards = _ray_llm_dashboards()
        self.governor = GOVERNOR.read_text()
        self.records = set(re.findall(r"record:\s*(\S+)", ALERTS_FILE.read_text()))

    def __contains__(self, name: str) -> bool:
        if name.startswith("gateway_"):
            return name in self.gateway
        if name.startswith("ray_serve_"):
            return (
                f'"{name.removeprefix("ray_").removesuffix("_total")}"' in self.ray
                or re.search(rf"\b{name}\b", self.ray) is not None
            )
        if name.startswith("ray_vllm_"):
            return name in self.dashboards or name in VLLM_NOT_IN_RAY_DASHBOARDS
        if name.startswith("gpt_oss_governor_"):
            return f'"{name}"' in self.governor
        if name.startswith("gpt_oss:"):
            return name in self.records
        return name in KUBE_STATE_METRICS | KUBERAY_METRICS | BUILT_IN


def promql_calls(block: str) -> list[str]:
    """The PromQL of each `promql "..."` line of a block, as bash hands it to the function."""
    return [m.group(1).replace('\\"', '"') for line in block.splitlines() if (m := PROMQL_CALL.match(line))]


def _names(name: str | None, matchers: list[tuple[str, str, str]]) -> list[str]:
    if name:
        return [name]
    for label, op, value in matchers:
        if label == "__name__" and op == "=~":
            m = re.fullmatch(r"(\w*)\(([\w|]+)\)(\w*)", value)
            return [m[1] + alt + m[3] for alt in m[2].split("|")] if m else value.split("|")
    return []


def series_for(query: str, env: str, pod: str) -> list[tuple[str, dict[str, str]]]:
    """(metric, labels) of the series that make `query` answer: one per selected metric."""
    grouped = {label.strip() for body in BY.findall(query) for label in body.split(",") if label.strip()}
    out = []
    for name, body in SELECTOR.findall(query):
        matchers = MATCHER.findall(body)
        labels = {"pod": pod, "environment": env, **{g: "x" for g in grouped if g != "le"}}
        for label, op, value in matchers:
            if label == "__name__":
                continue
            if op == "=":
                labels[label] = value.replace("$ENV", env)
            elif op == "=~":
                labels[label] = value.split("|")[0]
            else:
                labels[label] = "other"
        out += [(n, labels) for n in _names(name or None, matchers)]
    return out


def openmetrics_text(series: list[tuple[str, dict[str, str]]], now: float) -> str:
    """Three hours of samples STEP_S apart up to now (a `[2m]` rate needs several): counters and
    buckets rise, gauges stay at 0.5."""
    lines = []
    for name, labels in sorted({(n, tuple(sorted(labels.items()))) for n, labels in series}):
        variants = [dict(labels)]
        if name.endswith("_bucket"):
            variants = [{**dict(labels), "le": le} for le in ("0.5", "1.0", "10.0", "+Inf")]
        for variant in variants:
            text = ",".join(f'{k}="{v}"' for k, v in sorted(variant.items()))
            rising = name.endswith(("_total", "_count", "_sum", "_bucket"))
            scale = {"0.5": 1, "1.0": 2, "10.0": 3, "+Inf": 4}.get(variant.get("le", ""), 1)
            for i in range(SAMPLES):
                value = (i + 1) * 10 * scale if rising else 0.5
                lines.append(f"{name}{{{text}}} {value} {now - (SAMPLES - i) * STEP_S:.0f}")
    return "\n".join(lines) + "\n# EOF\n"


def promql_blocks() -> list[tuple[str, str, list[str]]]:
    """(runbook, block, its queries) of every block of the stack that calls `promql`."""
    return [(name, block, calls) for name, block in blocks(STACK) if (calls := promql_calls(block))]


def script(block: str, table: dict[str, str]) -> str:
    """The block's `promql` definition and variables, then each call after a marker line."""
    lines = [line.strip() for line in block.splitlines()]
    head = [line for line in lines if line.startswith("promql()") or re.match(r"^[A-Z_]+=[\w.-]+$", line)]
    calls = [line for line in lines if PROMQL_CALL.match(line)]
    body = [f"echo '@@ {i}'\n{call}" for i, call in enumerate(calls)]
    return "set -eo pipefail\n" + fill("\n".join(head + body), table)


def answers(stdout: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    current = -1
    for line in stdout.splitlines():
        if line.startswith("@@ "):
            current = int(line[3:])
            out[current] = []
        elif current >= 0:
            out[current].append(line)
    return out


@pytest.fixture(scope="module")
def known() -> Known:
    return Known()


def test_every_metric_a_runbook_queries_is_exported_under_that_name(known):
    unknown, wrong_labels = set(), set()
    for name, _, calls in promql_blocks():
        for query in calls:
            for metric, labels in series_for(query, STACK, "p"):
                if metric not in known:
                    unknown.add(f"{name}: {metric}")
                elif metric in known.gateway:
                    extra = set(labels) - known.gateway[metric] - {"pod", "environment", "namespace"}
                    if extra:
                        wrong_labels.add(f"{name}: {metric} has no label {sorted(extra)}")
    assert not unknown, "metrics no exporter defines:\n" + "\n".join(sorted(unknown))
    assert not wrong_labels, "\n".join(sorted(wrong_labels))


def test_a_planted_metric_name_is_unknown(known):
    assert "gateway_requests_total" in known and "gateway_request_total" not in known
    assert "ray_vllm_kv_cache_usage_perc" in known and "ray_vllm_gpu_cache_usage_perc" not in known
    assert "gpt_oss:self_hosted_managed_equivalent_usd_per_hour:1d" in known and "gpt_oss:nothing:1d" not in known


@pytest.fixture(scope="module")
def prometheus_cluster(tmp_path_factory, known):
    """The fake API with prod's objects, its service proxy pointing at a real Prometheus that
    holds the series of every known metric the prod runbooks query."""
    work = tmp_path_factory.mktemp("promql")
    moto = {"INSTANCE_ID": "i-0123456789abcdef0"}
    with started_cluster(work / "kube", moto) as (api, env, table):
        pod = table["<worker-pod>"]
        series = [
            (m, labels)
            for _, _, calls in promql_blocks()
            for query in calls
            for m, labels in series_for(fill(query, table), STACK, pod)
            if m in known
        ]
        with prometheus_with([], work, text=openmetrics_text(series, time.time())) as url:
            api.service_proxies[PROMETHEUS] = url
            yield env, table


def test_every_promql_call_of_every_prod_runbook_answers_through_the_service_proxy(prometheus_cluster):
    env, table = prometheus_cluster
    found = promql_blocks()
    failed = []
    for name, block, calls in found:
        done = run(env, script(block, table))
        if done.returncode != 0:
            failed.append(f"{name}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
            continue
        printed = answers(done.stdout)
        failed += [f'{name}: promql "{query}" printed nothing' for i, query in enumerate(calls) if not printed.get(i)]
    assert not failed, "runbook queries that do not answer:\n" + "\n".join(failed)
    assert sum(len(calls) for _, _, calls in found) >= 60, "the extraction lost promql calls"


@pytest.mark.parametrize(
    ("planted", "why"),
    [
        # A metric name no exporter defines: no series, nothing printed.
        ('promql "sum by (reason) (rate(gateway_fallback_total{environment=\\"$ENV\\"}[15m]))"', "printed nothing"),
        # The environment label of another stack.
        ('promql "sum by (reason) (rate(gateway_fallbacks_total{environment=\\"staging\\"}[15m]))"', "printed nothing"),
        # Not PromQL: Prometheus answers 400, kubectl exits 1, pipefail fails the block.
        ('promql "sum by (reason) (rate(gateway_fallbacks_total[15m])"', "exit"),
    ],
)
def test_a_planted_query_mistake_fails(prometheus_cluster, planted, why):
    env, table = prometheus_cluster
    (_, block, _), *_ = promql_blocks()
    definition = next(line.strip() for line in block.splitlines() if line.strip().startswith("promql()"))
    done = run(env, script(f"ENV={STACK}\n{definition}\n{planted}\n", table))
    printed = answers(done.stdout)
    problem = f"exit {done.returncode}" if done.returncode else ("printed nothing" if not printed.get(0) else None)
    assert problem and why in problem, (problem, done.stdout, done.stderr)


def test_a_promql_through_the_wrong_service_fails(prometheus_cluster):
    env, table = prometheus_cluster
    (_, block, _), *_ = promql_blocks()
    wrong = block.replace("kube-prometheus-stack-prometheus:9090", "prometheus-operated:9090")
    done = run(env, script(wrong, table))
    # On-call may read only the one Prometheus service: another one is refused before it is looked up.
    assert done.returncode != 0 and "forbidden" in done.stderr.lower(), done.stderr


def test_every_other_raw_read_of_prometheus_runs_whole(prometheus_cluster):
    """`kubectl get --raw` of the Prometheus API outside `promql` (the scrape targets), the whole
    pipeline with pipefail."""
    env, table = prometheus_cluster
    lines = [
        line.strip()
        for _, block in blocks(STACK)
        for line in block.splitlines()
        if line.strip().startswith("kubectl get --raw") and "/proxy/" in line
    ]
    assert lines, "no raw Prometheus read left: drop this test"
    for line in lines:
        done = run(env, "set -eo pipefail\n" + fill(line, table))
        assert done.returncode == 0, (line, done.stderr[-300:])


def test_the_proxied_prometheus_service_and_port_are_what_the_program_installs():
    """The service proxy path names the Service kube-prometheus-stack renders in the planned prod
    stack (the pinned chart, rendered by the plan), on a port it serves."""
    from infra.runbooks.context import MONITORING_NAMESPACE, PROMETHEUS_PORT, PROMETHEUS_SERVICE
    from support.planning import stack_of

    services = {
        (d["metadata"]["name"], d["metadata"].get("namespace")): [p["port"] for p in d["spec"].get("ports", [])]
        for release in stack_of(STACK).upstream
        for d in release.documents
        if d.get("kind") == "Service"
    }
    assert PROMETHEUS_PORT in services.get((PROMETHEUS_SERVICE, MONITORING_NAMESPACE), []), sorted(services)
    assert (MONITORING_NAMESPACE, f"{PROMETHEUS_SERVICE}:{PROMETHEUS_PORT}") == PROMETHEUS
