"""Warnings about example values: a documentation range among the runners' CIDRs, IPv4 or IPv6."""

from __future__ import annotations

import copy
from types import SimpleNamespace

from infra.config.load import read_stack_file, validate_environment
from infra.config.stack_files import ENVIRONMENT_CONFIG_KEY
from infra.plan.warnings import example_values


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
