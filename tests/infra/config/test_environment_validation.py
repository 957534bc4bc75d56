"""The environment config rejects bad input with every problem, its key path and its value."""

from __future__ import annotations

import copy
import re

import pytest

from infra.config import ConfigError, environment_from_stack_file, read_stack_file, validate_environment
from infra.config.load import PROJECT


def stack_env(name: str) -> dict:
    return copy.deepcopy(read_stack_file(name)[f"{PROJECT}:environment"])


def problems_of(raw: dict, stack: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw, stack=stack)
    return [p.render() for p in caught.value.problems]


def only(problems: list[str], path: str) -> str:
    matching = [p for p in problems if p.startswith(f"{path}:")]
    assert matching, f"no problem at {path}; got {problems}"
    return matching[0]


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_committed_stack_file_is_valid(name):
    env = environment_from_stack_file(name)
    assert env.name == name


def test_defaults_match_the_issue(tmp_path):
    dev, staging, prod = (environment_from_stack_file(n) for n in ("dev", "staging", "prod"))
    assert (dev.model.name, dev.node_pools[0].instance_type, dev.node_pools[0].capacity_type) == (
        "gpt-oss-20b",
        "g6.xlarge",
        "spot",
    )
    assert dev.node_pools[0].min_nodes == 0 and dev.serving.min_replicas == 0, "dev scales to zero"
    assert (prod.model.name, prod.node_pools[0].instance_type) == ("gpt-oss-120b", "p5.4xlarge")
    assert prod.node_pools[0].on_demand_floor == 2 and prod.node_pools[0].capacity_type == "spot"
    assert staging.model.name == prod.model.name and staging.node_pools[0].max_nodes < prod.node_pools[0].max_nodes


def test_the_three_problems_of_the_issue_come_in_one_message():
    raw = stack_env("dev")
    raw["model"].update(name="gpt-oss-120b", revision=stack_env("prod")["model"]["revision"])  # 120b on one L4
    raw["node_pools"][0]["instance_typ"] = raw["node_pools"][0].pop("instance_type")  # misspelled key
    raw["node_pools"][0]["instance_type"] = "g6.xlarge"
    del raw["tags"]["cost-center"]
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw, stack="dev")
    message = str(caught.value)
    assert "node_pools[0].instance_typ: unknown key; did you mean 'instance_type'?" in message
    assert "tags.cost-center: required key is missing" in message
    assert "gpt-oss-120b cannot be served on g6.xlarge (1x L4)" in message
    assert "p5.4xlarge (1x H100 per node, TP=1" in message, "the refusal suggests what would work"
    assert message.startswith("environment config has 3 problems")


def test_switching_the_model_without_its_revision_is_refused_and_sizing_still_judged():
    raw = stack_env("dev")
    raw["model"]["name"] = "gpt-oss-120b"
    problems = problems_of(raw)
    assert "is the pinned commit of gpt-oss-20b" in only(problems, "model")
    assert "cannot be served on g6.xlarge" in only(problems, "node_pools[0].instance_type")


def test_a_misspelled_top_level_key_is_named_with_a_suggestion():
    raw = stack_env("prod")
    raw["servng"] = raw.pop("serving")
    problems = problems_of(raw)
    assert "did you mean 'serving'" in only(problems, "servng")
    assert only(problems, "serving") == "serving: required key is missing"


