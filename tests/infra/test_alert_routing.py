"""Alert routing: Alertmanager receivers from the environment's `alerting` section, secrets only
by reference, severity routing checked with amtool, and inhibitions decided by a real
Alertmanager on 127.0.0.1 for the label sets the rules produce (tests/runbooks/promtool/prod-drain.yaml)."""

from __future__ import annotations

import copy
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from infra.alert_routing import alertmanager_config, alertmanager_secret_names
from infra.components.addons import prometheus_stack_values
from infra.config import ConfigError, environment_from_stack_file, read_stack_file, validate_environment
from infra.config.load import PROJECT
from support.ports import free_port
from support.tools import REPO_ROOT, require_tool

AMTOOL = REPO_ROOT / "tools" / "alertmanager" / "bin" / "amtool"
ALERTMANAGER = REPO_ROOT / "tools" / "alertmanager" / "bin" / "alertmanager"
FETCH = "tools/alertmanager/fetch.sh"
PROMTOOL_SCENARIOS = REPO_ROOT / "tests" / "runbooks" / "promtool" / "prod-drain.yaml"
STACKS = ("dev", "staging", "prod")
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/abcdefghijklmnopqrstuvwx"


def _raw(stack: str) -> dict:
    return copy.deepcopy(read_stack_file(stack)[f"{PROJECT}:environment"])


def _problems(raw: dict, stack: str = "prod") -> str:
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw, stack=stack)
    return str(caught.value)


def _write_config(stack: str, folder: Path) -> Path:
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_config(environment_from_stack_file(stack).alerting), sort_keys=False))
    return path


# -- the config section ---------------------------------------------------------------------------


def test_a_secret_written_inline_is_refused_and_never_echoed():
    raw = _raw("prod")
    raw["alerting"]["receivers"][1]["api_url"] = WEBHOOK
    message = _problems(raw)
    assert "alerting.receivers[1]: api_url: a secret is never written in the config" in message
    assert "secret: {name: ..., key: ...}" in message and WEBHOOK not in message and "abcdefgh" not in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda a: a["receivers"][0].pop("secret"), "type pagerduty needs secret"),
        (lambda a: a["receivers"][1].pop("channel"), "type slack needs channel"),
        (lambda a: a["receivers"][0].update(channel="#x"), "channel is only for type slack"),
        (lambda a: a.update(critical=["oncall-pagr"]), "critical names receiver 'oncall-pagr', which is not defined"),
        (lambda a: a.update(critical=[]), "critical has no receiver"),
        (
            lambda a: a["receivers"].append({"name": "spare", "type": "pagerduty", "secret": {"name": "s", "key": "k"}}),
            "not used by any severity: spare",
        ),
        (lambda a: a["receivers"].append(dict(a["receivers"][1])), "duplicate receiver names: team-slack"),
        (lambda a: a["receivers"][1]["secret"].update(name="Not_A_Name"), "alerting.receivers[1].secret.name"),
        (
            lambda a: a["receivers"].append({"name": "mail", "type": "email", "to": ["x"]}) or a["info"].append("mail"),
            "type email needs sender, smarthost",
        ),
    ],
)
def test_bad_receivers_are_refused_with_the_key_path(edit, expected):
    raw = _raw("prod")
    edit(raw["alerting"])
    assert expected in _problems(raw)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: o["escalation"].reverse(), "oncall.escalation: steps must be in order of after_minutes"),
        (lambda o: o.update(grafana_url="http://grafana"), "oncall.grafana_url: must be an https:// URL"),
        (lambda o: o.update(escalation=[]), "oncall.escalation"),
        (lambda o: o.pop("primary"), "oncall.primary: required key is missing"),
    ],
)
def test_bad_oncall_sections_are_refused(edit, expected):
    raw = _raw("prod")
    edit(raw["oncall"])
    assert expected in _problems(raw)


# -- what reaches kube-prometheus-stack --------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_receivers_read_their_secrets_from_mounted_files(stack):
    env = environment_from_stack_file(stack)
    values = prometheus_stack_values(env, {})["alertmanager"]
    secrets = values["alertmanagerSpec"]["secrets"]
    assert secrets == alertmanager_secret_names(env.alerting) == ["alertmanager-receivers"]
    text = json.dumps(values["config"])
    files = [
        v
        for r in values["config"]["receivers"]
        for c in [*r.get("slack_configs", []), *r.get("pagerduty_configs", []), *r.get("email_configs", [])]
        for k, v in c.items()
        if k.endswith("_file")
    ]
    assert files and all(f.startswith("/etc/alertmanager/secrets/alertmanager-receivers/") for f in files)
    for forbidden in ('"api_url"', '"routing_key"', '"service_key"', '"auth_password"'):
        assert forbidden not in text
    assert all("runbook_url" in json.dumps(r) for r in values["config"]["receivers"] if r["name"] != "null")


def test_no_receivers_means_no_secret_mounts_and_the_null_route():
    raw = _raw("dev")
    raw["alerting"] = {}
    env = validate_environment(raw, stack="dev")
    values = prometheus_stack_values(env, {})["alertmanager"]
    assert values["alertmanagerSpec"]["secrets"] == []
    assert values["config"]["route"]["receiver"] == "null" and values["config"]["receivers"] == [{"name": "null"}]


