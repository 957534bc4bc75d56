"""Warnings about example values: a documentation range among the runners' CIDRs, IPv4 or IPv6."""

from __future__ import annotations

import copy
from types import SimpleNamespace

from infra.config.load import read_stack_file, validate_environment
from infra.config.stack_files import ENVIRONMENT_CONFIG_KEY
from infra.plan.warnings import example_values, sizing_warnings


def with_public_cidrs(cidrs: list[str]) -> SimpleNamespace:
    raw = copy.deepcopy(read_stack_file("dev")[ENVIRONMENT_CONFIG_KEY])
    raw["cluster"]["api_access"] = {"mode": "public", "public_cidrs": cidrs}
    return SimpleNamespace(env=validate_environment(raw, stack="dev"))


def test_documentation_ranges_are_named_in_either_ip_version_and_real_ranges_are_not():
    run = with_public_cidrs(["2001:db8:1::/48", "2a00:1450::/32", "203.0.113.0/24", "10.20.0.0/16"])
    flagged = [w for w in example_values(run) if "a documentation range" in w]
    # An IPv6 CIDR used to make the check itself fail (subnet_of raises TypeError across versions).
    assert flagged == [
        "cluster.api_access.public_cidrs holds 2001:db8:1::/48, a documentation range: list your runners' egress",
        "cluster.api_access.public_cidrs holds 203.0.113.0/24, a documentation range: list your runners' egress",
    ]


def test_the_plan_suggests_tp2_for_120b_filling_a_p5_48xlarge_and_nothing_on_one_gpu_nodes():
    """GPUStack measured gpt-oss-120b on H100 at TP=2 serving more per GPU than TP=1: on a full
    8-GPU node the plan says so (as `cost compare` does); on prod's one-GPU p5.4xlarge there is no
    wider size to suggest."""
    raw = copy.deepcopy(read_stack_file("prod")[ENVIRONMENT_CONFIG_KEY])
    assert sizing_warnings(validate_environment(raw, stack="prod")) == []
    raw["node_pools"] = [dict(pool, instance_type="p5.48xlarge") for pool in raw["node_pools"]]
    found = sizing_warnings(validate_environment(raw, stack="prod"))
    assert len(found) == 1 and "4 replicas of TP=2" in found[0] and "serving.tensor_parallel: 2" in found[0], found
    raw["serving"] = {**raw["serving"], "tensor_parallel": 2}
    assert sizing_warnings(validate_environment(raw, stack="prod")) == []
