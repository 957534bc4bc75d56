"""Several served models behind one gateway, over real HTTP (docs/models.md): each public name
reaches its own upstream, the answer carries the name the client asked for (JSON and every SSE
event), keys are held to their allow-lists per model and per adapter, and fallback is on or off
per model, visible in the answer when it happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serving.gateway.auth import hash_key
from serving.gateway.model_routing import rewrite_model
from tests.serving.harness import KEYS, MANAGED_MODEL, sse_data, write_secrets

FINE_TUNE = "support-20b"
ADAPTER = "support-20b:billing"
# The served ids carry the checkpoint's version; clients keep the stable public names.
FINE_TUNE_ID = "support-20b-v3"
ADAPTER_ID = "support-20b-v3:billing"
MODEL_KEYS = {
    "fine-tune-only": "sk-gw-finetune-only-3c4d5e6f7a8b9c0d",
    "adapter-only": "sk-gw-adapter-only-9f8e7d6c5b4a3928",
}


@pytest.fixture
def secrets(tmp_path: Path) -> tuple[Path, Path]:
    clients_file, key_file = write_secrets(tmp_path)
    clients = json.loads(clients_file.read_text())
    clients["clients"] += [
        {
            "name": "fine-tune-only",
            "team": "support",
            "key_sha256": hash_key(MODEL_KEYS["fine-tune-only"]),
            "models": [FINE_TUNE],
        },
        {"name": "adapter-only", "team": "billing", "key_sha256": hash_key(MODEL_KEYS["adapter-only"]), "models": [ADAPTER]},
    ]
    clients_file.write_text(json.dumps(clients))
    return clients_file, key_file


@pytest.fixture
def gateway(start_gateway, primary):
    base = primary.base_url
    extra = [
        {
            "name": "self-hosted-support-20b",
            "adapter": "self_hosted",
            "base_url": base,
            "model": FINE_TUNE_ID,
            "connect_timeout_s": 0.5,
            "first_byte_timeout_s": 0.6,
            "response_timeout_s": 1.5,
            "stream_idle_timeout_s": 0.6,
            "readiness": {"probe": "none"},
            "cost": {"kind": "amortised_fleet", "fleet_usd_per_hour": 3.44, "gateway_pods": 2},
        },
        {
            "name": "self-hosted-support-20b-billing",
            "adapter": "self_hosted",
            "base_url": base,
            "model": ADAPTER_ID,
            "connect_timeout_s": 0.5,
            "first_byte_timeout_s": 0.6,
            "response_timeout_s": 1.5,
            "stream_idle_timeout_s": 0.6,
            "readiness": {"probe": "none"},
            "cost": {"kind": "amortised_fleet", "fleet_usd_per_hour": 3.44, "gateway_pods": 2},
        },
    ]
    gw = start_gateway()
    gw.stop()
    settings = gw.settings.model_dump()
    settings["upstreams"] += extra
    settings["routes"] += [
        {"model": FINE_TUNE, "primary": "self-hosted-support-20b", "fallback": None},
        {"model": ADAPTER, "primary": "self-hosted-support-20b-billing", "fallback": "managed"},
    ]
    return start_gateway(**{k: settings[k] for k in ("routes", "upstreams")})


def ask(gateway, model: str, key: str | None = None, stream: bool = False):
    payload = {"model": model, "messages": [{"role": "user", "content": "Say hello."}], "stream": stream}
    secret = MODEL_KEYS.get(key or "", KEYS.get(key or "app"))
    return gateway.http.post("/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {secret}"})


def sent_models(fake) -> list[str]:
    return [r.body["model"] for r in fake.chat_requests()]


@pytest.mark.parametrize(("public", "served"), [(FINE_TUNE, FINE_TUNE_ID), (ADAPTER, ADAPTER_ID)])
def test_each_name_reaches_its_own_upstream_and_the_answer_carries_the_requested_name(gateway, primary, managed, public, served):
    answer = ask(gateway, public)
    assert answer.status_code == 200, answer.text
    assert sent_models(primary) == [served]
    assert answer.json()["model"] == public
    assert answer.headers["x-gateway-model"] == served
    assert answer.headers["x-gateway-served-by"] == "self-hosted"
    assert sent_models(managed) == []


def test_every_stream_event_carries_the_requested_name(gateway, primary):
    answer = ask(gateway, ADAPTER, stream=True)
    assert answer.status_code == 200
    events = [json.loads(d) for d in sse_data(answer.text) if d != "[DONE]"]
    assert len(events) >= 3
    assert {e["model"] for e in events} == {ADAPTER}
    assert ADAPTER_ID.encode() not in answer.content


def test_the_default_model_is_still_served_under_its_own_name(gateway, primary):
    answer = ask(gateway, "gpt-oss-120b")
    assert answer.status_code == 200 and answer.json()["model"] == "gpt-oss-120b"
    assert sent_models(primary) == ["gpt-oss-120b"]


@pytest.mark.parametrize(
    ("key", "allowed", "refused"),
    [("fine-tune-only", FINE_TUNE, ADAPTER), ("adapter-only", ADAPTER, FINE_TUNE)],
)
def test_a_key_uses_only_the_models_and_adapters_it_is_allowed(gateway, primary, key, allowed, refused):
    assert ask(gateway, allowed, key=key).status_code == 200
    denied = ask(gateway, refused, key=key)
    # Answered like a model that does not exist (as OpenAI does), the name not echoed.
    assert denied.status_code == 404
    assert denied.json()["error"]["code"] == "model_not_found"
    listed = gateway.http.get("/v1/models", headers={"Authorization": f"Bearer {MODEL_KEYS[key]}"}).json()
    assert [m["id"] for m in listed["data"]] == [allowed]
    # The refused request never reached an upstream.
    assert sent_models(primary) == [ADAPTER_ID if allowed == ADAPTER else FINE_TUNE_ID]


def test_a_fine_tune_without_a_mapped_fallback_never_reaches_the_managed_api(gateway, primary, managed):
    primary.set("status", status=500)
    answer = ask(gateway, FINE_TUNE)
    assert answer.status_code >= 500
    assert sent_models(managed) == []


def test_a_mapped_fallback_answers_under_the_managed_models_own_name(gateway, primary, managed):
    primary.set("status", status=500)
    answer = ask(gateway, ADAPTER)
    assert answer.status_code == 200, answer.text
    assert sent_models(managed) == [MANAGED_MODEL]
    assert answer.json()["model"] == MANAGED_MODEL, "a managed model is not the adapter: the answer must say so"
    assert answer.headers["x-gateway-model"] == MANAGED_MODEL
    assert answer.headers["x-gateway-served-by"] == "managed"
    assert answer.headers["x-gateway-fallback-reason"]


def test_metrics_are_per_public_name(gateway, primary):
    assert ask(gateway, ADAPTER).status_code == 200
    assert ask(gateway, FINE_TUNE).status_code == 200
    text = gateway.metrics_http.get("/metrics").text
    assert f'model="{ADAPTER}"' in text and f'model="{FINE_TUNE}"' in text


def test_the_rewrite_touches_only_the_model_key_never_generated_text():
    upstream = ADAPTER_ID.encode()
    block = (
        b'data: {"id":"x","model":"'
        + upstream
        + b'","choices":[{"delta":{"content":"say \\"model\\": \\"'
        + upstream
        + b'\\""}}]}\n\n'
    )
    out = rewrite_model(block, ADAPTER_ID, ADAPTER)
    assert out.count(upstream) == 1, "the text the model wrote keeps its bytes"
    event = json.loads(out[len(b"data: ") :])
    assert event["model"] == ADAPTER
    assert event["choices"][0]["delta"]["content"] == f'say "model": "{ADAPTER_ID}"'
    assert rewrite_model(b'{"model" : "' + upstream + b'"}', ADAPTER_ID, ADAPTER) == b'{"model" : "' + ADAPTER.encode() + b'"}'
