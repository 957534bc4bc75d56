"""What the plan points out without failing: values to replace before a real `pulumi up`, parts it
could not check, estimates worth a look."""

from __future__ import annotations

import ipaddress
import math
import re
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from infra.catalog import load_catalog
from infra.catalog.node_images import load_node_images
from infra.config import EnvironmentConfig
from infra.config.bootstrap import bootstrap_messages
from infra.cost.compare import configured_tensor_parallel_note
from infra.cost.prices import priced_catalog
from infra.plan.cost import control_plane_warnings
from infra.plan.mocks import ACCOUNT
from infra.plan.runner import ProgramRun
from infra.plan.third_party import UpstreamRelease

# Documentation ranges (RFC 5737, RFC 3849): fine in examples, never a real runner or client.
DOCUMENTATION_RANGES = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")


def _documentation_cidrs(cidrs: list[str]) -> list[str]:
    ranges = [ipaddress.ip_network(d) for d in DOCUMENTATION_RANGES]
    return [c for c in cidrs if any(_within(ipaddress.ip_network(c), r) for r in ranges)]


def _within(network: IPv4Network | IPv6Network, outer: IPv4Network | IPv6Network) -> bool:
    """Whether `network` lies in `outer`; never across IP versions, where subnet_of() raises TypeError."""
    if isinstance(network, IPv4Network) and isinstance(outer, IPv4Network):
        return network.subnet_of(outer)
    if isinstance(network, IPv6Network) and isinstance(outer, IPv6Network):
        return network.subnet_of(outer)
    return False


def example_values(run: ProgramRun) -> list[str]:
    """Values of the committed examples that a real deployment must replace."""
    env = run.env
    found = []
    for cidr in _documentation_cidrs(env.cluster.api_access.public_cidrs):
        found.append(f"cluster.api_access.public_cidrs holds {cidr}, a documentation range: list your runners' egress")
    certificate = env.gateway.ingress.certificate_arn or ""
    if f":{ACCOUNT}:" in certificate:
        found.append(
            f"gateway.ingress.certificate_arn {certificate} is a placeholder (account {ACCOUNT}): use your ACM certificate"
        )
    examples = [e for e in env.budget.notify_emails if re.search(r"@example\.(com|org|net)$", e)]
    if examples:
        found.append(f"budget.notify_emails {', '.join(examples)} are example addresses: nobody receives the alerts")
    return found


# Disk a node needs besides the Ray image: the OS, kubelet, logs and the other images (assumption).
NODE_BASE_DISK_GIB = 20


def image_lines(env: EnvironmentConfig) -> list[str]:
    """What the Ray image costs a new node: time of the first pull, and disks too small to hold it."""
    image = load_node_images().ray_image
    source = "the account's ECR pull-through cache" if env.account.image_cache != "off" else "Docker Hub through the NAT"
    found = [
        f"first pull of the Ray image {image.tag} (~{image.compressed_gb:g} GB compressed) from {source}: "
        f"~{image.first_pull_minutes():.0f} min per new node at an assumed {image.assumed_pull_mb_per_s:g} MB/s "
        "(infra/catalog/eks_amis.yaml), before the weights load"
    ]
    need = math.ceil(image.disk_gb() + NODE_BASE_DISK_GIB)
    disks = [("cluster.system_node_group.disk_size_gib (the Ray head's nodes)", env.cluster.system_node_group.disk_size_gib)]
    disks += [(f"node_pools[{i}].disk_size_gib", pool.disk_size_gib) for i, pool in enumerate(env.node_pools)]
    for key, size in disks:
        if size < need:
            found.append(
                f"{key} is {size} GiB: the Ray image takes ~{image.disk_gb():.0f} GB on disk (compressed layers and "
                f"unpacked snapshot) plus ~{NODE_BASE_DISK_GIB} GiB for the rest; set it to at least {need}"
            )
    return found


def sizing_warnings(env: EnvironmentConfig) -> list[str]:
    """A wider tensor-parallel size that serves more per GPU on a multi-GPU node (the sizing picks
    the smallest that fits: infra/sizing.py), as `cost compare` suggests it."""
    suggestion = configured_tensor_parallel_note(env, priced_catalog(load_catalog()))
    if suggestion is None:
        return []
    return [f"sizing {suggestion} (`gpt-oss-platform cost compare --env {env.name} --tensor-parallel N` prices both)"]


def plan_warnings(run: ProgramRun, money: dict[str, Any], upstream: list[UpstreamRelease]) -> list[str]:
    """Things worth a look that do not fail the plan."""
    # Before the first image build `pulumi up` leaves the serving release out (the plan renders it
    # with a placeholder digest to check it): say what is missing and what to do next.
    found = [f"bootstrap: {message}" for message in bootstrap_messages(run.env)]
    found += example_values(run)
    found += image_lines(run.env)
    for release in upstream:
        found += [f"Helm release {release.name}: not checked offline: {part}" for part in release.not_rendered]
    budget = run.env.budget.monthly_usd
    if budget < money["max"]:
        found.append(
            f"budget.monthly_usd ${budget:,.2f} is below the estimated maximum ${money['max']:,.2f}: "
            "the budget alerts fire before the pools reach max_nodes"
        )
    found += control_plane_warnings(money)
    found += sizing_warnings(run.env)
    if money["assumptions"]["region_prices"] != run.env.region:
        found.append(
            f"prices are {money['assumptions']['region_prices']} list prices; {run.env.region} differs "
            "(add the region to infra/catalog to estimate it exactly)"
        )
    return found
