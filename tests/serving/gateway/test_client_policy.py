"""Per-key policy from the clients file: the models a key may use, and monthly spend caps per key
and per team (429 `spend_cap_reached`, a metric near the cap)."""

from __future__ import annotations

import openai
import pytest

from tests.serving.harness import KEYS, PUBLIC_MODEL

pytestmark = pytest.mark.slow


def test_a_key_limited_to_other_models_gets_404_and_sees_only_its_models(gateway, primary):
    response = gateway.chat(key="narrow")
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    assert primary.chat_requests() == []
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["narrow"], max_retries=0)
    assert [m.id for m in client.models.list()] == []
    everyone = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["app"], max_retries=0)
    assert [m.id for m in everyone.models.list()] == [PUBLIC_MODEL]


def test_a_key_over_its_monthly_cap_gets_429_spend_cap_reached(gateway, primary):
    assert gateway.chat(key="capped").status_code == 200  # the request that crosses the cap is served
    refused = gateway.chat(key="capped")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["code"], error["type"]) == ("spend_cap_reached", "insufficient_quota")
    assert "this key's" in error["message"]
    assert len(primary.chat_requests()) == 1
    assert gateway.chat(key="app").status_code == 200  # other keys are unaffected
    assert gateway.metric("gateway_spend_refused_total", scope="key", client="capped") == 1
    assert gateway.metric("gateway_spend_cap_ratio", scope="key", holder="capped") > 1


def test_the_sdk_sees_a_spend_cap_as_a_rate_limit_error_and_does_not_retry_it(gateway):
    # The SDK's default retries (2) would resend a request that cannot succeed before next month.
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS["capped"], max_retries=2)
    client.chat.completions.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=PUBLIC_MODEL, messages=[{"role": "user", "content": "x"}])
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert gateway.metric("gateway_spend_refused_total", scope="key", client="capped") == 1


def test_a_teams_cap_covers_all_its_keys(gateway):
    assert gateway.chat(key="team-a").status_code == 200
    refused = gateway.chat(key="team-b")  # another key of the same team
    assert refused.status_code == 429
    assert "team" in refused.json()["error"]["message"]
    assert gateway.metric("gateway_spend_refused_total", scope="team", client="team-b") == 1
    assert gateway.metric("gateway_spend_cap_ratio", scope="team", holder="frugal") > 1
