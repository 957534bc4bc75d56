"""infra/chart_values/: one environment's chart values, derived from the typed config alone."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from cli.__main__ import main as cli_main
from contracts import NODE_POOL_LABEL as POOL_LABEL
from contracts import PRIMARY_BASE_URL, SYSTEM_POOL
from infra.capacity import replica_sizing
from infra.catalog import load_catalog
from infra.chart_values import StackOutputs, chart_values
from infra.chart_values.serve import engine_kwargs
from infra.chart_values.values_file import render_values_file
from infra.config import ConfigError, read_stack_file, validate_environment
from infra.config.load import ENVIRONMENT_KEY, PROJECT
from infra.tags import cost_tags
from infra.versions import RAY_VERSION, TIKTOKEN_PUBLIC_BASE, ray_image_tag

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "gpt-oss-test-weights"
REDIS = "gpt-oss-gcs.x1y2z3.ng.0001.use1.cache.amazonaws.com:6379"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-gateway@sha256:" + "ab" * 32


def outputs_of(env, *, weights_bucket, gcs_redis_address):
    return StackOutputs(
        gateway_image=IMAGE,
        service_cidr=env.cluster.effective_network.service_cidr,
        weights_bucket=weights_bucket,
        gcs_redis_address=gcs_redis_address,
    )


def raw(stack: str) -> dict:
    return copy.deepcopy(read_stack_file(stack)[f"{PROJECT}:{ENVIRONMENT_KEY}"])


def env_of(stack: str, edit=None):
    data = raw(stack)
    if edit:
        edit(data)
    return validate_environment(data, stack=stack)


def test_ray_version_is_the_locked_one():
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "ray"]
    assert locked == RAY_VERSION
    assert ray_image_tag() == f"{locked}-py312-cu130"


def test_lora_adapters_need_the_bucket():
    with pytest.raises(ValueError, match=r"served_models\.lora needs the environment's weights bucket"):
        chart_values(env_of("dev"), "dev", outputs_of(env_of("dev"), weights_bucket=None, gcs_redis_address=None))


def test_s3_weights_need_the_bucket():
    with pytest.raises(ValueError, match="no weights bucket was given"):
        chart_values(env_of("prod"), "prod", outputs_of(env_of("prod"), weights_bucket=None, gcs_redis_address=None))


def test_s3_weights_and_tiktoken_files_come_from_the_environments_bucket():
    env = env_of("prod")
    values = chart_values(env, "prod", outputs_of(env, weights_bucket=BUCKET, gcs_redis_address=REDIS))
    assert values["model"]["source"] == f"s3://{BUCKET}/models/openai/gpt-oss-120b/{env.model.revision}"
    assert values["model"]["offline"] is True
    assert values["tiktoken"]["source"] == f"s3://{BUCKET}/tiktoken"
    assert values["serve"]["engine"]["revision"] == "", "S3 weights are pinned by their prefix"


def test_hugging_face_weights_are_pinned_to_the_configured_commit():
    env = env_of("dev")
    # dev's LoRA adapters load from the bucket (docs/models.md); its weights still come from Hugging Face.
    values = chart_values(env, "dev", outputs_of(env, weights_bucket=BUCKET, gcs_redis_address=None))
    assert values["model"] == {"id": "gpt-oss-20b", "source": "openai/gpt-oss-20b", "offline": False}
    assert values["serve"]["engine"]["revision"] == env.model.revision
    assert engine_kwargs(env, replica_sizing(env))["tokenizer_revision"] == env.model.revision
    assert values["tiktoken"]["source"] == TIKTOKEN_PUBLIC_BASE


@pytest.mark.parametrize(
    ("gpu", "instance", "model", "backend", "batched"),
    [
        ("H100", "p5.4xlarge", "gpt-oss-120b", None, 8192),
        ("L4", "g6.xlarge", "gpt-oss-20b", "TRITON_ATTN", None),
        ("A10G", "g5.xlarge", "gpt-oss-20b", "TRITON_ATTN", None),
        ("L40S", "g6e.12xlarge", "gpt-oss-120b", "TRITON_ATTN", None),
    ],
)
def test_engine_arguments_follow_the_gpu_generation(gpu, instance, model, backend, batched):
    def edit(data):
        data["node_pools"][0].update(gpu=gpu, instance_type=instance, min_nodes=1, max_nodes=2)
        data["model"].update(name=model, revision=load_catalog().models[model].default_revision)
        data["serving"].update(min_replicas=1, max_replicas=1)

    env = env_of("staging", edit)
    kwargs = engine_kwargs(env, replica_sizing(env))
    assert kwargs.get("attention_backend") == backend
    assert kwargs.get("max_num_batched_tokens") == batched
    assert kwargs["tool_call_parser"] == "openai" and kwargs["enable_auto_tool_choice"] is True


def test_the_upgrade_headroom_is_written_next_to_the_strategy():
    expected = {"dev": ("None", 0), "staging": ("NewCluster", 1), "prod": ("NewCluster", 2)}
    for stack, (strategy, gpus) in expected.items():
        values = chart_values(env_of(stack), stack, outputs_of(env_of(stack), weights_bucket=BUCKET, gcs_redis_address=REDIS))
        assert values["rayService"]["upgradeStrategy"]["type"] == strategy
        assert values["rayService"]["upgradeStrategy"]["gpuHeadroom"] == gpus, stack
        text = render_values_file(env_of(stack), stack, outputs_of(env_of(stack), weights_bucket=BUCKET, gcs_redis_address=REDIS))
        assert f"Upgrade strategy {strategy}" in text
        if strategy == "NewCluster":
            assert f"needs\n#   {gpus} spare H100 GPU(s)" in text


def test_the_incremental_upgrade_is_refused_at_the_config_boundary_until_it_names_a_gateway_class():
    with pytest.raises(ConfigError, match=re.escape("serving.upgrade_strategy: needs a Gateway API GatewayClass")):
        env_of("staging", lambda d: d["serving"].update(upgrade_strategy="NewClusterWithIncrementalUpgrade"))


def test_gcs_fault_tolerance_is_carried_over_for_prod_only():
    prod = chart_values(env_of("prod"), "prod", outputs_of(env_of("prod"), weights_bucket=BUCKET, gcs_redis_address=REDIS))[
        "rayService"
    ]["gcsFaultTolerance"]
    assert prod == {"enabled": True, "redisAddress": REDIS, "redisPasswordSecret": ""}
    with pytest.raises(ValueError, match="no Redis address was given"):
        chart_values(env_of("prod"), "prod", outputs_of(env_of("prod"), weights_bucket=BUCKET, gcs_redis_address=None))
    external = env_of(
        "prod",
        lambda d: d["serving"]["gcs_fault_tolerance"].update(
            redis="external", redis_address="redis.example.internal:6380", redis_password_secret="gcs-auth"
        ),
    )
    assert chart_values(external, "prod", outputs_of(external, weights_bucket=BUCKET, gcs_redis_address=None))["rayService"][
        "gcsFaultTolerance"
    ] == {
        "enabled": True,
        "redisAddress": "redis.example.internal:6380",
        "redisPasswordSecret": "gcs-auth",
    }
    dev = chart_values(env_of("dev"), "dev", outputs_of(env_of("dev"), weights_bucket=BUCKET, gcs_redis_address=None))[
        "rayService"
    ]["gcsFaultTolerance"]
    assert dev["enabled"] is False


def test_pods_land_on_the_pools_the_integrator_labels():
    values = chart_values(env_of("prod"), "prod", outputs_of(env_of("prod"), weights_bucket=BUCKET, gcs_redis_address=REDIS))
    (group,) = values["ray"]["workerGroups"]
    assert group["nodeSelector"] == {POOL_LABEL: "gpu-h100"}
    assert values["ray"]["head"]["nodeSelector"] == values["gateway"]["nodeSelector"] == {POOL_LABEL: SYSTEM_POOL}
    assert group["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]


def test_labels_are_the_cost_tags():
    env = env_of("staging")
    assert chart_values(env, "staging", outputs_of(env, weights_bucket=BUCKET, gcs_redis_address=REDIS))["labels"][
        "cost"
    ] == cost_tags(env, "staging")


def test_the_gateway_gets_its_settings_and_secret_names():
    from infra.gateway_settings import settings_for_environment

    env = env_of("prod")
    gateway = chart_values(env, "prod", outputs_of(env, weights_bucket=BUCKET, gcs_redis_address=REDIS))["gateway"]
    assert gateway["settings"] == settings_for_environment(env, primary_base_url=PRIMARY_BASE_URL)
    assert gateway["clientKeysSecret"] == "gpt-oss-gateway-clients"
    assert gateway["managedApiKeySecret"] == "gpt-oss-managed-api-key"
    assert gateway["managedApiKeyOptional"] is False
    sovereign = env_of("prod", lambda d: d["fallback"].update(allowed=False, sovereign_only="customer data stays in our account"))
    assert (
        chart_values(sovereign, "prod", outputs_of(sovereign, weights_bucket=BUCKET, gcs_redis_address=REDIS))["gateway"][
            "managedApiKeyOptional"
        ]
        is True
    )


# --- Changing the model ----------------------------------------------------------------------


def _consistency(values: dict, env) -> None:
    """GPU request, tensor parallelism, accelerator type, max_model_len and node selector agree."""
    sizing = replica_sizing(env)
    pool = env.serving_pool()
    (group,) = values["ray"]["workerGroups"]
    engine = values["serve"]["engine"]
    assert group["gpus"] == engine["tensorParallelSize"] == sizing.tensor_parallel == sizing.gpus_per_replica
    assert group["acceleratorType"] == values["serve"]["acceleratorType"] == load_catalog().gpus[pool.gpu].ray_accelerator
    assert engine["maxModelLen"] == env.serving.max_model_len <= load_catalog().models[env.model.name].max_context_tokens
    assert group["nodeSelector"] == {POOL_LABEL: pool.name}
    assert values["model"]["id"] == env.model.name == values["labels"]["cost"]["model"]


def test_switching_20b_to_120b_changes_gpus_and_parallelism_consistently():
    """On a pool of 4x L40S nodes the 20b model takes one GPU per replica, the 120b model two."""

    def pool(data):
        data["node_pools"][0].update(name="gpu-l40s", gpu="L40S", instance_type="g6e.12xlarge", min_nodes=1, max_nodes=2)
        data["serving"].update(min_replicas=1, max_replicas=2)

    def as_model(name):
        def edit(data):
            pool(data)
            data["model"].update(name=name, revision=load_catalog().models[name].default_revision)

        return edit

    small = env_of("staging", as_model("gpt-oss-20b"))
    large = env_of("staging", as_model("gpt-oss-120b"))
    before = chart_values(small, "staging", outputs_of(small, weights_bucket=BUCKET, gcs_redis_address=REDIS))
    after = chart_values(large, "staging", outputs_of(large, weights_bucket=BUCKET, gcs_redis_address=REDIS))
    _consistency(before, small)
    _consistency(after, large)
    assert (before["ray"]["workerGroups"][0]["gpus"], after["ray"]["workerGroups"][0]["gpus"]) == (1, 2)
    assert before["ray"]["workerGroups"][0]["cpu"] != after["ray"]["workerGroups"][0]["cpu"]
    assert before["model"]["source"] != after["model"]["source"]


def test_switching_a_pool_too_small_for_120b_fails_with_the_reason_and_what_would_fit():
    data = raw("dev")
    data["model"].update(name="gpt-oss-120b", revision=load_catalog().models["gpt-oss-120b"].default_revision)
    with pytest.raises(ConfigError) as raised:
        validate_environment(data, stack="dev")
    message = str(raised.value)
    assert "gpt-oss-120b cannot be served on g6.xlarge" in message
    assert "it fits on:" in message


def test_switching_the_model_name_but_not_its_revision_is_refused():
    """Only the name edited: the old model's commit does not exist in the new repository."""
    with pytest.raises(ConfigError) as raised:
        env_of("staging", lambda d: d["model"].update(name="gpt-oss-20b"))
    assert "model: revision b5c939de8f754692c1647ca79fbf85e8c1e70f8a is the pinned commit of gpt-oss-120b" in str(raised.value)


