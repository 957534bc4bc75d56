"""On-call access: an environment that lists `cluster.oncall_role_arns` gets, for each role, an EKS
access entry with the on-call Kubernetes group and no access policy, and the Roles, ClusterRole and
bindings of infra/oncall_rbac.py (the rules the executed runbooks run under:
tests/runbooks/test_runbook_execution.py). The program runs under mocks on a scratch copy of the
environments with the key added to prod's overlay."""

from __future__ import annotations

import pytest
import yaml

from infra.config.errors import ConfigError
from infra.config.load import validate_overlay
from infra.config.stack_files import render_stack_file
from infra.oncall_rbac import ONCALL_GROUP, oncall_rbac_documents
from infra.plan.runner import run_program
from support.environments import build_environments

ROLE = "arn:aws:iam::123456789012:role/oncall"


def _with_oncall(root, roles, admins=None):
    overlay = root / "environments" / "prod.yaml"
    data = yaml.safe_load(overlay.read_text())
    data.setdefault("cluster", {})["oncall_role_arns"] = roles
    if admins is not None:
        data["cluster"]["admin_role_arns"] = admins
    overlay.write_text(yaml.safe_dump(data, sort_keys=False))


def test_an_oncall_role_gets_the_group_and_exactly_the_runbooks_rules(tmp_path):
    root = build_environments(tmp_path / "repo")
    _with_oncall(root, [ROLE])
    render_stack_file("prod", root)
    registrations = run_program("prod", root).registrations
    entries = [r for r in registrations if r.type == "aws:eks/accessEntry:AccessEntry" and r.inputs.get("principalArn") == ROLE]
    assert len(entries) == 1 and entries[0].inputs["kubernetesGroups"] == [ONCALL_GROUP], entries
    policies = [r for r in registrations if r.type == "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"]
    assert all(r.inputs.get("principalArn") != ROLE for r in policies), "on-call must not get an EKS access policy"
    rbac = {
        (r.type.rsplit(":", 1)[-1], r.inputs["metadata"].get("namespace", "")): r.inputs
        for r in registrations
        if r.type.startswith("kubernetes:rbac.authorization.k8s.io/v1:")
        and r.inputs.get("metadata", {}).get("name") == "gpt-oss-oncall"
    }
    wanted = {(d["kind"], d["metadata"].get("namespace", "")): d for d in oncall_rbac_documents()}
    assert set(rbac) == set(wanted)
    for key, doc in wanted.items():
        if "rules" in doc:
            assert rbac[key]["rules"] == doc["rules"], key
        else:
            assert rbac[key]["subjects"] == doc["subjects"] and rbac[key]["roleRef"] == doc["roleRef"], key


def test_without_oncall_roles_nothing_is_created(tmp_path):
    registrations = run_program("prod", build_environments(tmp_path / "repo")).registrations
    assert not [r for r in registrations if "OncallAccess" in r.type]


@pytest.mark.parametrize(
    ("roles", "admins", "message"),
    [
        (["arn:aws:iam::123456789012:user/jdoe"], None, "not IAM role ARNs"),
        ([ROLE], [ROLE], "already in admin_role_arns"),
    ],
)
def test_a_bad_oncall_role_list_is_refused_naming_the_key(tmp_path, roles, admins, message):
    root = build_environments(tmp_path / "repo")
    _with_oncall(root, roles, admins)
    with pytest.raises(ConfigError) as refused:
        validate_overlay("prod", root)
    text = "\n".join(p.render() for p in refused.value.problems)
    assert "cluster" in text and message in text, text
