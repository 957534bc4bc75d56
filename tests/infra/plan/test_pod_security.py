"""The serving namespace enforces the `restricted` Pod Security Standard, so every pod the chart
renders must meet it, or the API server refuses the pod."""

from __future__ import annotations

import pytest
import yaml

from infra.plan.build import build_plan
from infra.plan.inventory import _pod_templates


def restricted_violations(document: dict) -> list[str]:
    found = []
    for path, template in _pod_templates(document):
        spec = template["spec"]
        pod = spec.get("securityContext") or {}
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            found.append(f"{path}: host namespaces")
        for volume in spec.get("volumes") or []:
            if "hostPath" in volume:
                found.append(f"{path}: hostPath volume {volume['name']}")
        for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
            context = container.get("securityContext") or {}
            where = f"{path} container {container['name']}"
            if not context.get("runAsNonRoot", pod.get("runAsNonRoot")):
                found.append(f"{where}: runAsNonRoot")
            if context.get("allowPrivilegeEscalation") is not False:
                found.append(f"{where}: allowPrivilegeEscalation")
            if (context.get("capabilities") or {}).get("drop") != ["ALL"]:
                found.append(f"{where}: capabilities.drop [ALL]")
            seccomp = (context.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                found.append(f"{where}: seccompProfile")
            if context.get("privileged"):
                found.append(f"{where}: privileged")
    return found


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_serving_pod_meets_the_restricted_standard(tmp_path, env):
    plan = build_plan(env, tmp_path)
    namespace = yaml.safe_load((plan.out_dir / "manifests" / "pulumi" / "namespace-gpt-oss.yaml").read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    documents = [yaml.safe_load(p.read_text()) for p in (plan.out_dir / "manifests" / "gpt-oss").glob("*.yaml")]
    assert any(d["kind"] == "RayService" for d in documents)
    violations = [v for d in documents for v in restricted_violations(d)]
    assert violations == []


def test_the_check_catches_a_privileged_container():
    pod = {
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "x", "securityContext": {"privileged": True}}]}}},
    }
    assert len(restricted_violations(pod)) == 5