@pytest.mark.parametrize(
    ("path", "mutate", "expected"),
    [
        ("name", lambda r: r.update(name="Prod!"), "String should match pattern"),
        ("region", lambda r: r.update(region="useast1"), "String should match pattern"),
        ("cluster.mode", lambda r: r["cluster"].update(mode="adopt"), "Input should be 'create' or 'existing'"),
        ("cluster.kubernetes_version", lambda r: r["cluster"].update(kubernetes_version="1.21"), "must be one of"),
        ("cluster.network.vpc_cidr", lambda r: r["cluster"]["network"].update(vpc_cidr="10.0.0.0/8"), "must be a /16 to /20"),
        (
            "cluster.network.availability_zones",
            lambda r: r["cluster"]["network"].update(availability_zones=5),
            "less than or equal to 3",
        ),
        (
            "cluster.system_node_group.instance_type",
            lambda r: r["cluster"]["system_node_group"].update(instance_type="g6.xlarge"),
            "not a CPU instance type",
        ),
        (
            "cluster",
            lambda r: r["cluster"].update(subnet_ids=["subnet-0123456789abcdef0"]),
            "subnet_ids is only for mode `existing`",
        ),
        ("model.revision", lambda r: r["model"].update(revision="main"), "String should match pattern"),
        ("model.name", lambda r: r["model"].update(name="llama-3"), "Input should be 'gpt-oss-20b' or 'gpt-oss-120b'"),
        ("node_pools[0].gpu", lambda r: r["node_pools"][0].update(gpu="TPU"), "unknown GPU"),
        (
            "node_pools[0].instance_type",
            lambda r: r["node_pools"][0].update(instance_type="m7i.large"),
            "not a GPU instance type",
        ),
        ("node_pools[0]", lambda r: r["node_pools"][0].update(gpu="H100"), "carries L4, not H100"),
        ("node_pools[0]", lambda r: r["node_pools"][0].update(min_nodes=3), "min_nodes (3) is above max_nodes (2)"),
        ("node_pools[0]", lambda r: r["node_pools"][0].update(on_demand_floor=1), "on_demand_floor (1) is above min_nodes (0)"),
        (
            "node_pools[0]",
            lambda r: r["node_pools"][0].update(capacity_type="on_demand", on_demand_floor=1, min_nodes=1),
            "only applies to capacity_type spot",
        ),
        (
            "node_pools[0].provisioner",
            lambda r: r["node_pools"][0].update(provisioner="fargate"),
            "'managed_node_group' or 'karpenter'",
        ),
        ("node_pools", lambda r: r.update(node_pools=[]), "at least 1 item"),
        ("serving", lambda r: r["serving"].update(min_replicas=2), "min_replicas (2) is above max_replicas (1)"),
        ("serving.tensor_parallel", lambda r: r["serving"].update(tensor_parallel=3), "must be 1, 2, 4 or 8"),
        ("serving.max_model_len", lambda r: r["serving"].update(max_model_len=262144), "less than or equal to 131072"),
        (
            "serving.gpu_memory_utilization",
            lambda r: r["serving"].update(gpu_memory_utilization=0.99),
            "less than or equal to 0.98",
        ),
        ("serving.upgrade_strategy", lambda r: r["serving"].update(upgrade_strategy="Rolling"), "'NewCluster'"),
        (
            "serving.gcs_fault_tolerance",
            lambda r: r["serving"].update(gcs_fault_tolerance={"enabled": True, "redis": "external"}),
            "redis_address is required",
        ),
        (
            "serving.gcs_fault_tolerance",
            lambda r: r["serving"].update(gcs_fault_tolerance={"enabled": True, "redis_address": "r:6379"}),
            "`managed` makes its own",
        ),
        (
            "serving.gcs_fault_tolerance",
            lambda r: r["serving"].update(gcs_fault_tolerance={"enabled": True, "redis_node_type": "cache.x9.huge"}),
            "not in the catalog",
        ),
        ("observability.retention", lambda r: r.update(observability={"retention": "forever"}), "String should match pattern"),
        ("fallback.model", lambda r: r["fallback"].update(model="gpt-9"), "no price for it"),
        ("fallback.base_url", lambda r: r["fallback"].update(base_url="http://api.openai.com/v1"), "must be an https:// URL"),
        ("gateway", lambda r: r["gateway"].update(min_replicas=3, max_replicas=2), "min_replicas (3) is above max_replicas (2)"),
        ("tags.owner", lambda r: r["tags"].update(owner="jane@example.com"), "Kubernetes label value"),
        ("tags.extra", lambda r: r["tags"].update(extra={"CostCenter": "x"}), "keys must be lower-case"),
        ("budget.monthly_usd", lambda r: r["budget"].update(monthly_usd=0), "greater than 0"),
        ("budget.notify_emails", lambda r: r["budget"].update(notify_emails=["finance"]), "not email addresses: finance"),
        ("budget.notify_emails", lambda r: r["budget"].update(notify_emails=[]), "at least 1 item"),
        (
            "serving.release_managed_by",
            lambda r: r["serving"].update(release_managed_by="argo"),
            "Input should be 'pulumi' or 'gitops'",
        ),
    ],
)
def test_each_bad_value_is_named_with_its_path(path, mutate, expected):
    raw = stack_env("dev")
    mutate(raw)
    assert expected in only(problems_of(raw), path)


def test_the_bad_value_is_shown():
    raw = stack_env("dev")
    raw["region"] = "useast1"
    assert "(got 'useast1')" in only(problems_of(raw), "region")


def test_gpu_names_are_normalised():
    raw = stack_env("dev")
    raw["node_pools"][0]["instance_type"] = "g5.xlarge"
    raw["node_pools"][0]["gpu"] = "a10"
    assert validate_environment(raw).node_pools[0].gpu == "A10G"


def test_stack_name_must_match_the_environment():
    assert "must equal the stack name 'prod'" in only(problems_of(stack_env("dev"), stack="prod"), "name")


def test_any_model_on_t4_is_refused_with_a_reason():
    raw = stack_env("dev")
    raw["node_pools"][0].update(gpu="T4", instance_type="g4dn.xlarge")
    message = only(problems_of(raw), "node_pools[0].instance_type")
    assert "compute capability 7.5" in message and "g6.xlarge" in message


def test_max_replicas_must_fit_the_pool():
    raw = stack_env("dev")
    raw["serving"]["max_replicas"] = 3
    assert "holds at most 2 replicas" in only(problems_of(raw), "serving.max_replicas")