# -- amtool: the config loads, and each severity reaches its receivers --------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_amtool_accepts_the_config(stack, tmp_path):
    amtool = require_tool(AMTOOL, FETCH)
    result = subprocess.run(
        [str(amtool), "check-config", str(_write_config(stack, tmp_path))], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("stack", "labels", "receivers"),
    [
        ("prod", ["severity=critical", "alertname=GptOssGatewayUpstreamNotReady"], "oncall-pager,team-slack"),
        ("prod", ["severity=warning", "alertname=GptOssGatewayHighFallbackRatio"], "team-slack"),
        ("prod", ["severity=info", "alertname=GptOssGatewayRouteOverridden"], "team-slack"),
        ("prod", ["severity=none", "alertname=Watchdog"], "null"),
        ("prod", ["alertname=NoSeverity"], "null"),
        ("staging", ["severity=critical", "alertname=KubeNodeNotReady"], "team-slack,team-email"),
        ("staging", ["severity=warning", "alertname=X"], "team-slack"),
        ("dev", ["severity=critical", "alertname=X"], "team-slack"),
    ],
)
def test_each_severity_reaches_its_receivers(stack, labels, receivers, tmp_path):
    amtool = require_tool(AMTOOL, FETCH)
    config = _write_config(stack, tmp_path)
    result = subprocess.run(
        [str(amtool), "config", "routes", "test", f"--config.file={config}", *labels], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receivers


# -- a real Alertmanager decides the inhibitions ---------------------------------------------------------


def _scenario_alerts() -> list[dict[str, str]]:
    """The alerts (labels with alertname) the promtool scenarios marked `inhibition` expect to fire."""
    text = PROMTOOL_SCENARIOS.read_text()
    alerts = []
    for test in yaml.safe_load(text)["tests"]:
        for check in test["alert_rule_test"]:
            for expected in check.get("exp_alerts") or []:
                alerts.append({"alertname": check["alertname"], **{k: str(v) for k, v in expected["exp_labels"].items()}})
    return alerts


@pytest.fixture
def alertmanager(tmp_path):
    binary = require_tool(ALERTMANAGER, FETCH)
    port = free_port()
    process = subprocess.Popen(
        [
            str(binary),
            f"--config.file={_write_config('prod', tmp_path)}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v2"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/status", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "alertmanager did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _post(url: str, alerts: list[dict[str, str]]) -> None:
    body = [{"labels": labels, "annotations": {"summary": "test"}} for labels in alerts]
    httpx.post(f"{url}/alerts", json=body, timeout=5).raise_for_status()


def _inhibited(url: str, expected: int) -> dict[tuple[str, str], bool]:
    """(alertname, environment/route) -> inhibited, once Alertmanager holds `expected` alerts."""
    deadline = time.monotonic() + 10
    while True:
        alerts = httpx.get(f"{url}/alerts", timeout=5).json()
        states = {
            (a["labels"]["alertname"], a["labels"].get("route") or a["labels"]["environment"]): bool(a["status"]["inhibitedBy"])
            for a in alerts
        }
        if (len(alerts) >= expected and any(states.values())) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def test_causes_silence_their_symptoms_in_the_same_environment_only(alertmanager):
    fired = _scenario_alerts()
    names = {a["alertname"] for a in fired}
    assert {
        "GptOssRayServiceNotReady",
        "GptOssGatewayHighFallbackRatio",
        "GptOssGatewayRouteOverridden",
        "GptOssGatewayManagedSpendHigh",
    } <= names
    staging_symptom = {**next(a for a in fired if a["alertname"] == "GptOssGatewayHighFallbackRatio"), "environment": "staging"}
    _post(alertmanager, [*fired, staging_symptom])
    states = _inhibited(alertmanager, len(fired))
    assert states[("GptOssGatewayHighFallbackRatio", "prod")] is True
    assert states[("GptOssGatewayUpstreamNotReady", "prod")] is True
    assert states[("GptOssGatewayManagedSpendHigh", "prod")] is True
    assert states[("GptOssRayServiceNotReady", "prod")] is False
    assert states[("GptOssGatewayRouteOverridden", "managed")] is False
    assert states[("GptOssGatewayHighFallbackRatio", "staging")] is False


def test_a_self_hosted_drain_does_not_silence_managed_spend(alertmanager):
    spend = next(a for a in _scenario_alerts() if a["alertname"] == "GptOssGatewayManagedSpendHigh")
    drain = {
        "alertname": "GptOssGatewayRouteOverridden",
        "severity": "info",
        "category": "change",
        "environment": "prod",
        "namespace": "gpt-oss",
        "route": "self-hosted",
    }
    _post(alertmanager, [spend, drain])
    time.sleep(1.0)  # give the inhibitor time to see the source alert, then check nothing is muted
    alerts = httpx.get(f"{alertmanager}/alerts", timeout=5).json()
    assert len(alerts) == 2 and not any(a["status"]["inhibitedBy"] for a in alerts)
