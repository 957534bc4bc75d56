"""`gpt-oss-platform plan --strict`: the committed examples fail it, naming each placeholder; a
real configuration passes it; without --strict the same findings are only recorded."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest
import yaml

from cli.__main__ import main as cli_main
from infra.config.load import PROJECT, read_stack_file, validate_environment
from infra.plan.strict import strict_findings

PLANTED = {
    ("cluster", "api_access", "public_cidrs"): ["203.0.113.0/24"],
    ("budget", "notify_emails"): ["ml-platform-alerts@example.com", "finops@example.com"],
    ("gateway", "ingress", "certificate_arn"): (
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    ),
    ("oncall", "grafana_url"): "https://grafana.prod.example.com",
}


def prod_with_placeholders(root) -> None:
    """prod's stack file with the committed examples planted (they hold whatever a user replaced)."""
    config = copy.deepcopy(read_stack_file("prod"))
    raw = config[f"{PROJECT}:environment"]
    for path, value in PLANTED.items():
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    raw["oncall"]["escalation"][0]["contact"] = "ML platform lead (lead@example.com)"
    (root / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": config}))


def test_plan_strict_of_prod_exits_1_naming_each_placeholder(tmp_path, capsys):
    prod_with_placeholders(tmp_path)
    assert cli_main(["plan", "--env", "prod", "--strict", "--stacks", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    report = captured.out
    for path in (
        "cluster.api_access.public_cidrs[0]",
        "budget.notify_emails[0]",
        "budget.notify_emails[1]",
        "gateway.ingress.certificate_arn",
        "oncall.grafana_url",
        "oncall.escalation[0].contact",
    ):
        assert f"STRICT: placeholder {path}: " in report, path
    assert "strict finding(s)" in captured.err
    data = json.loads((tmp_path / "out" / "prod" / "plan.json").read_text())
    assert data["status"] == "failed" and data["strict"] is True
    assert any("203.0.113.0/24" in line for line in data["strict_findings"])


def test_without_strict_the_findings_are_recorded_but_do_not_fail(tmp_path, capsys):
    prod_with_placeholders(tmp_path)
    assert cli_main(["plan", "--env", "prod", "--stacks", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    data = json.loads((tmp_path / "out" / "prod" / "plan.json").read_text())
    assert data["strict"] is False and data["strict_findings"] and data["status"] == "passed"
    assert "STRICT:" not in capsys.readouterr().out


def real(env_name: str, **budget) -> dict:
    raw = copy.deepcopy(read_stack_file(env_name)[f"{PROJECT}:environment"])
    text = json.dumps(raw)
    for example, value in (
        ("203.0.113.0/24", "10.99.0.0/16"),
        ("example.com", "corp.internal"),
        ("123456789012", "210987654321"),
        ("00000000-0000-0000-0000-000000000000", "0a1b2c3d-1111-2222-3333-444455556666"),
    ):
        text = text.replace(example, value)
    raw = json.loads(text)
    raw["budget"].update(budget)
    return raw


def test_a_real_configuration_in_standard_support_has_no_strict_finding():
    env = validate_environment(real("prod"), stack="prod")
    assert strict_findings(env, {"max": 1000.0}, on=date(2026, 1, 1)) == []


def test_a_budget_below_the_maximum_and_extended_support_are_strict_findings():
    raw = real("dev", monthly_usd=100)
    raw["cluster"]["kubernetes_version"] = "1.33"
    env = validate_environment(raw, stack="dev")
    found = strict_findings(env, {"max": 1234.5}, on=date(2026, 12, 7))
    assert found[0].startswith("budget.monthly_usd: $100.00 is below the estimated maximum $1,234.50")
    assert found[1].startswith("cluster.kubernetes_version: 1.33 is in EKS extended support (standard support ended 2026-07-29)")
    assert found[1].endswith("upgrade to one in standard support: 1.35")


def test_the_committed_kubernetes_version_is_in_standard_support_so_strict_finds_nothing_for_it():
    # 1.35 is in EKS standard support until 2027-03-27 (infra/catalog/eks_versions.yaml); the day
    # after, the same environment is a strict finding.
    for name in ("dev", "staging", "prod"):
        env = validate_environment(real(name), stack=name)
        assert env.cluster.kubernetes_version == "1.35"
        assert strict_findings(env, {"max": 0}, on=date(2026, 12, 7)) == [], name
    (late,) = strict_findings(validate_environment(real("prod"), stack="prod"), {"max": 0}, on=date(2027, 3, 27))
    assert late.startswith("cluster.kubernetes_version: 1.35 is in EKS extended support (standard support ended 2027-03-27)")


@pytest.mark.parametrize(
    "value",
    ["198.51.100.7/32", "192.0.2.0/28", "2001:db8:abcd::/48"],
)
def test_every_documentation_range_is_a_strict_finding(value):
    raw = real("dev")
    raw["cluster"]["api_access"]["public_cidrs"] = [value]
    env = validate_environment(raw, stack="dev")
    (finding,) = strict_findings(env, {"max": 0}, on=date(2026, 1, 1))
    assert "cluster.api_access.public_cidrs[0]: is in the documentation range" in finding


def test_example_org_and_net_addresses_are_strict_findings():
    raw = real("dev")
    raw["budget"]["notify_emails"] = ["a@example.org", "b@sub.example.net", "ok@corp.example.company"]
    env = validate_environment(raw, stack="dev")
    found = strict_findings(env, {"max": 0}, on=date(2026, 1, 1))
    assert [f.split(":")[0] for f in found] == ["placeholder budget.notify_emails[0]", "placeholder budget.notify_emails[1]"]
