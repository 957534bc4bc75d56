"""The cost governor's chart values (templates/governor.yaml): enabled unless `governor.mode` is
`off`, in the environment's mode, with the controller's settings computed here: the cost model
from the same code as `cost compare` (infra/cost/governor/build.py) and the objects it reads and
patches. The settings are validated against the controller's own model before they are written."""

from __future__ import annotations

from contracts import NAMESPACE, RELEASE, ROUTE_OVERRIDE_CONFIGMAP
from infra.catalog import load_catalog
from infra.chart_values.model.governor import Governor, GovernorImage, GovernorNodePool, GovernorPodMonitor
from infra.config.models import EnvironmentConfig
from infra.cost.governor.build import cost_model
from infra.cost.governor.model import hourly_cost_dict
from infra.cost.prices import priced_catalog
from infra.cost.throughput import MeasuredThroughput, load_measured
from infra.node_pool_shape import capacity_group_name, capacity_groups
from infra.operate.governor.settings import ControllerSettings
from infra.paths import REPO_ROOT
from infra.versions import KUBE_PROMETHEUS_STACK

PROMETHEUS_URL = f"http://kube-prometheus-stack-prometheus.{KUBE_PROMETHEUS_STACK.namespace}.svc:9090"
# The Serve application in serveConfigV2 is named after the release (templates/_helpers.tpl serveConfig).
SERVE_APPLICATION = RELEASE


def elastic_group(env: EnvironmentConfig) -> tuple[str, int]:
    """The node group whose minimum carries the floor, by the name EKS knows it by (the program
    sets it: infra/components/node_pools/eks_managed.py), and the nodes pinned beside it (a spot
    pool's on-demand floor is its own group with min = max: infra/node_pool_shape.py)."""
    pool = env.serving_pool()
    groups = capacity_groups(pool)
    elastic = groups[-1]
    pinned = sum(g.min_nodes for g in groups[:-1])
    return capacity_group_name(env.name, pool.name, elastic), pinned


def lowest_node_floor(env: EnvironmentConfig) -> int:
    """The fewest GPU nodes of the serving pool the governor in enforce mode can leave: its lowest
    floor (the cost model's `min_floor`: the tier's minimum, the configured sovereign floor) in
    nodes, and never fewer than the pinned on-demand group. GptOssGpuNodePoolBelowFloor compares
    the serving pool with this in enforce mode (infra/chart_values/alerts.py), since a floor the
    governor lowered is a decision, not a lost node."""
    model = cost_model(env, priced_catalog(load_catalog()), measured=measured_throughput(env))
    _, pinned = elastic_group(env)
    return max(pinned, model.shape.nodes_for(model.min_floor))


def measured_throughput(env: EnvironmentConfig) -> list[MeasuredThroughput] | None:
    """The figures of `governor.measured_throughput` (a file `bench replica --collect` wrote), or
    None when the environment names none; CostInputError (a ValueError) naming the file when it
    cannot be read."""
    path = env.governor.measured_throughput
    return load_measured(REPO_ROOT / path, origin="governor.measured_throughput") if path else None


def governor_values(env: EnvironmentConfig, image: str | None = None) -> Governor:
    """The governor's values; left out (disabled) when its mode is `off` or when no image pinned by
    digest is given: the program passes none until the image workflow has recorded a digest
    (infra/config/bootstrap.py), so a release never pulls an image that was not built."""
    config = env.governor
    # Read before the early return, so a wrong path fails every plan, not only the first with an image.
    measured = measured_throughput(env)
    if config.mode == "off" or not image:
        return Governor(enabled=False)
    repository, _, digest = image.partition("@")
    if not repository or not digest:
        raise ValueError(f"governor image must be repository@sha256:<digest>, got {image!r}")
    pool = env.serving_pool()
    group, pinned = elastic_group(env)
    node_pool = group if pool.provisioner == "managed_node_group" else pool.name
    model = cost_model(env, priced_catalog(load_catalog()), measured=measured)
    settings = ControllerSettings.model_validate(
        {
            "environment": env.name,
            "interval_s": config.interval_s,
            "policy": {
                "mode": config.mode,
                "horizon_hours": config.horizon_hours,
                "min_dwell_minutes": config.min_dwell_minutes,
                "max_changes_per_day": config.max_changes_per_day,
                "hysteresis_usd_per_month": config.hysteresis_usd_per_month,
                "sovereign_learning_hours": config.sovereign_learning_hours,
            },
            "prometheus": {
                "url": PROMETHEUS_URL,
                "environment": env.name,
                "history_days": config.history_days,
                "sovereign_teams": list(config.sovereign_teams),
            },
            "target": {
                "namespace": NAMESPACE,
                "rayservice": RELEASE,
                "application": SERVE_APPLICATION,
                "route_override_configmap": ROUTE_OVERRIDE_CONFIGMAP,
                "lease": "gpt-oss-governor",
                "provisioner": pool.provisioner,
                "node_pool": node_pool,
                "pinned_nodes": pinned,
                "cluster_name": env.cluster.name,
                "region": env.region,
            },
            "cost_model": hourly_cost_dict(model),
        }
    )
    return Governor(
        enabled=True,
        mode=config.mode,
        # Pulled by digest only: the tag is the placeholder chart default, not what CI pushed.
        image=GovernorImage(repository=repository, tag="", digest=digest),
        nodePool=GovernorNodePool(
            provisioner=pool.provisioner,
            name=node_pool,
            clusterName=env.cluster.name if pool.provisioner == "managed_node_group" else "",
            region=env.region if pool.provisioner == "managed_node_group" else "",
        ),
        nodeSelector={},
        podMonitor=GovernorPodMonitor(enabled=True),
        settings=settings.model_dump(mode="json"),
    )
