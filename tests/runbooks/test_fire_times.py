"""Each runbook's header states when its alert fires ("Fires after 5 minutes", "Fires at once",
"Fires after 5 minutes (warning), 1 minute (critical)"), and promtool holds the statement to the
rendered rule: the rule, with its condition made true from t=0 and its own `for`, evaluated every
30 s as kube-prometheus-stack does, must fire exactly at the stated time and not one evaluation
earlier. A wrong statement (or a rule whose `for` changed under its runbook) fails here.

The statement is the delay after the alert's condition starts to hold; where the condition itself
lags the incident (a rate over a window, a periodic check), the runbook says so in its Meaning and
tests/runbooks/promtool/ times the whole chain on series of the incident.
"""

from __future__ import annotations

import re

import pytest
import yaml

EVALUATION_S = 30
UNITS = {"second": 1, "minute": 60, "hour": 3600}
_SEGMENT = re.compile(r"^(\d+) (second|minute|hour)s?(?: \((critical|warning|info)\))?")


def stated_fire_times(header: str) -> dict[str | None, int] | None:
    """Severity (None: every rule) -> seconds, from the header's "Fires ..." clause; None without one."""
    clause = next((part.strip() for part in header.split("·") if part.strip().startswith("Fires")), None)
    if clause is None:
        return None
    if clause.startswith("Fires at once"):
        return {None: 0}
    rest = clause.removeprefix("Fires after ").strip()
    times: dict[str | None, int] = {}
    for segment in rest.split(", "):
        match = _SEGMENT.match(segment)
        if not match:
            break
        number, unit, severity = match.groups()
        times[severity] = int(number) * UNITS[unit]
    assert times, f"cannot read a fire time in {clause!r}"
    return times


def _duration_s(text: str) -> int:
    total = 0
    for number, unit in re.findall(r"(\d+)([smhd])", text):
        total += int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return total


def _header(path) -> str:
    return next(line for line in path.read_text().splitlines() if line.startswith("Severity:"))


def test_the_header_parser_reads_every_form():
    assert stated_fire_times("Severity: info · Fires after 1 minute · Source: x") == {None: 60}
    assert stated_fire_times("Severity: warning · Fires after 1 hour · Source: x") == {None: 3600}
    assert stated_fire_times("Fires after 20 minutes (`alerts.thresholds.podPendingFor`)") == {None: 1200}
    assert stated_fire_times("Fires after 5 minutes (warning), 1 minute (critical) · Source") == {"warning": 300, "critical": 60}
    assert stated_fire_times("Fires at once, for 15 minutes after the last replay") == {None: 0}
    assert stated_fire_times("Severity: critical · Source: x") is None


def _promtool_fire_check(alerting, tmp_path, name: str, rules: list[dict], stated: int) -> None:
    """Fires at `stated` seconds and not one evaluation before, with the condition true from t=0."""
    group_rules = []
    for rule in rules:
        group_rules.append({"alert": name, "expr": "vector(1)", "for": rule.get("for", "0s"), "labels": rule["labels"]})
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "fire-time", "rules": group_rules}]}))
    checks = [{"eval_time": f"{stated}s", "alertname": name, "exp_alerts": [{"exp_labels": r["labels"]} for r in rules]}]
    if stated >= EVALUATION_S:
        checks.insert(0, {"eval_time": f"{stated - EVALUATION_S}s", "alertname": name, "exp_alerts": []})
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": f"{EVALUATION_S}s",
        "tests": [{"interval": f"{EVALUATION_S}s", "input_series": [], "alert_rule_test": checks}],
    }
    (tmp_path / "fire.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = alerting.run_promtool("test", "rules", "fire.yaml", cwd=tmp_path)
    assert result.returncode == 0, (
        f"{name}: the runbook says it fires after {stated} s; promtool:\n{result.stdout}\n{result.stderr}"
    )


def test_every_runbook_states_the_fire_time_promtool_computes_from_its_rule(alerting, stack, tmp_path):
    rules_by_alert: dict[str, list[dict]] = {}
    for rule in alerting.alert_rules(stack):
        rules_by_alert.setdefault(rule["alert"], []).append(rule)
    checked = 0
    for name, path in alerting.runbook_files(stack).items():
        rules = rules_by_alert.get(name)
        if not rules:
            continue
        stated = stated_fire_times(_header(path))
        fors = {_duration_s(r.get("for", "0s")) for r in rules}
        if stated is None:
            # Only alerts made of several rules with different windows (burn rates) may say nothing.
            assert len(fors) > 1, f"{path}: the header does not state when {name} fires (`Fires after N minutes`)"
            continue
        for severity, seconds in stated.items():
            selected = [r for r in rules if severity is None or r["labels"]["severity"] == severity]
            assert selected, f"{path}: states a fire time for severity {severity}, which {name} does not have"
            folder = tmp_path / f"{name}-{severity}"
            folder.mkdir()
            _promtool_fire_check(alerting, folder, name, selected, seconds)
            checked += 1
    assert checked >= 20


def test_a_wrong_fire_time_fails(alerting, tmp_path):
    rule = next(r for r in alerting.alert_rules("prod") if r["alert"] == "GptOssGatewayUpstreamNotReady")
    assert _duration_s(rule["for"]) == 300
    _promtool_fire_check(alerting, tmp_path, rule["alert"], [rule], 300)
    with pytest.raises(AssertionError, match="promtool"):
        _promtool_fire_check(alerting, tmp_path, rule["alert"], [rule], 240)
    with pytest.raises(AssertionError, match="promtool"):
        _promtool_fire_check(alerting, tmp_path, rule["alert"], [rule], 360)
