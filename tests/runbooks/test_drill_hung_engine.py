"""Drill: the hung engine (runbooks/prod/GptOssVllmEngineHung.md), played as the on-call would.

A prod gateway on 127.0.0.1 with prod's own settings, every duration scaled by 0.1 as the hang
tests do (tests/serving/hang.py), in front of a self-hosted upstream that accepts every request and
never answers (FakeOpenAI "hang"; /health stays up, as vLLM's does: vllm#39863). Clients get the
managed fallback within the documented bound (the gateway's first-byte timeout, then at once once
the prober has marked the upstream not ready), never the response timeout. The runbook's
mitigation is then run for real: its `kubectl -n gpt-oss delete pod $POD` with a real kubectl
against the fake Kubernetes API, after which the drill plays KubeRay (the replacement replica
answers), and the gateway routes back to self-hosted; `gpt-oss-platform smoke` passes, as the
runbook's last step says. When the alert fires (8 minutes after the last token) is promtool's
part: tests/runbooks/promtool/prod-oncall.yaml.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.__main__ import main
from contracts import HEADER_SERVED_BY, NAMESPACE
from support.fake_kube_api import FakeKubeApi, load
from tests.serving.fake_openai import FakeOpenAI
from tests.serving.hang import environment_gateway_settings
from tests.serving.harness import KEYS, MANAGED_API_KEY, PUBLIC_MODEL, RunningGateway, wait_until, write_secrets

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "runbooks" / "prod" / "GptOssVllmEngineHung.md"
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
SCALE = 0.1
WORKER_POD = "gpt-oss-raycluster-x7k2p-gpu-h100-worker-1abcd"


class VllmGptOss(FakeOpenAI):
    """The self-hosted fake answering as vLLM does for gpt-oss (the smoke test's harmony and
    arithmetic checks read it): the analysis channel in `reasoning_content`, the answer in `content`."""

    def _completion(self, body: dict[str, Any], b) -> dict[str, Any]:
        answer = super()._completion(body, b)
        message = answer["choices"][0]["message"]
        if message.get("content") is not None:
            message["reasoning_content"] = "The user asks something; think, then answer."
            if "17 * 23" in body["messages"][-1]["content"]:
                message["content"] = "391"
        return answer


@pytest.fixture
def upstreams() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    primary = VllmGptOss("self-hosted").start()
    managed = FakeOpenAI("managed", api_key=MANAGED_API_KEY, usage_null_in_chunks=True).start()
    yield primary, managed
    primary.stop()
    managed.stop()


@pytest.fixture
def gateway(upstreams, tmp_path) -> Iterator[RunningGateway]:
    primary, managed = upstreams
    settings = environment_gateway_settings("prod", primary.base_url, managed.base_url, *write_secrets(tmp_path), scale=SCALE)
    running = RunningGateway(settings).start()
    wait_until(lambda: running.upstream("self-hosted").health.ready is True)
    yield running
    running.stop()


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi(tls=True).start()
    load(
        api,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": WORKER_POD, "namespace": NAMESPACE, "labels": {"ray.io/node-type": "worker"}},
            "spec": {"containers": [{"name": "ray-worker", "image": "ray"}]},
        },
    )
    yield api
    api.stop()


def mitigation_commands() -> list[str]:
    """The runbook's "Restart the replica" block."""
    text = RUNBOOK.read_text()
    section = text[text.index("**Restart the replica**") :]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block, "the runbook's restart step has no command block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_drill_hung_engine(gateway, upstreams, kube, tmp_path):
    primary, _ = upstreams
    settings = gateway.upstream("self-hosted").settings
    first_byte, response_timeout = settings.first_byte_timeout_s, settings.response_timeout_s

    # 1. The engine hangs: clients see the fallback within the first-byte timeout.
    primary.set("hang")
    started = time.monotonic()
    answer = gateway.chat()
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.headers[HEADER_SERVED_BY] == "managed"
    assert answer.headers["x-gateway-fallback-reason"] == "first_byte_timeout"
    # The bound: the first-byte timeout, plus the managed answer (2 s of slack for a loaded machine).
    assert first_byte <= elapsed < first_byte + 2.0 < response_timeout, (elapsed, first_byte, response_timeout)
    # The prober marks the engine not ready; from then on clients do not wait at all.
    wait_until(lambda: gateway.upstream("self-hosted").health.ready is False, timeout=60 * SCALE)
    started = time.monotonic()
    answer = gateway.chat()
    assert answer.headers[HEADER_SERVED_BY] == "managed" and answer.headers["x-gateway-fallback-reason"] == "not_ready"
    assert time.monotonic() - started < first_byte

    # 2. The runbook's mitigation, run with a real kubectl against the fake API.
    kubeconfig = tmp_path / "kubeconfig"
    kube.write_kubeconfig(kubeconfig)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path), "PATH": f"{KUBECTL.parent}:{os.environ['PATH']}"}
    for command in mitigation_commands():
        done = subprocess.run(
            ["bash", "-c", command.replace("$POD", WORKER_POD)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (command, done.stderr)
    assert kube.deleted == [("pods", NAMESPACE, WORKER_POD)]
    # KubeRay recreates the pod; the new replica's engine answers.
    primary.set("ok")

    # 3. Service is restored: the prober marks self-hosted ready and traffic returns to it.
    wait_until(lambda: gateway.upstream("self-hosted").health.ready is True, timeout=60 * SCALE)
    answer = gateway.chat()
    assert answer.status_code == 200 and answer.headers[HEADER_SERVED_BY] == "self-hosted"

    # 4. The runbook's closing check: the smoke test (the drain round trip has no switch here).
    key_file = tmp_path / "smoke.key"
    key_file.write_text(KEYS["app"] + "\n")
    records = tmp_path / "records"
    code = main(
        [
            "smoke",
            "--url",
            gateway.base_url + "/v1",
            "--key-file",
            str(key_file),
            "--env",
            "prod",
            "--model",
            PUBLIC_MODEL,
            "--records",
            str(records),
            "--skip-drain",
        ]
    )
    record = json.loads(next((records / "prod" / "smoke").glob("*.json")).read_text())
    assert code == 0 and record["passed"] is True, record
    assert {c["served_by"] for c in record["checks"] if "served_by" in c} == {"self-hosted"}
