"""The first `pulumi up` in a fresh account converges: run as `up` runs it (mock engine,
preview=False), the program without a gateway image digest registers everything but the serving
release, exports `bootstrap_pending` and exits 0; with a digest it registers everything. No input
that `up` requires may come only from something this stack creates (infra/config/bootstrap.py)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from pulumi.errors import RunError

from infra.config.bootstrap import OFFLINE_PLAN_ENV, STACK_PRODUCED_INPUTS
from infra.config.load import PROJECT, STACKS_DIR_ENV, read_stack_file, validate_environment
from infra.plan.runner import environment, pulumi_config_bag, run_for_exports

RELEASE = "kubernetes:helm.sh/v3:Release"
SERVING = "gpt-oss"
DIGEST = "sha256:" + "ab" * 32
ENV_KEY = f"{PROJECT}:environment"


def set_key(raw: dict, key: str, value) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def real_values(raw: dict) -> None:
    """What a user puts in place of the committed examples (prod's tier refuses them at `up`)."""
    text = json.dumps(raw)
    for example, real in (
        ("203.0.113.0/24", "10.99.0.0/16"),
        ("example.com", "corp.internal"),
        ("123456789012", "210987654321"),
        ("00000000-0000-0000-0000-000000000000", "0a1b2c3d-1111-2222-3333-444455556666"),
    ):
        text = text.replace(example, real)
    raw.clear()
    raw.update(json.loads(text))


def up(tmp_path: Path, env_name: str, mutate=None, *, preview: bool = False):
    """(registrations, exports) of the program run as `pulumi up` (or `preview`) on a variant of
    `env_name`'s stack file; the variant lives alone in tmp_path (no overlay to drift from)."""
    config = copy.deepcopy(read_stack_file(env_name))
    if mutate:
        mutate(config[ENV_KEY])
    (tmp_path / f"Pulumi.{env_name}.yaml").write_text(yaml.safe_dump({"config": config}))
    env = validate_environment(config[ENV_KEY], stack=env_name)
    bag, secret_keys, _ = pulumi_config_bag(config, env)
    with environment({STACKS_DIR_ENV: str(tmp_path), OFFLINE_PLAN_ENV: "0"}):
        return run_for_exports(env_name, bag, secret_keys, env.region, preview=preview)


def releases(registrations) -> set[str]:
    return {str(r.inputs.get("name")) for r in registrations if r.type == RELEASE}


def resources(registrations) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in registrations}


@pytest.mark.slow
@pytest.mark.parametrize("env_name", ["dev", "staging"])
def test_up_without_a_digest_deploys_everything_but_the_serving_release_and_says_what_is_next(tmp_path, env_name):
    def no_digest(raw):
        set_key(raw, "gateway.image.digest", None)

    def with_digest(raw):
        set_key(raw, "gateway.image.digest", DIGEST)

    bootstrap, exports = up(tmp_path, env_name, no_digest)
    assert SERVING not in releases(bootstrap)
    assert {"kuberay-operator", "kube-prometheus-stack"} <= releases(bootstrap)
    (pending,) = [m for m in exports["bootstrap_pending"] if m.startswith("gateway.")]
    assert pending.startswith("gateway.image.digest is not set")
    assert "the serving Helm release" in pending and "run the gateway-image workflow" in pending
    assert "merge the pins PR" in pending and "`pulumi up` again" in pending
    assert exports["gateway_image"] is None and "gateway_image_repository" in exports

    full, exports = up(tmp_path, env_name, with_digest)
    assert exports["gateway_image"].endswith(f"@{DIGEST}")
    assert not [m for m in exports["bootstrap_pending"] or [] if m.startswith("gateway.")]
    serving = [r for r in full if r.type == RELEASE and r.inputs.get("name") == SERVING]
    assert serving and serving[0].inputs["values"]["gateway"]["image"]["digest"] == DIGEST
    # Exactly the serving release (and nothing else) is what the second `up` adds.
    added = resources(full) - resources(bootstrap)
    assert added == {(RELEASE, f"{env_name}-serving"), ("gptoss:k8s:ServingRelease", f"{env_name}-serving")}, added
    assert resources(bootstrap) <= resources(full)


GOVERNOR_DIGEST = "sha256:" + "cd" * 32


@pytest.mark.slow
def test_up_without_a_governor_digest_installs_the_release_without_the_governor_and_says_so(tmp_path):
    """The governor image is built by the same workflow after the first `up`: until its digest is
    pinned the release never pulls an image that does not exist; the governor is left out."""

    def gateway_only(raw):
        set_key(raw, "gateway.image.digest", DIGEST)
        set_key(raw, "governor.image.digest", None)

    registrations, exports = up(tmp_path, "dev", gateway_only)
    serving = [r for r in registrations if r.type == RELEASE and r.inputs.get("name") == SERVING]
    assert serving and serving[0].inputs["values"]["governor"]["enabled"] is False
    (pending,) = exports["bootstrap_pending"]
    assert pending.startswith("governor.image.digest is not set") and "the cost governor" in pending
    assert "governor_image_repository" in exports and exports["governor_image"] is None

    def both(raw):
        gateway_only(raw)
        set_key(raw, "governor.image.digest", GOVERNOR_DIGEST)

    registrations, exports = up(tmp_path, "dev", both)
    governor = next(r for r in registrations if r.type == RELEASE and r.inputs.get("name") == SERVING).inputs["values"][
        "governor"
    ]
    assert governor["enabled"] is True and governor["image"]["digest"] == GOVERNOR_DIGEST
    assert governor["image"]["repository"].endswith(".amazonaws.com/gpt-oss-governor") and governor["image"]["tag"] == ""
    assert exports["bootstrap_pending"] is None and exports["governor_image"].endswith(f"@{GOVERNOR_DIGEST}")

    def off(raw):
        gateway_only(raw)
        set_key(raw, "governor.mode", "off")

    _, exports = up(tmp_path, "dev", off)
    assert exports["bootstrap_pending"] is None, "a governor that is off needs no image"


