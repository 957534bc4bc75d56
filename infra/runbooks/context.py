"""What the runbook templates are filled with, for one environment.

Names follow the program: a GPU pool's managed node groups and Karpenter NodePools are named
exactly `<env>-<pool>-<od|spot>` (node_pool_shape.capacity_group_name; node_pools/eks_managed.py
sets `nodegroupName`), so a runbook names the group and finds its Auto Scaling group with
`aws eks describe-nodegroup` (EKS creates the ASG and names it itself). The system node group is
left to Pulumi's auto-naming (a random suffix): no runbook names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import GATEWAY_PORT, NAMESPACE, RELEASE, ROUTE_OVERRIDE_CONFIGMAP
from infra.capacity import accepted_ranges, replica_sizing
from infra.chart_values.model.serve import Liveness
from infra.chart_values.ray import ray_values, worker_disruption_budget
from infra.chart_values.served_models import with_served_workers
from infra.config.models import EnvironmentConfig
from infra.gateway_settings import shared_store
from infra.node_pool_shape import capacity_group_name, capacity_groups
from infra.versions import KUBE_PROMETHEUS_STACK

MONITORING_NAMESPACE = KUBE_PROMETHEUS_STACK.namespace
PROMETHEUS_SERVICE = "kube-prometheus-stack-prometheus"
GRAFANA_SERVICE = "kube-prometheus-stack-grafana"
ALERTMANAGER_SERVICE = "kube-prometheus-stack-alertmanager"
DASHBOARD_UID = "gpt-oss-serving"  # charts/gpt-oss-serving/dashboards/gpt-oss-serving.json `uid`
LOCAL_GRAFANA = "http://localhost:3000"
PROMETHEUS_PORT = 9090  # kube-prometheus-stack's Prometheus Service port (http-web)
PROMETHEUS_API = f"/api/v1/namespaces/{MONITORING_NAMESPACE}/services/{PROMETHEUS_SERVICE}:{PROMETHEUS_PORT}/proxy/api/v1"
# One instant query, printed as `{labels} value` per series. jq URL-encodes the query (`@uri`):
# PromQL's braces, quotes and spaces cannot go into a URL as they are.
PROMQL_FUNCTION = (
    'promql() { kubectl get --raw "'
    + PROMETHEUS_API
    + '/query?query=$(jq -rn --arg q "$1" \'$q|@uri\')" '
    + "| jq -r '.data.result[] | \"\\(.metric | del(.__name__) | tostring) \\(.value[1])\"'; }"
)


class RunbookConfigError(ValueError):
    """The environment lacks what its runbooks need (names the key and the fix)."""


@dataclass(frozen=True)
class NodeGroup:
    pool: str
    gpu: str
    instance_type: str
    capacity: str
    provisioner: str
    name: str
    min_nodes: int
    max_nodes: int

    @property
    def managed(self) -> bool:
        return self.provisioner == "managed_node_group"


def node_groups(env: EnvironmentConfig) -> list[NodeGroup]:
    out = []
    for pool in env.node_pools:
        for group in capacity_groups(pool):
            out.append(
                NodeGroup(
                    pool=pool.name,
                    gpu=pool.gpu,
                    instance_type=pool.instance_type,
                    capacity=group.capacity,
                    provisioner=pool.provisioner,
                    name=capacity_group_name(env.name, pool.name, group),
                    min_nodes=group.min_nodes,
                    max_nodes=group.max_nodes,
                )
            )
    return out


def liveness_restart() -> dict[str, int]:
    """When the GPU worker's liveness probe (charts/gpt-oss-serving/files/probe_liveness.py)
    restarts a hung engine, in seconds after its last token: the first failed check comes
    `stallSeconds` after it (within one period), the restart after `failureThreshold` failed checks
    in a row. No environment overrides the chart's defaults (infra/chart_values/model/serve.py)."""
    live = Liveness()
    return {
        "stall_s": live.stallSeconds,
        "period_s": live.periodSeconds,
        "failure_threshold": live.failureThreshold,
        "restart_min_s": live.stallSeconds + (live.failureThreshold - 1) * live.periodSeconds,
        "restart_max_s": live.stallSeconds + live.failureThreshold * live.periodSeconds,
    }


def runbook_context(env: EnvironmentConfig) -> dict[str, Any]:
    if env.oncall is None:
        raise RunbookConfigError(
            f"environment {env.name} has no `oncall` section: runbooks name who to escalate to; add oncall "
            f"(team, primary, escalation, channel) to environments/{env.name}.yaml (docs/operating.md)"
        )
    region, cluster = env.region, env.cluster.name
    grafana = env.oncall.grafana_url or LOCAL_GRAFANA
    return {
        "env": env.name,
        "region": region,
        "cluster": cluster,
        "namespace": NAMESPACE,
        "monitoring": MONITORING_NAMESPACE,
        "release": RELEASE,
        # Edits go to the environment's overlay; Pulumi.<env>.yaml is generated from it
        # (`gpt-oss-platform envs render`) and refused by the plan when edited by hand.
        "stack_file": f"environments/{env.name}.yaml",
        "stack_render": f"gpt-oss-platform envs render --env {env.name}",
        "model": env.model.name,
        "model_revision": env.model.revision,
        "model_source": env.model.source,
        "min_replicas": env.serving.min_replicas,
        "max_replicas": env.serving.max_replicas,
        "fallback_allowed": env.fallback.allowed,
        "fallback_model": env.fallback.model,
        "scales_to_zero": env.serving.min_replicas == 0,
        # `enforce`: the cost governor moves min_replicas itself (docs/cost.md "Cost governor"), so
        # the procedures that set or restore a floor say what it will do next.
        "governor_mode": env.governor.mode,
        # What the workers' PodDisruptionBudget keeps ready through a drain, as the chart renders it.
        "workers_kept_ready": worker_disruption_budget(
            with_served_workers(ray_values(env, replica_sizing(env)), env)
        ).rayWorkers.minAvailable,
        "upgrade_strategy": env.serving.upgrade_strategy,
        "kubeconfig": f"aws eks update-kubeconfig --name {cluster} --region {region}",
        # Prometheus through the API server's service proxy: a GET that RBAC can grant on one
        # service (`services/proxy`), no port-forward stream, and the same from every laptop.
        "prometheus_api": PROMETHEUS_API,
        "promql_function": PROMQL_FUNCTION,
        "grafana_forward": None
        if env.oncall.grafana_url
        else f"kubectl -n {MONITORING_NAMESPACE} port-forward svc/{GRAFANA_SERVICE} 3000:80",
        "dashboard_url": f"{grafana}/d/{DASHBOARD_UID}",
        "gateway_forward": f"kubectl -n {NAMESPACE} port-forward svc/{RELEASE}-gateway {GATEWAY_PORT}",
        "route_override_configmap": ROUTE_OVERRIDE_CONFIGMAP,
        "node_groups": node_groups(env),
        "liveness": liveness_restart(),
        "oncall": env.oncall,
        # Whether the gateway pods share limits and spend through Redis (infra/gateway_settings.py).
        "shared_store": shared_store(env) is not None,
        # The values of the capacity keys the plan accepts (infra/capacity.py): advice to lower or
        # raise one names the range, so the edit it suggests is never refused by the plan.
        "capacity": accepted_ranges(env),
    }
