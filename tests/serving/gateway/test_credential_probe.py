"""A fallback you can see: the managed API's key is checked every few seconds with a free
GET /models, so a revoked key shows as `gateway_upstream_ready{upstream="managed"} 0` and a
counted auth failure while the self-hosted model still serves everything; the access log names
the error code clients receive; a reloaded key closes the managed circuit at once."""

from __future__ import annotations

import pytest

from contracts import HEADER_SERVED_BY
from serving.gateway.credential_probe import CredentialVerdict, verdict_for
from serving.gateway.settings import UpstreamSettings
from tests.serving.harness import MANAGED_API_KEY, wait_until

NEW_KEY = "sk-managed-rotated-0a1b2c3d4e5f"
CHECK = {"credential_check_interval_s": 0.2}


def _rotate(key_file, key: str) -> None:
    key_file.write_text(key + "\n")


def test_a_revoked_key_is_seen_while_the_primary_serves_and_a_rotation_restores_the_fallback(
    start_gateway, primary, managed, secrets, capsys
):
    _, key_file = secrets
    gateway = start_gateway(managed=CHECK)
    wait_until(lambda: len([r for r in managed.requests if r.path == "/v1/models"]) >= 1)
    assert gateway.metric("gateway_upstream_ready", upstream="managed") == 1
    assert gateway.metric("gateway_upstream_auth_failures_total", upstream="managed", source="credential_check") == 0

    managed.api_key = NEW_KEY  # the provider revoked the gateway's key
    wait_until(lambda: gateway.metric("gateway_upstream_ready", upstream="managed") == 0, timeout=3)
    assert gateway.metric("gateway_upstream_auth_failures_total", upstream="managed", source="credential_check") >= 1
    # Nothing falls back yet: clients see nothing, the metric does.
    assert gateway.chat().headers[HEADER_SERVED_BY] == "self-hosted"

    primary.set("refuse")  # now the primary goes too
    response = gateway.chat()
    assert response.status_code == 503 and response.json()["error"]["code"] == "upstream_unavailable"
    assert response.headers["retry-after"]

    _rotate(key_file, NEW_KEY)  # the runbook's emergency path: the Kubernetes Secret first
    wait_until(lambda: gateway.metric("gateway_upstream_ready", upstream="managed") == 1, timeout=3)
    response = gateway.chat()
    assert response.status_code == 200 and response.headers[HEADER_SERVED_BY] == "managed"

    gateway.app.access.flush()
    log = capsys.readouterr().err
    assert "POST /v1/chat/completions 503" in log and "error=upstream_unavailable" in log
    assert MANAGED_API_KEY not in log and NEW_KEY not in log


def test_a_key_reload_closes_the_managed_circuit_at_once(start_gateway, primary, managed, secrets, capsys):
    _, key_file = secrets
    # A long open time: without the reset, traffic would return only after 60 s.
    gateway = start_gateway(managed={"circuit": {"failure_threshold": 2, "open_s": 60}})
    primary.set("refuse")
    managed.api_key = NEW_KEY
    for _ in range(2):
        response = gateway.chat()
        assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_auth_failed"
    assert gateway.metric("gateway_circuit_state", upstream="managed") == 2
    assert gateway.metric("gateway_upstream_auth_failures_total", upstream="managed", source="request") == 2
    response = gateway.chat()
    assert response.status_code == 503 and response.json()["error"]["code"] == "upstream_unavailable"

    _rotate(key_file, NEW_KEY)
    wait_until(lambda: gateway.metric("gateway_circuit_state", upstream="managed") == 0, timeout=2)
    response = gateway.chat()
    assert response.status_code == 200 and response.headers[HEADER_SERVED_BY] == "managed"

    gateway.app.access.flush()
    log = capsys.readouterr().err
    # What the runbook greps for is what the log says.
    assert "error=upstream_auth_failed" in log and "error=upstream_unavailable" in log
    assert NEW_KEY not in log and MANAGED_API_KEY not in log


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, CredentialVerdict.ACCEPTED),
        (401, CredentialVerdict.REFUSED),
        (403, CredentialVerdict.REFUSED),
        (429, CredentialVerdict.UNKNOWN),
        (500, CredentialVerdict.UNKNOWN),
        (404, CredentialVerdict.UNKNOWN),
    ],
)
def test_only_401_and_403_say_the_key_is_refused(status, verdict):
    assert verdict_for(status) is verdict


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"api_key_file": None}, "credential_check_interval_s needs api_key_file"),
        ({"readiness": {"probe": "models"}}, "credential_check_interval_s needs api_key_file and readiness.probe none"),
        ({"credential_check_interval_s": 0}, "greater than 0"),
    ],
)
def test_the_credential_check_setting_refuses_what_cannot_work(changes, message):
    upstream = {
        "name": "managed",
        "adapter": "managed_openai",
        "base_url": "https://api.openai.com/v1",
        "model": "o4-mini",
        "api_key_file": "/etc/key",
        "readiness": {"probe": "none"},
        "credential_check_interval_s": 60,
        "cost": {"kind": "token_price", "input_usd_per_mtok": 1.1, "output_usd_per_mtok": 4.4},
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        UpstreamSettings.model_validate(upstream)