def test_switching_120b_to_20b_on_h100_keeps_tp1_and_shrinks_the_weights_cache():
    large = env_of("prod")
    revision = load_catalog().models["gpt-oss-20b"].default_revision
    # 20b on an H100 runs four times the sequences of 120b: the plan refuses three gateway pods for
    # that (their connections would not hold the floor's requests, infra/config/rules.py), so the
    # switch adds a gateway pod, as the refusal says.
    small = env_of(
        "prod",
        lambda d: (
            d["model"].update(name="gpt-oss-20b", revision=revision),
            d["gateway"].update(min_replicas=d["gateway"]["min_replicas"] + 1, max_replicas=d["gateway"]["max_replicas"] + 1),
        ),
    )
    before = chart_values(large, "prod", outputs_of(large, weights_bucket=BUCKET, gcs_redis_address=REDIS))
    after = chart_values(small, "prod", outputs_of(small, weights_bucket=BUCKET, gcs_redis_address=REDIS))
    _consistency(before, large)
    _consistency(after, small)
    assert after["serve"]["engine"]["gpuMemoryUtilization"] == 0.95
    cache = [int(v["ray"]["workerGroups"][0]["cacheSizeLimit"].removesuffix("Gi")) for v in (before, after)]
    assert cache[1] < cache[0]


