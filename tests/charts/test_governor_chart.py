"""The cost governor in the chart: rendered in `recommend` mode for every environment, its RBAC
exactly what the mode needs (read-only in recommend; patch on the one RayService and the one
NodePool in enforce), its settings valid for the controller, one active replica by Lease."""

from __future__ import annotations

import json
import re

from infra.operate.governor.settings import ControllerSettings

LEASE_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resourceNames": ["gpt-oss-governor"],
        "verbs": ["get", "update"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["gpt-oss-route-override"], "verbs": ["get"]},
]


def rayservice_rule(*verbs: str) -> dict:
    return {"apiGroups": ["ray.io"], "resources": ["rayservices"], "resourceNames": ["gpt-oss"], "verbs": list(verbs)}


def test_every_environment_runs_the_governor_in_recommend_mode_with_read_only_rbac(kit, stack_case):
    docs = kit.rendered_docs(stack_case)
    deployment = kit.one(docs, "Deployment", "gpt-oss-governor")
    settings = json.loads(kit.one(docs, "ConfigMap", "gpt-oss-governor-config")["data"]["governor.json"])
    assert ControllerSettings.model_validate(settings).policy.mode == "recommend"
    assert kit.one(docs, "Role", "gpt-oss-governor")["rules"] == [*LEASE_RULES, rayservice_rule("get")]
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    binding = kit.one(docs, "RoleBinding", "gpt-oss-governor")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "gpt-oss-governor", "namespace": "gpt-oss"}]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "gpt-oss-governor"
    assert pod["containers"][0]["command"][:3] == ["python", "-m", "infra.operate.governor"]
    # The cost model the controller gets is the one `cost simulate` uses for the environment.
    assert settings["cost_model"]["shape"]["usd_per_node_hour"] > 0
    egress_ports = {
        p["port"] for rule in kit.one(docs, "NetworkPolicy", "gpt-oss-governor")["spec"]["egress"] for p in rule["ports"]
    }
    assert egress_ports == {9090, 443, 53}


def test_enforce_mode_may_patch_the_one_rayservice_and_nothing_cluster_scoped(kit):
    """With Karpenter the worker pods min_replicas keeps hold the nodes (a NodePool has no minimum):
    enforce adds `patch` on the RayService and nothing else."""
    values = json.loads(json.dumps(kit.values("prod")))
    values["governor"]["mode"] = "enforce"
    values["governor"]["nodePool"] = {"provisioner": "karpenter", "name": "gpu-h100", "clusterName": "", "region": ""}
    docs = kit.documents(kit.render(values))
    assert kit.one(docs, "Role", "gpt-oss-governor")["rules"] == [*LEASE_RULES, rayservice_rule("get", "patch")]
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_enforce_mode_with_a_managed_node_group_reaches_the_eks_api_and_pod_identity(kit):
    values = json.loads(json.dumps(kit.values("prod")))
    values["governor"]["mode"] = "enforce"
    docs = kit.documents(kit.render(values))
    assert not [d for d in docs if d["kind"] == "ClusterRole" and "governor" in d["metadata"]["name"]]
    egress = kit.one(docs, "NetworkPolicy", "gpt-oss-governor")["spec"]["egress"]
    assert {"ipBlock": {"cidr": "169.254.170.23/32"}} in [peer for rule in egress for peer in rule["to"]]


def test_mode_off_renders_no_governor(kit):
    values = json.loads(json.dumps(kit.values("dev")))
    values["governor"]["enabled"] = False
    docs = kit.documents(kit.render(values))
    assert not [d for d in docs if "governor" in d["metadata"]["name"]]


def test_the_governor_is_pulled_by_digest_and_left_out_without_one(kit, stack_case):
    """No digest, no governor: the release never names an image CI has not built (the chart's
    placeholder repository is never rendered by the toolkit)."""
    import pytest

    from infra.chart_values.governor import governor_values

    docs = kit.rendered_docs(stack_case)
    pod = kit.one(docs, "Deployment", "gpt-oss-governor")["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["containers"]] == [kit.GOVERNOR_IMAGE]
    env, _ = kit.environment(stack_case)
    assert governor_values(env, None).enabled is False
    assert governor_values(env, kit.GOVERNOR_IMAGE).image.digest == kit.GOVERNOR_IMAGE.partition("@")[2]
    with pytest.raises(
        ValueError, match=re.escape("governor image must be repository@sha256:<digest>, got 'gpt-oss-governor:0.1.0'")
    ):
        governor_values(env, "gpt-oss-governor:0.1.0")
