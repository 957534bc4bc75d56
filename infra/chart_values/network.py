"""Who may talk to whom: the `networkPolicy` values and the address ranges they are built from."""

from __future__ import annotations

import ipaddress
from typing import Any

from infra.config.models import EnvironmentConfig
from infra.versions import KUBERAY_OPERATOR

# Where egress on 443 may go when a policy must reach "the internet" (S3, Hugging Face,
# the managed API): NetworkPolicy cannot name a hostname, so it is everything but the
# private, carrier-grade-NAT and link-local ranges the cluster and its VPC live in.
NON_INTERNET_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
INTERNET = [{"cidr": "0.0.0.0/0", "except": list(NON_INTERNET_RANGES)}]
# An existing cluster's VPC is not in the config: the private ranges stand in for it.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def vpc_cidrs(env: EnvironmentConfig) -> list[str]:
    if env.cluster.mode == "create":
        return [str(ipaddress.ip_network(env.cluster.effective_network.vpc_cidr))]
    return list(PRIVATE_RANGES)


def api_server_addresses(vpc: list[str], service_cidr: str) -> list[str]:
    """Where a pod reaches the Kubernetes API: the `kubernetes` Service's ClusterIP (the first
    address of the Service CIDR) and the control-plane ENIs in the VPC it is translated to; a
    policy may see either, so both are allowed."""
    first = next(ipaddress.ip_network(service_cidr).hosts())
    return [f"{first}/32", *vpc]


def network_policy_values(env: EnvironmentConfig, service_cidr: str) -> dict[str, Any]:
    return {
        "enabled": True,
        "dns": {"namespace": "kube-system", "podLabels": {"k8s-app": "kube-dns"}},
        "prometheus": {
            "namespace": "monitoring",
            "podLabels": {"app.kubernetes.io/name": "prometheus"},
        },
        "kuberayOperatorNamespace": KUBERAY_OPERATOR.namespace,
        "kubeApiServer": [{"cidr": cidr} for cidr in api_server_addresses(vpc_cidrs(env), service_cidr)],
        "weightsEgress": INTERNET,
        "podIdentityAgent": True,
        "redisEgress": [{"cidr": cidr} for cidr in vpc_cidrs(env)],
    }
