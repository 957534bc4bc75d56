"""settings_for_environment: the chart's gateway.json, derived only from the environment config."""

import pytest

from infra.capacity import capacity_for
from infra.catalog import load_catalog
from infra.config import environment_from_stack_file
from infra.gateway_settings import settings_for_environment
from infra.sizing import size_replica
from serving.gateway.settings import GatewaySettings

PRIMARY_URL = "http://gpt-oss-serve-svc.gpt-oss.svc.cluster.local:8000/v1"


@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def env(request):
    return environment_from_stack_file(request.param)


def derive(env):
    return settings_for_environment(env, primary_base_url=PRIMARY_URL)


def test_every_stack_derives_settings_the_gateway_accepts(env):
    settings = GatewaySettings.model_validate(derive(env))
    assert settings.environment == env.name and settings.team == env.tags.team
    assert settings.port == 8080 and settings.clients_file == "/etc/gateway/clients/clients.json"


def test_the_public_model_routes_to_the_rayservice_then_the_managed_fallback(env):
    settings = GatewaySettings.model_validate(derive(env))
    route = settings.routes[0]  # the default model first; further served names follow (docs/models.md)
    assert route.model == env.model.name
    primary = settings.upstream(route.primary)
    assert (primary.adapter, primary.base_url, primary.model) == ("self_hosted", PRIMARY_URL, env.model.name)
    fallback = settings.upstream(route.fallback)
    assert (fallback.adapter, fallback.base_url, fallback.model) == (
        "managed_openai",
        env.fallback.base_url,
        env.fallback.model,
    )
    assert fallback.api_key_file == "/etc/gateway/managed/api-key"


def test_routing_knobs_come_from_the_gateway_section(env):
    primary = GatewaySettings.model_validate(derive(env)).upstream("self-hosted")
    assert primary.first_byte_timeout_s == env.gateway.first_byte_timeout_s
    assert primary.max_in_flight == capacity_for(env).gateway_max_in_flight
    assert primary.circuit.failure_threshold == env.gateway.circuit_failure_threshold
    assert primary.circuit.open_s == env.gateway.circuit_open_seconds


def test_prices_come_from_the_catalog_and_sizing(env):
    settings = GatewaySettings.model_validate(derive(env))
    price = load_catalog().managed_api[env.fallback.model]
    managed = settings.upstream("managed").cost
    assert (managed.input_usd_per_mtok, managed.output_usd_per_mtok) == (price.input_per_mtok, price.output_per_mtok)
    sizing = size_replica(
        env.model.name,
        env.serving_pool().instance_type,
        env.serving.max_model_len,
        env.serving.tensor_parallel,
        env.serving.gpu_memory_utilization,
    )
    fleet = settings.upstream("self-hosted").cost
    # Shared in equal parts with the model's adapters (infra/models/routes.py).
    sharers = 1 + (len(env.served_models.lora.adapters) if env.served_models.lora else 0)
    assert fleet.fleet_usd_per_hour == pytest.approx(sizing.usd_per_replica_hour * max(1, env.serving.min_replicas) / sharers)
    assert fleet.fleet_usd_per_hour > 0


def test_only_pools_that_may_scale_to_zero_stop_probing_when_idle(env):
    readiness = GatewaySettings.model_validate(derive(env)).upstream("self-hosted").readiness
    assert (readiness.idle_after_s is not None) == (env.serving.min_replicas == 0)
    # A pool that scales to zero is woken by one request held for the cold-start budget.
    assert (readiness.wake_timeout_s is not None) == (env.serving.min_replicas == 0)


def test_an_environment_without_fallback_has_no_managed_upstream_at_all():
    env = environment_from_stack_file("prod")
    closed = env.model_copy(update={"fallback": env.fallback.model_copy(update={"allowed": False})})
    settings = GatewaySettings.model_validate(derive(closed))
    assert [u.adapter for u in settings.upstreams] == ["self_hosted"]
    assert settings.routes[0].fallback is None


def test_the_result_is_json_ready_and_stable():
    import json

    env = environment_from_stack_file("prod")
    assert json.dumps(derive(env), sort_keys=True) == json.dumps(derive(env), sort_keys=True)


def test_readiness_needs_consecutive_failed_probes(env):
    readiness = GatewaySettings.model_validate(derive(env)).upstream("self-hosted").readiness
    assert readiness.failures_to_unready == 3


def test_the_rayservice_primary_serves_what_ray_serve_llm_serves(env):
    # Ray Serve LLM 2.58's ingress has chat and completions, no /v1/responses.
    primary = GatewaySettings.model_validate(derive(env)).upstream("self-hosted")
    assert primary.endpoints == ["chat", "completions"]


def test_n_is_capped_by_the_gateway_section(env):
    assert GatewaySettings.model_validate(derive(env)).limits.max_n == env.gateway.max_n


def test_only_an_environment_with_a_gcs_redis_shares_limits_across_pods(env):
    store = GatewaySettings.model_validate(derive(env)).shared_store
    ft = env.serving.gcs_fault_tolerance
    if ft.enabled:
        assert store is not None and store.address_env == "GATEWAY_SHARED_STORE_ADDRESS"
        assert store.key_prefix == "gpt-oss-gateway:"
    else:
        assert store is None


def test_prod_shares_limits_through_its_managed_gcs_redis_and_dev_counts_per_pod():
    assert GatewaySettings.model_validate(derive(environment_from_stack_file("prod"))).shared_store is not None
    assert GatewaySettings.model_validate(derive(environment_from_stack_file("dev"))).shared_store is None


def test_shared_limits_can_be_turned_off():
    env = environment_from_stack_file("prod")
    off = env.model_copy(update={"gateway": env.gateway.model_copy(update={"shared_limits": False})})
    assert GatewaySettings.model_validate(derive(off)).shared_store is None


def test_a_password_protected_external_store_is_not_used():
    env = environment_from_stack_file("prod")
    ft = env.serving.gcs_fault_tolerance.model_copy(
        update={"redis": "external", "redis_address": "redis.internal:6379", "redis_password_secret": "gcs-redis"}
    )
    external = env.model_copy(update={"serving": env.serving.model_copy(update={"gcs_fault_tolerance": ft})})
    assert GatewaySettings.model_validate(derive(external)).shared_store is None