# --- The values file and its CLI ----------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_values_file_holds_exactly_the_values(stack):
    env = env_of(stack)
    text = render_values_file(env, stack, outputs_of(env, weights_bucket=BUCKET, gcs_redis_address=REDIS))
    assert yaml.safe_load(text) == chart_values(env, stack, outputs_of(env, weights_bucket=BUCKET, gcs_redis_address=REDIS))
    assert text.startswith(f"# Values of charts/gpt-oss-serving for environment {stack}")


def test_the_cli_writes_the_values_file(tmp_path):
    out = tmp_path / "dev" / "values.yaml"
    assert cli_main(["values", "--env", "dev", "--gateway-image", IMAGE, "--weights-bucket", BUCKET, "--out", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["model"]["id"] == "gpt-oss-20b"
    # Without the governor image (no digest recorded yet) the GitOps values leave the governor out.
    assert yaml.safe_load(out.read_text())["governor"]["enabled"] is False
    governor = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-governor@sha256:" + "ef" * 32
    argv = ["values", "--env", "dev", "--gateway-image", IMAGE, "--governor-image", governor, "--weights-bucket", BUCKET]
    assert cli_main([*argv, "--out", str(out)]) == 0
    image = yaml.safe_load(out.read_text())["governor"]["image"]
    assert yaml.safe_load(out.read_text())["governor"]["enabled"] is True and image["digest"] == "sha256:" + "ef" * 32


def test_the_cli_says_what_is_missing(capsys):
    assert cli_main(["values", "--env", "prod", "--gateway-image", IMAGE]) == 2
    assert "no weights bucket was given" in capsys.readouterr().err
    assert cli_main(["values", "--env", "nope"]) == 2
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err


def test_ray_pods_may_reach_the_api_server_by_its_cluster_ip_and_its_endpoints():
    """The Ray autoscaler calls kubernetes.default.svc: the ClusterIP (first address of the Service
    CIDR) before kube-proxy translates it, the control-plane ENIs in the VPC after."""
    env = env_of("dev")
    # dev's LoRA adapters load from the bucket (docs/models.md); its weights still come from Hugging Face.
    values = chart_values(env, "dev", outputs_of(env, weights_bucket=BUCKET, gcs_redis_address=None))
    assert values["networkPolicy"]["kubeApiServer"] == [{"cidr": "172.20.0.1/32"}, {"cidr": "10.40.0.0/16"}]
