"""Gateway pods for the drills: prod-named gateways that watch the drain switch through the fake
Kubernetes API and are registered there as pods whose metrics port `drain --status` reads."""

from __future__ import annotations

from pathlib import Path

from contracts import NAMESPACE
from support.fake_kube_api import FakeKubeApi
from tests.serving.harness import RunningGateway, settings_for_test, wait_until, write_secrets

# What `aws eks update-kubeconfig --name gpt-oss-prod` names the cluster entry.
PROD_CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/gpt-oss-prod"
GATEWAY_LABELS = {"app.kubernetes.io/component": "gateway", "app.kubernetes.io/name": "gpt-oss-gateway"}
GATEWAY_PODS = ("gpt-oss-gateway-7d9f-a", "gpt-oss-gateway-7d9f-b")


def start_drain_watching_gateways(kube: FakeKubeApi, primary_url: str, managed_url: str, tmp_path: Path) -> list[RunningGateway]:
    """Two gateway pods watching the drain switch, each healthy before this returns; the caller stops them."""
    clients_file, key_file = write_secrets(tmp_path)
    token = tmp_path / "token"
    token.write_text(kube.token)
    running = []
    for pod in GATEWAY_PODS:
        settings = settings_for_test(
            primary_url,
            managed_url,
            clients_file,
            key_file,
            environment="prod",
            route_override={
                "namespace": NAMESPACE,
                "api_url": kube.url,
                "token_file": str(token),
                "ca_file": None,
                "resync_s": 30,
                "retry_s": 0.1,
            },
        )
        gateway = RunningGateway(settings).start()
        running.append(gateway)
        kube.pods[(NAMESPACE, pod)] = (GATEWAY_LABELS, f"http://127.0.0.1:{gateway.settings.metrics.port}/metrics", "Running")
    for gateway in running:
        wait_until(lambda g=gateway: g.metric("gateway_route_override_watch_healthy") == 1)
    return running
