"""Rules across environments: each has its own cluster, its own address space, its own cost center.

A new environment copied from another (the `perf` copied from `staging` of the issue) keeps the
original's cluster name, VPC CIDR and cost center unless told otherwise: two stacks then fight
over one EKS cluster, peering and VPN routes break on overlapping CIDRs, and finance books one
environment's spend on another.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from infra.config.errors import Problem, problem


def _get(env: Any, *keys: str) -> Any:
    node = env
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _network(env: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if _get(env, "cluster", "mode") != "create":
        return None
    # A new cluster without `network` gets the model's default CIDR (NetworkConfig.vpc_cidr).
    from infra.config.models import NetworkConfig

    cidr = _get(env, "cluster", "network", "vpc_cidr") or NetworkConfig.model_fields["vpc_cidr"].default
    try:
        return ipaddress.ip_network(str(cidr), strict=True)
    except ValueError:
        return None  # the model reports a malformed CIDR


def cross_environment_problems(name: str, env: Any, others: dict[str, Any]) -> list[Problem]:
    """Problems of environment `name` (raw config) against every other environment's raw config."""
    found: list[Problem] = []
    cluster = _get(env, "cluster", "name")
    cost_center = _get(env, "tags", "cost-center")
    network = _network(env)
    for other_name, other in sorted(others.items()):
        if other_name == name:
            continue
        if cluster is not None and cluster == _get(other, "cluster", "name"):
            found.append(
                problem(
                    "cluster.name", f"is also {other_name}'s cluster: every environment needs its own; pick a new name", cluster
                )
            )
        other_network = _network(other)
        # An environment that leaves its VPC range to the default (an unfinished `new-env`) is
        # told so by its own validation; another one that set its range is not wrong for it.
        explicit = _get(env, "cluster", "network", "vpc_cidr") is not None
        if explicit and _get(other, "cluster", "network", "vpc_cidr") is None:
            other_network = None
        if network is not None and other_network is not None and network.overlaps(other_network):
            found.append(
                problem(
                    "cluster.network.vpc_cidr",
                    f"overlaps {other_name}'s {other_network}: peering, VPN and transit routes need disjoint ranges; "
                    "pick a range no other environment uses",
                    str(network),
                )
            )
        if cost_center is not None and cost_center == _get(other, "tags", "cost-center"):
            found.append(
                problem(
                    "tags.cost-center",
                    f"is also {other_name}'s cost center: each environment books its spend on its own; set this environment's",
                    cost_center,
                )
            )
    return found
