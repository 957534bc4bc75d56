"""The drain switch's objects: the gateway's service account may read exactly one ConfigMap, its
token is mounted only for that, the gateway settings name the same object, and the chart never
renders the ConfigMap itself (an upgrade would undo an on-call engineer's drain)."""

from __future__ import annotations

import json

from contracts import GATEWAY_SERVICE_ACCOUNT, ROUTE_OVERRIDE_CONFIGMAP


def test_the_gateway_may_get_list_and_watch_only_its_configmap(kit, case):
    docs = kit.rendered_docs(case)
    role = kit.one(docs, "Role", "gpt-oss-gateway-route-override")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [ROUTE_OVERRIDE_CONFIGMAP],
            "verbs": ["get", "list", "watch"],
        }
    ]
    binding = kit.one(docs, "RoleBinding", "gpt-oss-gateway-route-override")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": GATEWAY_SERVICE_ACCOUNT, "namespace": "gpt-oss"}]
    kit.one(docs, "ServiceAccount", GATEWAY_SERVICE_ACCOUNT)


def test_the_gateway_pods_run_as_that_account_with_its_token(kit, case):
    pod = kit.one(kit.rendered_docs(case), "Deployment", "gpt-oss-gateway")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == GATEWAY_SERVICE_ACCOUNT
    assert pod["automountServiceAccountToken"] is True


def test_the_settings_name_the_same_configmap_and_the_chart_never_renders_it(kit, case):
    docs = kit.rendered_docs(case)
    config = kit.one(docs, "ConfigMap", "gpt-oss-gateway-config")
    settings = json.loads(config["data"]["gateway.json"])
    assert settings["route_override"] == {"configmap": ROUTE_OVERRIDE_CONFIGMAP, "namespace": "gpt-oss"}
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == ROUTE_OVERRIDE_CONFIGMAP]


def test_without_the_switch_the_gateway_gets_no_token(kit):
    values = kit.values("dev")
    values = {**values, "routeOverride": {**values["routeOverride"], "enabled": False}}
    docs = kit.documents(kit.render(values))
    pod = kit.one(docs, "Deployment", "gpt-oss-gateway")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding") and "route-override" in d["metadata"]["name"]]