def test_a_real_preview_shows_what_up_does_so_drift_detection_sees_no_pending_release(tmp_path):
    registrations, exports = up(tmp_path, "dev", lambda raw: set_key(raw, "gateway.image.digest", None), preview=True)
    assert SERVING not in releases(registrations) and exports["bootstrap_pending"]


@pytest.mark.slow
def test_no_input_up_requires_comes_only_from_what_the_stack_creates(tmp_path):
    """Every stack-produced input unset at once: `up` of every tier's environment still exits 0."""

    def unset_all(raw):
        real_values(raw)
        for item in STACK_PRODUCED_INPUTS:
            set_key(raw, item.key, None)

    for env_name in ("dev", "staging", "prod"):
        (tmp_path / env_name).mkdir()
        registrations, exports = up(tmp_path / env_name, env_name, unset_all)
        assert registrations and len(exports["bootstrap_pending"]) == len(STACK_PRODUCED_INPUTS), env_name


def test_every_stack_produced_input_is_a_config_key():
    raw = read_stack_file("dev")[ENV_KEY]
    env = validate_environment(raw, stack="dev")
    for item in STACK_PRODUCED_INPUTS:
        node = env
        for part in item.key.split("."):
            assert hasattr(node, part), item.key
            node = getattr(node, part)


def plant_examples(raw: dict) -> None:
    """The committed examples, planted (they hold whatever a user has replaced since)."""
    raw["cluster"]["api_access"]["public_cidrs"] = ["203.0.113.0/24"]
    raw["budget"]["notify_emails"] = ["ml-platform-alerts@example.com", "finops@example.com"]
    raw["gateway"]["ingress"]["certificate_arn"] = (
        "arn:aws:acm:us-east-1:123456789012:certificate/" + "0" * 8 + "-0000" * 3 + "-" + "0" * 12
    )
    raw["oncall"]["grafana_url"] = "https://grafana.prod.example.com"


def test_up_refuses_the_example_values_in_the_prod_tier_naming_each(tmp_path):
    with pytest.raises(RunError) as refused:
        up(tmp_path, "prod", plant_examples)
    text = str(refused.value)
    for path in (
        "cluster.api_access.public_cidrs[0]",
        "budget.notify_emails[0]",
        "budget.notify_emails[1]",
        "gateway.ingress.certificate_arn",
        "oncall.grafana_url",
    ):
        assert re.search(rf"{re.escape(path)}: prod tier refuses example values at `pulumi up`", text), path
    # A preview (and the offline plan) of the same config only warns.
    registrations, _ = up(tmp_path, "prod", plant_examples, preview=True)
    assert registrations


def test_the_bootstrap_warning_is_logged_at_up(tmp_path, caplog):
    up(tmp_path, "dev", lambda raw: set_key(raw, "gateway.image.digest", None))
    assert json.dumps([r.getMessage() for r in caplog.records]).count("bootstrap: gateway.image.digest is not set") >= 1


def test_the_ci_role_the_deploy_workflow_passes_becomes_cluster_admin(tmp_path):
    role = "arn:aws:iam::210987654321:role/gpt-oss-deploy"
    config = copy.deepcopy(read_stack_file("dev"))
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    env = validate_environment(config[ENV_KEY], stack="dev")
    bag, secret_keys, _ = pulumi_config_bag(config, env)
    with environment({STACKS_DIR_ENV: str(tmp_path), OFFLINE_PLAN_ENV: "0"}):
        registrations, _ = run_for_exports("dev", {**bag, f"{PROJECT}:ciRoleArn": role}, secret_keys, preview=False)
        entries = [
            r for r in registrations if r.type == "aws:eks/accessEntry:AccessEntry" and r.inputs.get("principalArn") == role
        ]
        associations = [r for r in registrations if r.type == "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"]
        assert len(entries) == 1 and entries[0].inputs["type"] == "STANDARD"
        assert any(a.inputs.get("principalArn") == role for a in associations)
        with pytest.raises(RunError, match=re.escape("ciRoleArn: must be an IAM role ARN")):
            run_for_exports("dev", {**bag, f"{PROJECT}:ciRoleArn": "gpt-oss-deploy"}, secret_keys, preview=False)


def test_up_exports_where_the_smoke_key_lives(tmp_path):
    _, exports = up(tmp_path, "dev")
    assert "smoke_key_secret" in exports
