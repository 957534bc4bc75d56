"""Runbooks: every alert links the one rendered for its environment, every runbook belongs to an
alert, and each has exactly the four sections (Meaning, Impact, Diagnosis, Mitigation), in order
and non-empty, with commands to paste in its Diagnosis. runbooks/<env>/README.md indexes them with
their severity. (Rendering, links and CLI commands: test_rendered_runbooks.py.)
"""

from __future__ import annotations

import re


def _runbook_path(alerting, url: str, base: str, stack: str):
    assert url.startswith(base + "/"), url
    return alerting.RUNBOOKS_DIR / stack / url.removeprefix(base + "/")


def test_every_alert_links_a_runbook_that_exists(alerting, stack):
    base = alerting.values(stack)["alerts"]["runbookBaseUrl"]
    assert base.endswith(f"/runbooks/{stack}"), "each environment's alerts link its own rendered runbooks"
    for rule in alerting.alert_rules(stack):
        path = _runbook_path(alerting, rule["annotations"]["runbook_url"], base, stack)
        assert path.is_file(), f"{rule['alert']}: {rule['annotations']['runbook_url']} does not resolve to a file in runbooks/"
        assert path.stem == rule["alert"]


def test_every_runbook_belongs_to_an_alert(alerting, stack):
    alerts = {r["alert"] for s in alerting.STACKS for r in alerting.alert_rules(s)}
    orphans = sorted(set(alerting.runbook_files(stack)) - alerts)
    assert not orphans, f"runbooks without an alert: {orphans}"


def test_every_runbook_has_exactly_the_four_sections_in_order(alerting, stack):
    for name, path in alerting.runbook_files(stack).items():
        text = path.read_text()
        assert text.startswith(f"# {name}\n"), f"{path.name}: the title must be the alert name"
        sections = alerting.h2_sections(text)
        assert [title for title, _ in sections] == alerting.SECTIONS, f"{path.name}: sections {[t for t, _ in sections]}"
        for title, body in sections:
            assert len(body) > 80, f"{path.name}: section {title} is (nearly) empty"


def test_diagnosis_gives_commands_to_paste_and_mitigation_says_when_to_escalate(alerting, stack):
    for path in alerting.runbook_files(stack).values():
        sections = dict(alerting.h2_sections(path.read_text()))
        blocks = re.findall(r"```bash\n(.*?)```", sections["Diagnosis"], flags=re.S)
        assert blocks, f"{path.name}: Diagnosis has no ```bash block"
        commands = "\n".join(blocks)
        assert re.search(r"\b(kubectl|aws|curl|promql)\b", commands), f"{path.name}: no kubectl/aws/curl/promql command"
        assert "escalat" in sections["Mitigation"].lower(), f"{path.name}: Mitigation does not say when to escalate"


def test_runbooks_name_only_alerts_that_exist(alerting, stack):
    alerts = {r["alert"] for s in alerting.STACKS for r in alerting.alert_rules(s)}
    procedures = sorted((alerting.RUNBOOKS_DIR / stack / "procedures").glob("*.md"))
    for path in [*alerting.runbook_files(stack).values(), alerting.RUNBOOKS_DIR / stack / "README.md", *procedures]:
        named = set(re.findall(r"\bGptOss[A-Za-z]+\b(?!\*)", path.read_text()))  # `GptOssVllm*` is a family
        assert named <= alerts, f"{path.name} names unknown alerts {sorted(named - alerts)}"


def test_the_index_lists_every_alert_with_its_severities(alerting, stack):
    rows = {}
    for line in (alerting.RUNBOOKS_DIR / stack / "README.md").read_text().splitlines():
        match = re.match(r"^\| \[(\w+)\]\((\w+)\.md\) \| ([^|]+) \| ([^|]+) \|$", line)
        if match:
            name, target, severity, meaning = match.groups()
            assert name == target and meaning.strip()
            rows[name] = severity
    severities: dict[str, set[str]] = {}
    for rule in alerting.alert_rules(stack):
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert set(rows) == set(severities), f"index vs alerts: {sorted(set(rows) ^ set(severities))}"
    for name, expected in severities.items():
        listed = set(re.findall(r"critical|warning|info", rows[name]))
        assert listed == expected, f"README lists {name} as {rows[name]!r}, the rule says {sorted(expected)}"


def test_each_runbook_header_states_the_severity_of_its_alert(alerting, stack):
    severities: dict[str, set[str]] = {}
    for rule in alerting.alert_rules(stack):
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    for name, path in alerting.runbook_files(stack).items():
        header = path.read_text().split("\n## ", 1)[0]
        match = re.search(r"^Severity: (.+?) ·", header, flags=re.M)
        assert match, f"{path.name}: no 'Severity: ... ·' line under the title"
        assert set(re.findall(r"critical|warning|info", match.group(1))) == severities[name], path.name


def test_the_alerts_page_names_every_alert(alerting, stack):
    """docs/alerts.md's area table lists each alert by its short name (GptOss[Gateway] dropped)."""
    page = (alerting.RUNBOOKS_DIR.parent / "docs" / "alerts.md").read_text()
    table = "\n".join(line for line in page.split("## Design")[0].splitlines() if line.startswith("| "))
    named = set(re.findall(r"[A-Z][A-Za-z]+", table))
    missing = sorted(
        rule["alert"] for rule in alerting.alert_rules(stack) if re.sub(r"^GptOss(Gateway)?", "", rule["alert"]) not in named
    )
    assert not missing, f"docs/alerts.md does not list {missing}"
