"""`gpt-oss-platform smoke`: run end to end against a real gateway on 127.0.0.1 in front of fake
upstreams that answer like gpt-oss behind vLLM (reasoning in its own field, tool calls) and like
the managed API, with the drain switch watched through a fake Kubernetes API. It passes on a
healthy environment, fails on each defect a user would notice, writes the record promotion
reads, and never writes the key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.__main__ import main
from contracts import NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP
from infra.environments.pins import load_pins
from infra.environments.records import SmokeRecord
from infra.paths import REPO_ROOT
from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import (
    KEYS,
    MANAGED_API_KEY,
    PUBLIC_MODEL,
    RunningGateway,
    settings_for_test,
    wait_until,
    write_secrets,
)


class GptOssFake(FakeOpenAI):
    """The self-hosted fake, answering as vLLM does for gpt-oss: the analysis channel in
    `reasoning_content`, the final channel in `content` (or, with `leak`, harmony markup unparsed)."""

    leak: bool = False

    def _completion(self, body: dict[str, Any], b) -> dict[str, Any]:
        answer = super()._completion(body, b)
        message = answer["choices"][0]["message"]
        if message.get("content") is not None:
            prompt = body["messages"][-1]["content"]
            message["reasoning_content"] = "The user asks something; think, then answer."
            if "17 * 23" in prompt:
                message["content"] = "391"
            if self.leak:
                message["content"] = "<|channel|>analysis<|message|>17*23 is 391<|end|>391"
                del message["reasoning_content"]
        return answer


@pytest.fixture
def fakes() -> Iterator[tuple[GptOssFake, FakeOpenAI]]:
    primary = GptOssFake("self-hosted").start()
    managed = FakeOpenAI("managed", api_key=MANAGED_API_KEY).start()
    yield primary, managed
    primary.stop()
    managed.stop()


@pytest.fixture
def gateway(fakes, kube, tmp_path) -> Iterator[RunningGateway]:
    primary, managed = fakes
    token = tmp_path / "sa-token"
    token.write_text(kube.token)
    settings = settings_for_test(
        primary.base_url,
        managed.base_url,
        *write_secrets(tmp_path),
        route_override={"namespace": NAMESPACE, "api_url": kube.url, "token_file": str(token), "ca_file": None, "retry_s": 0.1},
    )
    running = RunningGateway(settings).start()
    wait_until(lambda: running.upstream("self-hosted").health.ready is not None)
    yield running
    running.stop()


def _smoke(gateway: RunningGateway, tmp_path: Path, kubeconfig: Path, *extra: str) -> tuple[int, dict]:
    key_file = tmp_path / "key"
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
            "dev",
            "--model",
            PUBLIC_MODEL,
            "--records",
            str(records),
            "--kubeconfig",
            str(kubeconfig),
            *extra,
        ]
    )
    files = sorted((records / "dev" / "smoke").glob("*.json"))
    assert len(files) == 1, files
    return code, json.loads(files[0].read_text())


def _checks(record: dict) -> dict[str, dict]:
    return {c["name"]: c for c in record["checks"]}


def test_a_healthy_environment_passes_every_check_and_the_drain_round_trip(gateway, kube, kubeconfig, tmp_path, capsys):
    code, record = _smoke(gateway, tmp_path, kubeconfig)
    out = capsys.readouterr()
    checks = _checks(record)
    assert code == 0, out.out
    assert set(checks) == {"warm", "chat", "stream", "tool_call", "reasoning_effort", "harmony", "drain"}
    assert all(c["passed"] for c in checks.values()) and record["passed"] is True
    assert all(checks[n]["served_by"] == "self-hosted" for n in ("chat", "stream", "tool_call", "reasoning_effort", "harmony"))
    assert checks["stream"]["ttft_ms"] > 0 and checks["stream"]["tokens_per_s"] > 0
    assert "moved to managed in" in checks["drain"]["detail"]
    # The switch is back where it was, and says who moved it.
    data = kube.get(NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP)["data"]
    assert data["route"] == "auto" and data["reason"].startswith("smoke test")
    # The record promotion reads (docs/environments.md "Smoke records").
    parsed = SmokeRecord.model_validate(record)  # the promotion gate's own reader accepts it
    assert parsed.kind == "smoke" and parsed.environment == "dev" and parsed.finished_at >= parsed.started_at
    assert parsed.pins == load_pins("dev", REPO_ROOT) and parsed.release == parsed.pins.release_id
    assert KEYS["app"] not in json.dumps(record) + out.out + out.err


def test_harmony_markup_in_the_answer_fails_the_check(gateway, fakes, kubeconfig, tmp_path):
    fakes[0].leak = True
    code, record = _smoke(gateway, tmp_path, kubeconfig, "--skip-drain")
    assert code == 1 and record["passed"] is False
    harmony = _checks(record)["harmony"]
    assert not harmony["passed"] and "harmony markup" in harmony["detail"]
    assert "drain" not in _checks(record)


def test_a_model_answered_by_the_managed_api_is_not_a_healthy_deploy(gateway, fakes, kubeconfig, tmp_path):
    fakes[0].set("refuse")
    code, record = _smoke(gateway, tmp_path, kubeconfig, "--skip-drain", "--warm-timeout", "1")
    assert code == 1
    (warm,) = record["checks"]
    assert warm["name"] == "warm" and not warm["passed"] and "last: HTTP 200  served by managed" in warm["detail"]


def test_a_missing_tool_call_fails_the_check(gateway, fakes, kubeconfig, tmp_path, monkeypatch):
    original = GptOssFake._completion

    def no_tools(self, body, b):
        return original(self, {k: v for k, v in body.items() if k != "tools"}, b)

    monkeypatch.setattr(GptOssFake, "_completion", no_tools)
    code, record = _smoke(gateway, tmp_path, kubeconfig, "--skip-drain")
    assert code == 1 and _checks(record)["tool_call"]["detail"] == "no tool call in the answer"


def test_an_override_in_force_is_left_alone(gateway, kube, kubeconfig, tmp_path):
    kube.put(NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP, {"route": "self-hosted", "set-by": "jdoe", "reason": "incident", "set-at": ""})
    wait_until(lambda: gateway.metric("gateway_route_override", route="self-hosted") == 1)
    code, record = _smoke(gateway, tmp_path, kubeconfig)
    assert code == 1 and "an override is in force" in _checks(record)["drain"]["detail"]
    assert kube.get(NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP)["data"]["route"] == "self-hosted"


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "must hold exactly one client key"), ("two keys", "must hold exactly one client key")],
)
def test_bad_key_files_are_refused(tmp_path, capsys, content, message):
    key_file = tmp_path / "key"
    key_file.write_text(content)
    assert main(["smoke", "--url", "http://127.0.0.1:9/v1", "--key-file", str(key_file), "--model", "m"]) == 2
    assert message in capsys.readouterr().err
    assert main(["smoke", "--url", "http://127.0.0.1:9/v1", "--key-file", str(tmp_path / "nope"), "--model", "m"]) == 2
