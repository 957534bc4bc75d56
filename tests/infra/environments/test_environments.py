"""new-env, pins, diff, GitOps render, affected/promoted environments and the record models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from cli.__main__ import main as cli_main
from infra.config import ConfigError, environment_from_stack_file
from infra.config.overlays import resolve
from infra.environments.diff import diff_environments
from infra.environments.gitops import render_gitops
from infra.environments.overview import affected, promoted
from infra.environments.pins import load_pins
from infra.environments.records import SmokeCheck, SmokeRecord
from infra.environments.scaffold import scaffold
from support.environments import DIGEST, git


def test_new_env_leaves_the_unique_fields_to_the_user_and_is_then_valid(scratch_repo):
    made = scaffold("perf", "staging", scratch_repo)
    text = made.overlay.read_text()
    assert "cluster.name: a cluster no other environment uses, e.g. gpt-oss-perf" in text
    assert "cluster.network.vpc_cidr: a range no other environment overlaps, e.g. 10.43.0.0/16" in text
    assert "tags.cost-center" in text and load_pins("perf", scratch_repo) == load_pins("staging", scratch_repo)
    with pytest.raises(ConfigError) as caught:
        environment_from_stack_file("perf", scratch_repo)
    found = {p.path for p in caught.value.problems}
    # Named in the overlay the user fills in (not the generated Pulumi.perf.yaml).
    assert {f"environments/perf.yaml: {key}" for key in ("cluster.name", "tags.cost-center", "cluster.network.vpc_cidr")} <= found
    data = yaml.safe_load(text)
    assert "cluster" not in data, "staging's overlay held only the cluster's unique keys"
    data["cluster"] = {"name": "gpt-oss-perf", "network": {"vpc_cidr": "10.43.0.0/16"}}
    data["tags"] = {"cost-center": "cc-ml-perf"}
    made.overlay.write_text(yaml.safe_dump(data))
    assert cli_main(["envs", "render", "--env", "perf", "--root", str(scratch_repo)]) == 0
    env = environment_from_stack_file("perf", scratch_repo)
    assert env.tier == "staging" and env.serving.upgrade_strategy == "NewCluster"


def test_new_env_refuses_a_clash_and_writes_nothing(scratch_repo, capsys):
    code = cli_main(
        [
            "new-env",
            "perf",
            "--from",
            "staging",
            "--root",
            str(scratch_repo),
            "--cluster-name",
            "gpt-oss-staging",
            "--vpc-cidr",
            "10.41.128.0/20",
            "--cost-center",
            "cc-ml-prod",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "--cluster-name: is also staging's cluster" in err and "--vpc-cidr: overlaps staging's 10.41.0.0/16" in err
    assert "--cost-center: is also prod's cost center" in err
    assert not (scratch_repo / "environments" / "perf.yaml").exists() and not (scratch_repo / "Pulumi.perf.yaml").exists()
    assert cli_main(["new-env", "dev", "--from", "staging", "--root", str(scratch_repo)]) == 2
    assert "environment 'dev' exists already" in capsys.readouterr().err


def test_new_env_with_its_own_values_is_valid_at_once(scratch_repo, capsys):
    code = cli_main(
        [
            "new-env",
            "perf",
            "--from",
            "staging",
            "--root",
            str(scratch_repo),
            "--cluster-name",
            "gpt-oss-perf",
            "--vpc-cidr",
            "10.50.0.0/16",
            "--cost-center",
            "cc-ml-perf",
        ]
    )
    assert code == 0 and "next: gpt-oss-platform plan --env perf" in capsys.readouterr().out
    assert environment_from_stack_file("perf", scratch_repo).cluster.network.vpc_cidr == "10.50.0.0/16"


def test_pins_set_records_a_digest_and_rerenders_and_check_compares_with_the_checkout(scratch_repo, capsys):
    assert cli_main(["pins", "set", "--env", "dev", "--gateway-digest", DIGEST, "--root", str(scratch_repo)]) == 0
    assert load_pins("dev", scratch_repo).gateway_image.digest == DIGEST
    assert cli_main(["pins", "set", "--env", "dev", "--gateway-digest", "sha256:nope", "--root", str(scratch_repo)]) == 2
    assert "--gateway-digest: must be sha256:<64 lower-case hex digits>" in capsys.readouterr().err
    revision = "3" * 40
    assert cli_main(["pins", "set", "--env", "dev", "--model", f"gpt-oss-20b={revision}", "--root", str(scratch_repo)]) == 0
    environment_from_stack_file("dev", scratch_repo)  # re-rendered: not stale
    assert environment_from_stack_file("dev", scratch_repo).model.revision == revision
    assert cli_main(["pins", "check", "--env", "dev", "--root", str(scratch_repo)]) == 0
    path = scratch_repo / "environments" / "pins" / "staging.yaml"
    path.write_text(path.read_text().replace("version: 0.1.0", "version: 0.0.9"))
    capsys.readouterr()
    assert cli_main(["pins", "check", "--env", "staging", "--root", str(scratch_repo)]) == 1
    assert "chart gpt-oss-serving 0.0.9 differs from this checkout's gpt-oss-serving 0.1.0" in capsys.readouterr().err


def test_diff_compares_config_pins_resources_and_cost(scratch_repo):
    result = diff_environments("dev", scratch_repo, "staging", scratch_repo)
    keys = {row["key"]: row for row in result["config"]}
    assert keys["model.name"] == {"key": "model.name", "a": "gpt-oss-20b", "b": "gpt-oss-120b"}
    assert keys["node_pools[0].provisioner"]["b"] == "karpenter" and "region" not in keys
    assert "kubernetes:karpenter.sh/v1:NodePool <env>-gpu-h100-spot" in result["resources"]["added"]
    assert any(k.startswith("aws:eks/nodeGroup:NodeGroup <env>-gpu-l4") for k in result["resources"]["removed"])
    assert not any(
        "<env>-network-vpc" in row["resource"] and "cidrBlock" in row["paths"] for row in result["resources"]["changed"]
    ), "the values each environment must have its own of are normalised"
    cost = result["monthly_cost_usd"]
    assert cost["floor"]["b"] > cost["floor"]["a"] and cost["max"]["delta"] == round(cost["max"]["b"] - cost["max"]["a"], 2)
    assert result["pins"]["differences"] == []


def test_diff_of_an_environment_with_itself_at_a_ref_shows_the_change(scratch_repo, capsys):
    path = scratch_repo / "environments" / "prod.yaml"
    path.write_text(path.read_text().replace("max_replicas: 10", "max_replicas: 12"))
    assert cli_main(["diff", "prod@HEAD", "prod", "--no-plan", "--json", "--root", str(scratch_repo)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"] == [{"key": "gateway.max_replicas", "a": 10, "b": 12}]
    assert cli_main(["diff", "prod@no-such-ref", "prod", "--no-plan", "--root", str(scratch_repo)]) == 2


def test_affected_and_promoted_environments(scratch_repo):
    assert affected(scratch_repo, "HEAD")["environments"] == []
    path = scratch_repo / "environments" / "base.yaml"
    path.write_text(path.read_text().replace("team: ml-platform", "team: inference"))
    assert affected(scratch_repo, "HEAD")["environments"] == ["dev", "staging", "prod"]
    git(scratch_repo, "checkout", "-q", "--", ".")
    (scratch_repo / "environments" / "prod.yaml").write_text(
        (scratch_repo / "environments" / "prod.yaml").read_text().replace("max_replicas: 10", "max_replicas: 11")
    )
    assert affected(scratch_repo, "HEAD")["environments"] == ["prod"]
    (scratch_repo / "infra.py").write_text("# a program change\n")
    assert affected(scratch_repo, "HEAD")["environments"] == ["dev", "staging", "prod"]
    assert promoted(scratch_repo, "HEAD")["environments"] == []


def test_gitops_render_refuses_without_real_outputs_and_never_writes_a_secret():
    prod = environment_from_stack_file("prod")
    with pytest.raises(ConfigError) as caught:
        render_gitops(prod, "prod", {"cluster_name": "gpt-oss-staging"}, "outputs.json", "r-1", "abc")
    found = [p.render() for p in caught.value.problems]
    assert any(p.startswith("weights_bucket: missing from the stack outputs") for p in found)
    assert any(p.startswith("gcs_redis_address: missing") for p in found)
    assert any(p.startswith("gateway_image: missing") for p in found)
    assert any(p.startswith("cluster_name: is not prod's cluster") for p in found)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-gateway@sha256:" + "c" * 64
    with pytest.raises(ConfigError, match="preview placeholder"):
        render_gitops(
            prod,
            "prod",
            {
                "cluster_name": "gpt-oss-prod",
                "weights_bucket": "b-1",
                "service_cidr": "172.20.0.0/16",
                "gcs_redis_address": "h:6379",
                "gateway_image": image[:-64] + "0" * 64,
            },
            "o",
            "r-1",
            "abc",
        )
    outputs = {
        "cluster_name": "gpt-oss-prod",
        "weights_bucket": "acme-gpt-oss-prod-weights",
        "gateway_image": image,
        "service_cidr": "172.20.0.0/16",
        "gcs_redis_address": "prod-gcs.abc123.ng.0001.use1.cache.amazonaws.com:6379",
        "kubeconfig": "[secret]",
    }
    rendered = render_gitops(prod, "prod", outputs, "outputs.json", "r-1", "abc")
    assert rendered.files and all(
        text.startswith("# Rendered by `gpt-oss-platform gitops render --env prod`") for text in rendered.files.values()
    )
    documents = [yaml.safe_load(text) for text in rendered.files.values()]
    assert "Secret" not in {d["kind"] for d in documents}
    joined = "\n".join(rendered.files.values())
    assert "acme-gpt-oss-prod-weights" in joined and "prod-gcs.abc123" in joined and "redacted" not in joined
    assert image in joined


def test_the_offline_plan_manifests_say_they_are_a_preview(tmp_path):
    assert cli_main(["plan", "--env", "dev", "--out", str(tmp_path)]) == 0
    files = list((tmp_path / "dev" / "manifests").rglob("*.yaml"))
    assert files and all(f.read_text().startswith("# PREVIEW from the offline plan") for f in files)


def test_a_smoke_record_must_agree_with_itself():
    pins = load_pins("dev", __import__("infra.paths", fromlist=["REPO_ROOT"]).REPO_ROOT)
    now = datetime.now(UTC)
    good = {
        "environment": "dev",
        "release": pins.release_id,
        "pins": pins,
        "url": "https://g/v1",
        "started_at": now - timedelta(minutes=1),
        "finished_at": now,
        "checks": [SmokeCheck(name="chat", passed=False)],
        "passed": False,
    }
    SmokeRecord(**good)
    with pytest.raises(ValueError, match="passed must be true exactly when every check passed"):
        SmokeRecord(**(good | {"passed": True}))
    with pytest.raises(ValueError, match="is not the id of its pins"):
        SmokeRecord(**(good | {"release": "r-000000000000"}))


def test_resolution_reproduces_the_committed_stacks_and_their_tiers():
    from infra.paths import REPO_ROOT

    assert [resolve(n, REPO_ROOT)["tier"] for n in ("dev", "staging", "prod")] == ["dev", "staging", "prod"]


def test_pins_set_records_the_governor_digest_which_reaches_the_governor_image(scratch_repo, capsys):
    assert load_pins("dev", scratch_repo).governor_image.digest is None
    assert resolve("dev", scratch_repo).get("governor", {}).get("image", {}).get("digest") is None
    assert cli_main(["pins", "set", "--env", "dev", "--governor-digest", DIGEST, "--root", str(scratch_repo)]) == 0
    assert load_pins("dev", scratch_repo).governor_image.digest == DIGEST
    assert environment_from_stack_file("dev", scratch_repo).governor.image.digest == DIGEST
    assert load_pins("dev", scratch_repo).flat()["governor image digest"] == DIGEST
    # A new tag without a digest names another image: the old digest is cleared.
    assert cli_main(["pins", "set", "--env", "dev", "--governor-tag", "abc123", "--root", str(scratch_repo)]) == 0
    assert load_pins("dev", scratch_repo).governor_image.digest is None
    assert cli_main(["pins", "set", "--env", "dev", "--governor-digest", "sha256:nope", "--root", str(scratch_repo)]) == 2
    assert "--governor-digest: must be sha256:<64 lower-case hex digits>" in capsys.readouterr().err


def test_pins_written_before_the_governor_existed_still_load_without_its_digest(scratch_repo):
    path = scratch_repo / "environments" / "pins" / "dev.yaml"
    data = yaml.safe_load(path.read_text())
    del data["governor_image"]
    path.write_text(yaml.safe_dump(data))
    pins = load_pins("dev", scratch_repo)
    assert pins.governor_image.repository == "gpt-oss-governor" and pins.governor_image.digest is None
