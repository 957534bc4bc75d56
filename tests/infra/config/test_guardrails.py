"""Tier guardrails (infra/config/tiers.yaml) and the rules across environments: each violation
is one line with key path, value and fix, in the same single error as every other problem."""

from __future__ import annotations

import copy

import pytest
import yaml
from pydantic import ValidationError

from infra.config import ConfigError, environment_from_stack_file, read_stack_file, validate_environment
from infra.config.cross_env import cross_environment_problems
from infra.config.regions import REGIONS_FILE, known_regions
from infra.config.stack_files import ENVIRONMENT_CONFIG_KEY
from infra.config.tiers import Check, Guardrail, load_tiers


def prod() -> dict:
    return copy.deepcopy(read_stack_file("prod")[ENVIRONMENT_CONFIG_KEY])


def refused(raw: dict, stack: str = "prod") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_environment(raw, stack=stack)
    return [p.render() for p in caught.value.problems]


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (lambda d: d["serving"].update(min_replicas=0), "serving.min_replicas: prod tier requires >= 1: a GPU floor"),
        (lambda d: d["gateway"].update(min_replicas=1), "gateway.min_replicas: prod tier requires >= 2"),
        (
            lambda d: d["cluster"]["system_node_group"].update(min_nodes=1),
            "cluster.system_node_group.min_nodes: prod tier requires >= 2",
        ),
        (
            lambda d: d["serving"]["gcs_fault_tolerance"].update(enabled=False),
            "serving.gcs_fault_tolerance.enabled: prod tier requires true",
        ),
        (lambda d: d["serving"].update(upgrade_strategy="None"), 'serving.upgrade_strategy: prod tier requires "NewCluster"'),
        (lambda d: d["node_pools"][0].update(on_demand_floor=0), "node_pools[0].on_demand_floor: prod tier requires >= 1"),
        (
            lambda d: d["fallback"].update(allowed=False),
            "fallback.allowed: prod tier requires fallback.allowed true or fallback.sovereign_only set",
        ),
    ],
)
def test_each_prod_guardrail_is_one_line_with_path_value_and_fix(change, line):
    raw = prod()
    change(raw)
    found = refused(raw)
    (match,) = [p for p in found if p.startswith(line)]
    assert "; set " in match and "(got " in match


def test_the_issues_prod_is_refused_with_every_violation_in_one_error():
    raw = prod()
    raw["serving"].update(min_replicas=0, upgrade_strategy="None")
    raw["serving"]["gcs_fault_tolerance"] = {"enabled": False}
    raw["gateway"]["min_replicas"] = 1
    raw["cluster"]["system_node_group"]["min_nodes"] = 1
    raw["node_pools"][0].update(min_nodes=0, on_demand_floor=0)
    found = refused(raw)
    assert len([p for p in found if "prod tier requires" in p]) == 6, found


def test_the_gateway_defaults_count_for_the_guardrails():
    """A key left out is judged by its default (gateway.min_replicas defaults to 2)."""
    raw = prod()
    del raw["gateway"]
    validate_environment(raw, stack="prod")


def test_a_sovereign_only_statement_replaces_fallback_in_prod_and_needs_fallback_off():
    raw = prod()
    raw["fallback"].update(allowed=False, sovereign_only="customer data stays in our account")
    assert validate_environment(raw, stack="prod").fallback.sovereign_only
    raw["fallback"]["allowed"] = True
    assert any("sovereign_only states that the environment never falls back" in p for p in refused(raw))


def test_an_on_demand_pool_satisfies_the_on_demand_floor():
    raw = prod()
    raw["node_pools"][0].update(capacity_type="on_demand", on_demand_floor=0)
    validate_environment(raw, stack="prod")


def test_dev_may_scale_to_zero_and_unknown_tiers_are_named():
    dev = copy.deepcopy(read_stack_file("dev")[ENVIRONMENT_CONFIG_KEY])
    assert validate_environment(dev, stack="dev").serving.min_replicas == 0
    dev["tier"] = "qa"
    assert refused(dev, "dev") == ["tier: must be one of dev, staging, prod (infra/config/tiers.yaml) (got 'qa')"]
    del dev["tier"]
    assert refused(dev, "dev") == ["tier: required key is missing"]


def test_tiers_are_ordered_and_carry_soak_times():
    tiers = load_tiers()
    assert tiers.ordered() == ["dev", "staging", "prod"]
    assert tiers.tiers["staging"].soak_hours > tiers.tiers["dev"].soak_hours > 0
    assert tiers.tiers["prod"].require_image_digests and not tiers.tiers["dev"].require_image_digests


@pytest.mark.parametrize(
    "rule",
    [
        lambda: Check(key="gateway.min_replicas", min=None),
        lambda: Guardrail(key="gateway.min_replicas", min=None, why="two pods survive a node drain"),
    ],
)
def test_a_rule_with_a_null_min_is_refused_where_the_tiers_are_read(rule):
    # Accepted, it compared every environment's value with None and failed with a TypeError.
    with pytest.raises(ValidationError, match=r"rule on gateway\.min_replicas: min must be a number, not null"):
        rule()


def test_a_copy_of_staging_clashes_on_cluster_cidr_and_cost_center(tmp_path):
    """The issue's Pulumi.perf.yaml, copied from staging, keeps staging's three unique values."""
    staging = read_stack_file("staging")
    for name in ("dev", "staging", "prod"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": read_stack_file(name)}))
    perf = copy.deepcopy(staging)
    perf[ENVIRONMENT_CONFIG_KEY]["name"] = "perf"
    (tmp_path / "Pulumi.perf.yaml").write_text(yaml.safe_dump({"config": perf}))
    with pytest.raises(ConfigError) as caught:
        environment_from_stack_file("perf", tmp_path)
    found = [p.render() for p in caught.value.problems]
    assert (
        "cluster.name: is also staging's cluster: every environment needs its own; pick a new name (got 'gpt-oss-staging')"
        in found
    )
    assert any(p.startswith("cluster.network.vpc_cidr: overlaps staging's 10.41.0.0/16") for p in found)
    assert any(p.startswith("tags.cost-center: is also staging's cost center") for p in found)


def test_overlapping_but_unequal_cidrs_clash():
    mine = {"cluster": {"mode": "create", "name": "a", "network": {"vpc_cidr": "10.41.16.0/20"}}}
    other = {"cluster": {"mode": "create", "name": "b", "network": {"vpc_cidr": "10.41.0.0/16"}}}
    assert [p.path for p in cross_environment_problems("a", mine, {"b": other})] == ["cluster.network.vpc_cidr"]
    other["cluster"]["network"]["vpc_cidr"] = "10.42.0.0/16"
    assert cross_environment_problems("a", mine, {"b": other}) == []


def test_the_region_list_is_botocores():
    """infra/catalog/aws_regions.yaml equals the partitions of the installed botocore
    (botocore/data/endpoints.json): a botocore release that adds a region fails here."""
    import json
    import os

    import botocore

    with open(os.path.join(os.path.dirname(botocore.__file__), "data", "endpoints.json")) as endpoints:
        data = json.load(endpoints)
    expected = {region for partition in data["partitions"] for region in partition["regions"]}
    assert set(known_regions()) == expected, f"regenerate {REGIONS_FILE.name}"
    assert known_regions()["us-east-1"] == "aws" and "us-east-9" not in known_regions()
