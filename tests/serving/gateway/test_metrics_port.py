"""/metrics is not on the client port, and by default names no client key.

Before, `GET /metrics` on the client port needed no key and listed every key's name, team, token
counts and spend to whoever could reach the gateway.
"""

from __future__ import annotations

import pytest

from serving.gateway.settings import GatewaySettings
from tests.serving.harness import free_port, settings_for_test

pytestmark = pytest.mark.slow


def test_the_client_port_answers_metrics_with_404(gateway):
    response = gateway.http.get("/metrics")
    assert response.status_code == 404
    assert "gateway_" not in response.text


def test_the_metrics_port_serves_only_metrics(gateway):
    assert gateway.metrics_http.get("/metrics").status_code == 200
    for path in ("/healthz", "/v1/models", "/"):
        assert gateway.metrics_http.get(path).status_code == 404
    assert gateway.metrics_http.post("/metrics").status_code == 405


def test_by_default_no_key_name_appears_but_teams_and_counts_do(start_gateway):
    gateway = start_gateway(metrics={"port": free_port(), "client_labels": False})
    assert gateway.chat(key="app").status_code == 200
    assert gateway.chat(key="capped").status_code == 200
    text = gateway.metrics_http.get("/metrics").text
    names = ("app", "vault", "limited", "tokens", "narrow", "capped", "team-a", "team-b")
    assert not any(f'client="{name}"' in text or f'holder="{name}"' in text for name in names)
    assert 'client="-"' in text and 'team="search"' in text
    assert gateway.metric("gateway_requests_total", client="-", team="search", code="200") == 2
    # the spend-cap alert (max by holder) still sees the highest key ratio
    assert gateway.metric("gateway_spend_cap_ratio", scope="key", holder="-") >= 1


def test_client_labels_name_keys_when_configured(gateway):
    gateway.chat(key="app")
    assert gateway.metric("gateway_requests_total", client="app", code="200") == 1


def test_the_metrics_port_must_differ_from_the_client_port(primary, managed, secrets):
    settings = settings_for_test(primary.base_url, managed.base_url, *secrets)
    settings["metrics"] = {"port": settings["port"]}
    with pytest.raises(ValueError, match=r"metrics\.port"):
        GatewaySettings.model_validate(settings)
