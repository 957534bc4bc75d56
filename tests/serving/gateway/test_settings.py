"""The settings model refuses what the gateway could not run safely, naming the key."""

import json

import pytest
from pydantic import ValidationError

from serving.gateway.settings import GatewaySettings, load_settings
from tests.serving.harness import settings_for_test


@pytest.fixture
def valid(tmp_path) -> dict:
    return settings_for_test("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1", tmp_path / "c.json", tmp_path / "k")


def test_the_test_settings_are_valid(valid):
    assert GatewaySettings.model_validate(valid).upstream("managed").model == "o4-mini"


def test_loads_from_a_json_file(tmp_path, valid):
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(valid))
    assert load_settings(path).environment == "test"


def test_unknown_keys_are_errors(valid):
    valid["upstreams"][0]["first_byte_timeout"] = 5
    with pytest.raises(ValidationError, match=r"upstreams\.0\.first_byte_timeout"):
        GatewaySettings.model_validate(valid)


def test_routes_must_name_existing_upstreams(valid):
    valid["routes"][0]["fallback"] = "manged"
    with pytest.raises(ValidationError, match="no upstream named 'manged'"):
        GatewaySettings.model_validate(valid)


def test_an_api_key_never_travels_over_plain_http_off_the_loopback(valid):
    valid["upstreams"][1]["base_url"] = "http://api.example.com/v1"
    with pytest.raises(ValidationError, match="must be https"):
        GatewaySettings.model_validate(valid)


def test_credentials_in_the_url_are_refused(valid):
    valid["upstreams"][1]["base_url"] = "https://user:secret@api.example.com/v1"
    with pytest.raises(ValidationError, match="must not carry credentials"):
        GatewaySettings.model_validate(valid)


def test_each_adapter_has_its_kind_of_price(valid):
    valid["upstreams"][0]["cost"] = {"kind": "token_price", "input_usd_per_mtok": 0, "output_usd_per_mtok": 0}
    with pytest.raises(ValidationError, match="amortised fleet"):
        GatewaySettings.model_validate(valid)


def test_the_fleet_price_can_not_be_zero(valid):
    valid["upstreams"][0]["cost"]["fleet_usd_per_hour"] = 0
    with pytest.raises(ValidationError, match="fleet_usd_per_hour"):
        GatewaySettings.model_validate(valid)


def test_a_route_can_not_fall_back_to_itself(valid):
    valid["routes"][0]["fallback"] = "self-hosted"
    with pytest.raises(ValidationError, match="fallback is the primary itself"):
        GatewaySettings.model_validate(valid)


def test_duplicate_upstream_names_are_refused(valid):
    valid["upstreams"][1]["name"] = "self-hosted"
    with pytest.raises(ValidationError, match="duplicate names"):
        GatewaySettings.model_validate(valid)


@pytest.mark.parametrize(
    ("readiness", "message"),
    [
        ({"probe": "models", "wake_timeout_s": 600}, "readiness.probe is 'models'"),
        ({"probe": "generation", "timeout_s": 5, "wake_timeout_s": 5}, r"wake_timeout_s \(5.0\) must exceed"),
        ({"probe": "generation", "wake_timeout_s": 0}, "greater than 0"),
    ],
)
def test_a_wake_request_is_a_generation_that_outlasts_the_probes(valid, readiness, message):
    valid["upstreams"][0]["readiness"] = readiness
    with pytest.raises(ValidationError, match=message):
        GatewaySettings.model_validate(valid)
