"""Adapters: what each kind of upstream is sent, derived from the client's request."""

import json

import pytest

from serving.gateway.endpoints import Endpoint
from serving.gateway.settings import UpstreamSettings
from serving.gateway.upstreams import ADAPTERS, ManagedOpenAIAdapter, SecretFile, SelfHostedAdapter

GPT_OSS_REQUEST = {
    "model": "gpt-oss-120b",
    "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    "reasoning_effort": "high",
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "max_tokens": 256,
    "temperature": 0.7,
    "top_k": 40,  # a vLLM extension
}


def settings(adapter: str, model: str, **kw) -> UpstreamSettings:
    cost = (
        {"kind": "amortised_fleet", "fleet_usd_per_hour": 1.0}
        if adapter == "self_hosted"
        else {"kind": "token_price", "input_usd_per_mtok": 1, "output_usd_per_mtok": 4}
    )
    return UpstreamSettings(name="u", adapter=adapter, base_url="http://127.0.0.1:1/v1", model=model, cost=cost, **kw)


def test_the_registry_maps_each_settings_adapter_to_its_class():
    assert {"self_hosted": SelfHostedAdapter, "managed_openai": ManagedOpenAIAdapter} == ADAPTERS
    assert SelfHostedAdapter.keeps_data_in_company and not ManagedOpenAIAdapter.keeps_data_in_company


def test_self_hosted_gets_every_gpt_oss_parameter_unchanged_and_its_own_model_id():
    adapter = SelfHostedAdapter(settings("self_hosted", "gpt-oss-120b-internal"), None)
    sent = json.loads(adapter.chat_body(GPT_OSS_REQUEST, stream=False))
    assert sent == {**GPT_OSS_REQUEST, "model": "gpt-oss-120b-internal"}
    assert "Authorization" not in adapter.headers


def test_streams_ask_for_usage_while_keeping_the_clients_stream_options():
    adapter = SelfHostedAdapter(settings("self_hosted", "m"), None)
    sent = json.loads(
        adapter.chat_body({**GPT_OSS_REQUEST, "stream": True, "stream_options": {"continuous_usage_stats": True}}, stream=True)
    )
    assert sent["stream_options"] == {"continuous_usage_stats": True, "include_usage": True}


def test_managed_reasoning_models_get_max_completion_tokens_and_no_sampling_knobs_or_extensions():
    adapter = ManagedOpenAIAdapter(settings("managed_openai", "o4-mini"), None)
    sent = json.loads(adapter.chat_body(GPT_OSS_REQUEST, stream=False))
    assert sent["model"] == "o4-mini"
    assert sent["max_completion_tokens"] == 256 and "max_tokens" not in sent
    assert "temperature" not in sent and "top_k" not in sent
    assert (sent["reasoning_effort"], sent["tool_choice"], sent["tools"]) == ("high", "auto", GPT_OSS_REQUEST["tools"])


def test_managed_non_reasoning_models_keep_sampling_knobs():
    adapter = ManagedOpenAIAdapter(settings("managed_openai", "gpt-4.1-mini"), None)
    sent = json.loads(adapter.chat_body(GPT_OSS_REQUEST, stream=False))
    assert sent["temperature"] == 0.7 and sent["max_tokens"] == 256 and "top_k" not in sent


def test_the_managed_key_is_read_from_its_file_and_follows_a_rotation(tmp_path):
    key_file = tmp_path / "api-key"
    key_file.write_text("sk-one\n")
    secret = SecretFile(str(key_file))
    adapter = ManagedOpenAIAdapter(settings("managed_openai", "o4-mini", api_key_file=str(key_file)), secret)
    assert adapter.headers["Authorization"] == "Bearer sk-one"
    (tmp_path / "new").write_text("sk-two")
    (tmp_path / "new").replace(key_file)
    assert secret.reload()
    adapter.refresh_headers()
    assert adapter.headers["Authorization"] == "Bearer sk-two"


@pytest.mark.parametrize("stream", [False, True])
def test_probes_are_one_token_generations(stream):
    adapter = SelfHostedAdapter(settings("self_hosted", "gpt-oss-20b"), None)
    probe = json.loads(adapter.probe_body())
    assert probe["max_tokens"] == 1 and probe["model"] == "gpt-oss-20b"


def test_a_body_that_needs_no_change_goes_to_the_self_hosted_model_as_the_client_sent_it():
    adapter = SelfHostedAdapter(settings("self_hosted", "gpt-oss-120b"), None)
    raw = json.dumps(GPT_OSS_REQUEST, separators=(",", ":")).encode()
    assert adapter.body(Endpoint.CHAT, GPT_OSS_REQUEST, False, raw) is raw
    # another upstream model name, or a stream that must ask for usage: re-encoded
    renamed = SelfHostedAdapter(settings("self_hosted", "gpt-oss-120b-internal"), None)
    assert json.loads(renamed.body(Endpoint.CHAT, GPT_OSS_REQUEST, False, raw))["model"] == "gpt-oss-120b-internal"
    streamed = json.loads(adapter.body(Endpoint.CHAT, {**GPT_OSS_REQUEST, "stream": True}, True, raw))
    assert streamed["stream_options"] == {"include_usage": True}