def test_blue_green_upgrades_need_gpu_headroom():
    raw = stack_env("prod")
    raw["node_pools"][0]["max_nodes"] = 2
    raw["serving"]["max_replicas"] = 2
    message = only(problems_of(raw), "serving.upgrade_strategy")
    assert "needs room for 4 replicas" in message and "holds 2" in message


def test_karpenter_floor_must_match_min_replicas():
    raw = stack_env("staging")
    raw["node_pools"][0]["min_nodes"] = 2
    raw["node_pools"][0]["max_nodes"] = 3
    assert "set min_nodes to 1" in only(problems_of(raw), "node_pools[0].min_nodes")


def test_serving_pool_must_exist_when_there_are_several():
    raw = stack_env("dev")
    second = copy.deepcopy(raw["node_pools"][0])
    second["name"] = "gpu-l4-b"
    raw["node_pools"].append(second)
    assert "required when there are several node pools" in only(problems_of(raw), "serving.node_pool")
    raw["serving"]["node_pool"] = "nope"
    assert "no node pool of that name" in only(problems_of(raw), "serving.node_pool")


def test_duplicate_pool_names_are_refused():
    raw = stack_env("dev")
    raw["node_pools"].append(copy.deepcopy(raw["node_pools"][0]))
    raw["serving"]["node_pool"] = "gpu-l4"
    assert "duplicates node_pools[0]" in only(problems_of(raw), "node_pools[1].name")


def test_an_environment_that_is_not_a_mapping_is_refused():
    assert problems_of("dev") == ["environment: must be a mapping of settings (got 'dev')"]


def test_a_missing_stack_file_names_the_stacks_that_exist(tmp_path):
    from support.environments import build_environments

    root = build_environments(tmp_path / "repo")
    with pytest.raises(ConfigError, match=re.escape("no stack file Pulumi.qa.yaml; stacks: dev, prod, staging")):
        environment_from_stack_file("qa", root)


# --- How the runner reaches the API, and how clients reach the gateway (issue #7) ----------------


def test_a_public_endpoint_needs_the_runners_cidrs():
    raw = stack_env("dev")
    raw["cluster"]["api_access"] = {"mode": "public"}
    assert "public_cidrs is required with mode `public`" in only(problems_of(raw), "cluster.api_access")
    raw["cluster"]["api_access"] = {"mode": "public", "public_cidrs": ["10.0.0.1/16"]}
    assert "'10.0.0.1/16' is not a network in CIDR notation" in only(problems_of(raw), "cluster.api_access.public_cidrs")


def test_a_private_endpoint_cannot_serve_a_cluster_the_same_up_creates():
    """The first release created a private-only endpoint in a VPC of its own: nothing outside could
    reach the API to install the charts."""
    raw = stack_env("dev")
    raw["cluster"]["api_access"] = {"mode": "private"}
    message = only(problems_of(raw), "cluster")
    assert "cannot be inside a VPC that this `up` creates" in message and "switch to `private`" in message
    raw["cluster"] = {"mode": "existing", "name": "shared", "api_access": {"mode": "private"}}
    assert validate_environment(raw, stack="dev").cluster.api_access.mode == "private"


def test_the_service_cidr_must_not_overlap_the_vpc():
    raw = stack_env("dev")
    raw["cluster"]["network"]["service_cidr"] = "10.40.128.0/20"
    assert "overlaps vpc_cidr 10.40.0.0/16" in only(problems_of(raw), "cluster.network")


def test_an_enabled_gateway_ingress_needs_a_certificate_and_an_internet_facing_one_an_allow_list():
    raw = stack_env("dev")
    raw.setdefault("gateway", {})["ingress"] = {"enabled": True}
    assert "certificate_arn is required when enabled" in only(problems_of(raw), "gateway.ingress")
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    raw["gateway"]["ingress"] = {"enabled": True, "scheme": "internet-facing", "certificate_arn": certificate}
    assert "needs source_cidrs" in only(problems_of(raw), "gateway.ingress")
    raw["gateway"]["ingress"]["source_cidrs"] = ["198.51.100.0/24"]
    assert validate_environment(raw, stack="dev").gateway.ingress.source_cidrs == ["198.51.100.0/24"]


def test_the_gateway_image_is_pinned_by_digest():
    raw = stack_env("dev")
    raw.setdefault("gateway", {})["image"] = {"digest": "latest"}
    assert "should match pattern" in only(problems_of(raw), "gateway.image.digest")


def test_admin_roles_are_role_arns_listed_once():
    raw = stack_env("dev")
    role = "arn:aws:iam::123456789012:role/platform-oncall"
    raw["cluster"]["admin_role_arns"] = [role, role]
    assert "lists a role twice" in only(problems_of(raw), "cluster.admin_role_arns")
    raw["cluster"]["admin_role_arns"] = ["arn:aws:iam::123456789012:user/bob"]
    assert "not IAM role ARNs" in only(problems_of(raw), "cluster.admin_role_arns")
