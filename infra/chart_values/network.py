"""Who may talk to whom: the `networkPolicy` values and the address ranges they are built from.
Keys, defaults and descriptions live in infra/chart_values/model/network.py."""

from __future__ import annotations

import ipaddress

from infra.chart_values.model.base import IpBlock
from infra.chart_values.model.network import NetworkPolicy, PrometheusPods
from infra.config.models import EnvironmentConfig

# An existing cluster's VPC is not in the config: the private ranges stand in for it.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# The Prometheus Operator labels the pods of every Prometheus it runs so (pkg/prometheus statefulset.go;
# see infra/plan/cluster_objects.py).
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}


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


def network_policy_values(env: EnvironmentConfig, service_cidr: str) -> NetworkPolicy:
    """DNS, the KubeRay operator's namespace, weights egress and the Pod Identity agent keep the
    chart's defaults."""
    return NetworkPolicy(
        prometheus=PrometheusPods(podLabels=dict(PROMETHEUS_POD_LABELS)),
        kubeApiServer=[IpBlock(cidr=cidr) for cidr in api_server_addresses(vpc_cidrs(env), service_cidr)],
        redisEgress=[IpBlock(cidr=cidr) for cidr in vpc_cidrs(env)],
    )
