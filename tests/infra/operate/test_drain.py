"""`gpt-oss-platform drain`: writes the override ConfigMap (who, why, when) through the Kubernetes
API, reads it back, refuses what the environment cannot take before sending anything, and never
acts on another environment's cluster."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from cli.__main__ import main
from contracts import NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP
from infra.config import environment_from_stack_file
from infra.operate.drain import DrainRefused, check_cluster, check_request, read_route, set_route
from infra.operate.kube import KubeClient, load_target
from support.fake_kube_api import USER


def test_drain_sets_the_route_with_who_why_and_when(kube, kubeconfig, capsys):
    assert (
        main(["drain", "--env", "dev", "--route", "managed", "--reason", "GPU node NotReady", "--kubeconfig", str(kubeconfig)])
        == 0
    )
    out = capsys.readouterr().out
    assert "dev: route auto -> managed" in out and "Sovereign keys stay on the self-hosted model" in out
    data = kube.get(NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP)["data"]
    assert data["route"] == "managed" and data["reason"] == "GPU node NotReady"
    assert data["set-by"] == USER  # from SelfSubjectReview, not from the client's say-so
    assert datetime.strptime(data["set-at"], "%Y-%m-%dT%H:%M:%SZ")

    assert main(["drain", "--env", "dev", "--status", "--json", "--kubeconfig", str(kubeconfig)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["route"] == "managed" and status["set_by"] == USER

    assert (
        main(
            [
                "drain",
                "--env",
                "dev",
                "--route",
                "auto",
                "--reason",
                "node replaced",
                "--who",
                "jdoe",
                "--kubeconfig",
                str(kubeconfig),
            ]
        )
        == 0
    )
    assert kube.get(NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP)["data"]["set-by"] == "jdoe"
    assert "managed -> auto" in capsys.readouterr().out


def test_the_object_carries_the_cost_labels(kube, kubeconfig):
    assert (
        main(
            [
                "drain",
                "--env",
                "dev",
                "--route",
                "self-hosted",
                "--reason",
                "managed API incident",
                "--kubeconfig",
                str(kubeconfig),
            ]
        )
        == 0
    )
    # The fake stores data only; read what the CLI sent through the library instead.
    client = KubeClient(load_target(kubeconfig))
    env = environment_from_stack_file("dev")
    from infra.tags import k8s_labels

    labels = k8s_labels(env, "dev", "route-override")
    previous, new = set_route(client, "auto", "back", "jdoe", labels=labels, now=datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
    client.close()
    assert previous.route == "self-hosted" and new.route == "auto" and new.set_at == "2026-11-30T03:00:00Z"
    assert labels["environment"] == "dev" and labels["cost-center"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--route", "managed"], "--reason is empty"),
        (["--route", "managed", "--reason", "   "], "--reason is empty"),
        (["--route", "managed", "--reason", "x" * 201], "keep it under 200"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(kube, kubeconfig, capsys, argv, message):
    assert main(["drain", "--env", "dev", *argv, "--kubeconfig", str(kubeconfig)]) == 2
    assert message in capsys.readouterr().err
    assert kube.requests == []


def test_managed_is_refused_where_there_is_no_fallback():
    env = environment_from_stack_file("dev").model_copy(
        update={"fallback": environment_from_stack_file("dev").fallback.model_copy(update={"allowed": False})}
    )
    with pytest.raises(DrainRefused, match=re.escape("fallback.allowed false")):
        check_request(env, "managed", "GPUs sick")
    check_request(env, "self-hosted", "fine")


def test_another_environments_cluster_is_refused(kube, kubeconfig, capsys):
    assert main(["drain", "--env", "prod", "--route", "managed", "--reason", "x", "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert "not 'gpt-oss-prod'" in err and "aws eks update-kubeconfig --name gpt-oss-prod --region us-east-1" in err
    assert kube.requests == []
    env = environment_from_stack_file("dev")
    check_cluster(env, "gpt-oss-dev", explicit_context=True)
    with pytest.raises(DrainRefused):
        check_cluster(env, "arn:aws:eks:us-east-1:1:cluster/gpt-oss-dev-old", explicit_context=False)


def test_a_missing_kubeconfig_says_how_to_make_one(tmp_path, capsys):
    assert main(["drain", "--env", "dev", "--status", "--kubeconfig", str(tmp_path / "none")]) == 2
    assert "aws eks update-kubeconfig" in capsys.readouterr().err


def test_an_api_refusal_is_a_failed_check_without_the_token(kube, kubeconfig, capsys):
    kube.token = "another-token"
    assert main(["drain", "--env", "dev", "--status", "--kubeconfig", str(kubeconfig)]) == 1
    out = capsys.readouterr()
    assert "HTTP 401" in out.out and "fake-kube-token" not in out.out + out.err


def test_concurrent_writers_do_not_overwrite_each_other_silently(kube, kubeconfig):
    client = KubeClient(load_target(kubeconfig))
    set_route(client, "managed", "first", "a", labels={})
    original = client.replace_configmap
    calls = []

    def racing(namespace, name, obj):
        if not calls:  # another engineer writes between our read and our write
            kube.put(NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP, {"route": "self-hosted", "set-by": "b", "reason": "r", "set-at": ""})
        calls.append(obj)
        return original(namespace, name, obj)

    client.replace_configmap = racing
    previous, new = set_route(client, "auto", "second", "a", labels={})
    client.close()
    assert len(calls) == 2 and previous.route == "self-hosted" and new.route == "auto"
    assert read_route(KubeClient(load_target(kubeconfig))).route == "auto"


def test_exec_credentials_are_used_like_eks_kubeconfigs_do(kube, kubeconfig, tmp_path):
    import yaml

    script = tmp_path / "get-token"
    script.write_text(
        '#!/bin/sh\necho \'{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1",'
        f'"status":{{"token":"{kube.token}"}}}}\'\n'
    )
    script.chmod(0o755)
    config = yaml.safe_load(kubeconfig.read_text())
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(script), "args": ["eks", "get-token"]}
    }
    kubeconfig.write_text(yaml.safe_dump(config))
    client = KubeClient(load_target(kubeconfig))
    assert client.whoami() == USER
    client.close()
