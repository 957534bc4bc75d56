"""On-call drills, run as the on-call would: prod-shaped gateways on 127.0.0.1 in front of fake
upstreams (tests/serving/harness.py), the fake Kubernetes API at the HTTP level, and the project's
CLI for real. Each drill asserts what clients see, and that the runbook's mitigation restores
service; which alert fires and when is proved by promtool on the rendered prod rules with the same
series (tests/runbooks/promtool/prod-oncall.yaml, prod-gateway.yaml).

- drain and back (procedures/drain-to-managed-and-back.md, GptOssGatewayRouteOverridden,
  GptOssGatewayDrainWatchUnhealthy, GptOssGatewayRouteDisagreement): `drain --status` shows what
  each pod applies, and flags a pod that cannot read the switch;
- refused primary (GptOssGatewayUpstreamNotReady): non-sovereign traffic moves to managed at once,
  sovereign keys get 503 with Retry-After, traffic returns when the primary is back;
- revoked managed key (GptOssGatewayManagedKeyRefused): the gateway-side drill with the access log
  is tests/serving/gateway/test_credential_probe.py; here the rotation CLI's emergency path
  (`--kubernetes-only`) over the fake API, then the gateway reading the rotated file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.__main__ import main
from contracts import HEADER_SERVED_BY, NAMESPACE
from support.fake_kube_api import FakeKubeApi
from tests.runbooks.drill_gateways import GATEWAY_LABELS, PROD_CLUSTER_ARN, start_drain_watching_gateways
from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import MANAGED_API_KEY, RunningGateway, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi().start()
    yield api
    api.stop()


@pytest.fixture
def upstreams() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    primary = FakeOpenAI("self-hosted").start()
    managed = FakeOpenAI("managed", api_key=MANAGED_API_KEY, usage_null_in_chunks=True).start()
    yield primary, managed
    primary.stop()
    managed.stop()


@pytest.fixture
def kubeconfig(kube: FakeKubeApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    kube.write_kubeconfig(path, cluster_name=PROD_CLUSTER_ARN)
    return path


@pytest.fixture
def gateways(kube, upstreams, tmp_path) -> Iterator[list[RunningGateway]]:
    """Two prod-named gateway pods that watch the drain switch, registered as pods in the fake API."""
    primary, managed = upstreams
    running = start_drain_watching_gateways(kube, primary.base_url, managed.base_url, tmp_path)
    yield running
    for gateway in running:
        gateway.stop()


def _status(kubeconfig: Path, capsys) -> tuple[int, dict]:
    code = main(["drain", "--env", "prod", "--status", "--json", "--kubeconfig", str(kubeconfig)])
    return code, json.loads(capsys.readouterr().out)


def test_drill_drain_to_managed_and_back(kube, kubeconfig, gateways, capsys):
    # The procedure's step 1.
    assert main(["drain", "--env", "prod", "--route", "managed", "--reason", "drill INC-0", "--kubeconfig", str(kubeconfig)]) == 0
    out = capsys.readouterr().out
    assert "/v1/completions stays on the self-hosted model" in out
    for gateway in gateways:
        wait_until(lambda g=gateway: g.metric("gateway_route_override", route="managed") == 1, timeout=3)
    # What clients see: non-sovereign chat on managed, sovereign and /v1/completions on the GPUs.
    for gateway in gateways:
        assert gateway.chat().headers[HEADER_SERVED_BY] == "managed"
        assert gateway.chat("sovereign").headers[HEADER_SERVED_BY] == "self-hosted"
        completion = gateway.http.post(
            "/v1/completions",
            json={"model": "gpt-oss-120b", "prompt": "Say hello.", "max_tokens": 5},
            headers={"Authorization": "Bearer " + _key("app")},
        )
        assert completion.status_code == 200 and completion.headers[HEADER_SERVED_BY] == "self-hosted"
    # The procedure's check: every pod applies it.
    code, status = _status(kubeconfig, capsys)
    assert code == 0 and status["route"] == "managed" and status["agree"]
    assert [(p["pod"], p["route"], p["watch_healthy"]) for p in status["pods"]] == [
        ("gpt-oss-gateway-7d9f-a", "managed", True),
        ("gpt-oss-gateway-7d9f-b", "managed", True),
    ]
    # And back (step 4).
    assert main(["drain", "--env", "prod", "--route", "auto", "--reason", "drill over", "--kubeconfig", str(kubeconfig)]) == 0
    capsys.readouterr()
    for gateway in gateways:
        wait_until(lambda g=gateway: g.metric("gateway_route_override", route="auto") == 1, timeout=3)
        assert gateway.chat().headers[HEADER_SERVED_BY] == "self-hosted"
    code, status = _status(kubeconfig, capsys)
    assert code == 0 and {p["route"] for p in status["pods"]} == {"auto"}


def test_drill_a_pod_that_cannot_read_the_switch_shows_in_drain_status(kube, kubeconfig, gateways, tmp_path, capsys):
    # A third pod whose gateway never got the watch (stale config, or RBAC removed): it stays `auto`
    # with watch_healthy 0; and a fourth that does not answer through the pod proxy.
    stale = gateways[0]
    kube.pods[(NAMESPACE, "gpt-oss-gateway-old-c")] = (
        GATEWAY_LABELS,
        f"http://127.0.0.1:{stale.settings.metrics.port}/no-such-metrics",
        "Running",
    )
    kube.pods[(NAMESPACE, "gpt-oss-gateway-gone-d")] = (GATEWAY_LABELS, "http://127.0.0.1:9/metrics", "Running")
    kube.pods[(NAMESPACE, "gpt-oss-gateway-pending-e")] = (GATEWAY_LABELS, "http://127.0.0.1:9/metrics", "Pending")
    assert main(["drain", "--env", "prod", "--route", "managed", "--reason", "drill", "--kubeconfig", str(kubeconfig)]) == 0
    capsys.readouterr()
    for gateway in gateways:
        wait_until(lambda g=gateway: g.metric("gateway_route_override", route="managed") == 1, timeout=3)
    code, status = _status(kubeconfig, capsys)
    assert code == 1 and not status["agree"]
    by_pod = {p["pod"]: p for p in status["pods"]}
    assert "gpt-oss-gateway-pending-e" not in by_pod  # not running: nothing to ask
    assert by_pod["gpt-oss-gateway-7d9f-a"]["route"] == "managed"
    assert by_pod["gpt-oss-gateway-old-c"]["route"] is None and "HTTP 404" in by_pod["gpt-oss-gateway-old-c"]["problem"]
    assert by_pod["gpt-oss-gateway-gone-d"]["route"] is None
    main(["drain", "--env", "prod", "--status", "--kubeconfig", str(kubeconfig)])
    text = capsys.readouterr().out
    assert "2 of 4 pods do not apply managed" in text and "GptOssGatewayDrainWatchUnhealthy" in text


def test_drill_refused_primary(gateways, upstreams):
    primary, _ = upstreams
    gateway = gateways[0]
    primary.set("refuse")  # every GPU replica gone
    response = gateway.chat()
    assert response.status_code == 200 and response.headers[HEADER_SERVED_BY] == "managed"
    sovereign = gateway.chat("sovereign")
    assert sovereign.status_code == 503 and sovereign.headers["retry-after"]
    assert sovereign.json()["error"]["code"] == "sovereign_upstream_unavailable"
    assert gateway.metric("gateway_upstream_ready", upstream="self-hosted") == 0  # GptOssGatewayUpstreamNotReady's input
    # Mitigation: the replicas come back; the prober returns traffic without anyone touching the gateway.
    primary.set("ok")
    gateway.upstream("self-hosted").health.wake.set()
    wait_until(lambda: gateway.metric("gateway_upstream_ready", upstream="self-hosted") == 1, timeout=5)
    assert gateway.chat().headers[HEADER_SERVED_BY] == "self-hosted"
    assert gateway.chat("sovereign").status_code == 200


def test_drill_revoked_key_emergency_rotation(kube, kubeconfig, gateways, upstreams, tmp_path, capsys):
    from contracts import MANAGED_API_KEY_FIELD, MANAGED_API_KEY_SECRET

    primary, managed = upstreams
    gateway = gateways[0]
    kube.put_secret(NAMESPACE, MANAGED_API_KEY_SECRET, {MANAGED_API_KEY_FIELD: MANAGED_API_KEY})
    managed.api_key = "sk-provider-issued-new-key-123456"  # the old key is revoked
    primary.set("refuse")
    assert gateway.chat().json()["error"]["code"] == "upstream_auth_failed"
    key_file = tmp_path / "new-key"
    key_file.write_text("sk-provider-issued-new-key-123456\n")
    code = main(
        ["rotate-managed-key", "--env", "prod", "--key-file", str(key_file), "--kubeconfig", str(kubeconfig), "--kubernetes-only"]
    )
    assert code == 0, capsys.readouterr().out
    assert kube.secret_value(NAMESPACE, MANAGED_API_KEY_SECRET, MANAGED_API_KEY_FIELD) == "sk-provider-issued-new-key-123456"
    # The kubelet projects the Secret into the pod's file; here the test does it.
    Path(gateway.settings.upstreams[1].api_key_file or "").write_text(
        kube.secret_value(NAMESPACE, MANAGED_API_KEY_SECRET, MANAGED_API_KEY_FIELD) or ""
    )
    wait_until(lambda: gateway.chat().status_code == 200, timeout=3)
    assert gateway.chat().headers[HEADER_SERVED_BY] == "managed"


def _key(name: str) -> str:
    from tests.serving.harness import KEYS

    return KEYS[name]
