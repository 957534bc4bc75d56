"""The RayCluster the RayService runs: `ray` (head and GPU worker group sized for the environment)
and `rayService` (upgrade strategy, GCS fault tolerance) values. Keys, defaults and descriptions
live in infra/chart_values/model/ray.py; this module decides what differs per environment."""

from __future__ import annotations

from typing import cast

from contracts import NODE_POOL_LABEL, SYSTEM_POOL
from infra.catalog import load_catalog
from infra.chart_values.model.base import AcceleratorType, Resources
from infra.chart_values.model.ray import (
    GcsFaultTolerance,
    PodDisruptionBudget,
    Ray,
    RayHead,
    RayService,
    RayWorkersDisruption,
    Toleration,
    UpgradeStrategy,
    WorkerGroup,
)
from infra.config.models import EnvironmentConfig
from infra.node_pool_shape import GPU_TOLERATION
from infra.sizing import ReplicaSizing


def upgrade_gpu_headroom(env: EnvironmentConfig, sizing: ReplicaSizing) -> int:
    """Spare GPUs an upgrade of rayClusterConfig needs on top of what is serving.

    NewCluster (blue/green) starts a whole second RayCluster with the warm replicas
    (`min_replicas`, at least one) before traffic moves; `None` replaces nothing.
    """
    if env.serving.upgrade_strategy == "NewCluster":
        return max(env.serving.min_replicas, 1) * sizing.gpus_per_replica
    return 0


def head_resources(env: EnvironmentConfig) -> Resources:
    """The head runs GCS, the dashboard, the Serve controller and a proxy, but no replica
    (num-cpus 0). It takes at most a quarter of a system node's CPUs and half its memory."""
    instance = load_catalog().instances[env.cluster.system_node_group.instance_type]
    cpu = max(1, instance.vcpu // 4)
    memory = max(4, min(8, int(instance.memory_gib // 2)))
    return Resources(cpu=str(cpu), memory=f"{memory}Gi")


def cache_size_limit_gi(weights_gb: float) -> int:
    """emptyDir for the downloaded weights, compile caches and logs: weights x 1.5 + 20 GiB."""
    return int(weights_gb * 1.5) + 20


def object_store_bytes(memory_gib: int) -> int:
    """Ray's object store holds only request/response objects for Serve LLM: 10% of the pod's
    memory (at least 1 GiB) instead of Ray's default 30%, which vLLM needs for loading."""
    return max(1, memory_gib // 10) * 1024**3


def worker_group(env: EnvironmentConfig, sizing: ReplicaSizing) -> WorkerGroup:
    """The one GPU worker group: one pod per model replica, on the serving pool's nodes."""
    pool = env.serving_pool()
    serving = env.serving
    return WorkerGroup(
        name=pool.name,
        nodeSelector={NODE_POOL_LABEL: pool.name},
        tolerations=[Toleration.model_validate(GPU_TOLERATION)],
        # Ray Serve autoscaling drives the count between these bounds.
        replicas=serving.min_replicas,
        minReplicas=serving.min_replicas,
        maxReplicas=serving.max_replicas,
        gpus=sizing.gpus_per_replica,
        cpu=str(sizing.worker_cpu),
        memory=f"{sizing.worker_memory_gib}Gi",
        # The catalog's name as a str; the model checks it is one Ray knows.
        acceleratorType=cast(AcceleratorType, sizing.ray_accelerator),
        objectStoreMemoryBytes=object_store_bytes(sizing.worker_memory_gib),
        cacheSizeLimit=f"{cache_size_limit_gi(load_catalog().models[env.model.name].weights_gb)}Gi",
    )


def ray_values(env: EnvironmentConfig, sizing: ReplicaSizing) -> Ray:
    """Image, service accounts, autoscaler and pod annotations keep the chart's defaults."""
    return Ray(
        head=RayHead(resources=head_resources(env), nodeSelector={NODE_POOL_LABEL: SYSTEM_POOL}),
        workerGroups=[worker_group(env, sizing)],
    )


def gcs_fault_tolerance(env: EnvironmentConfig, gcs_redis_address: str | None) -> GcsFaultTolerance:
    ft = env.serving.gcs_fault_tolerance
    if ft.managed and not gcs_redis_address:
        raise ValueError(
            "serving.gcs_fault_tolerance.redis is 'managed' but no Redis address was given: the Pulumi program "
            "passes the ElastiCache endpoint it creates (`pulumi stack output gcs_redis_address`)"
        )
    return GcsFaultTolerance(
        enabled=ft.enabled,
        redisAddress=(gcs_redis_address if ft.managed else ft.redis_address) or "",
        redisPasswordSecret=ft.redis_password_secret or "",
    )


def ray_service_values(env: EnvironmentConfig, sizing: ReplicaSizing, gcs_redis_address: str | None) -> RayService:
    return RayService(
        upgradeStrategy=UpgradeStrategy(
            # NewClusterWithIncrementalUpgrade is refused at the config boundary (ServingConfig).
            type=env.serving.upgrade_strategy,
            gpuHeadroom=upgrade_gpu_headroom(env, sizing),
        ),
        # With warm replicas, traffic enters only through GPU workers' proxies; a pool that
        # scales to zero keeps the head in the Service so a request can wake it.
        excludeHeadPodFromServeSvc=env.serving.min_replicas > 0,
        gcsFaultTolerance=gcs_fault_tolerance(env, gcs_redis_address),
    )


def worker_disruption_budget(ray: Ray) -> PodDisruptionBudget:
    """The GPU workers' budget: a node drain may take workers while at least the warm floor less
    one stay ready, so it goes one replica at a time at the floor and never strands it.

    An integer `minAvailable`: the disruption controller computes it from the pods it sees, where
    `maxUnavailable` (or a percentage) needs the scale of the pods' controller, and a RayCluster
    has no scale subresource (KubeRay v1.7.0 CRD: `subresources: status` only), so that budget's
    sync fails and it allows 0 disruptions (kubernetes pkg/controller/disruption/disruption.go
    `getExpectedPodCount`, `getScaleController`, `failSafe`; ray-project/kuberay#2662): every
    drain of a node holding a ready worker would wait forever."""
    warm = sum(group.minReplicas for group in ray.workerGroups)
    return PodDisruptionBudget(rayWorkers=RayWorkersDisruption(minAvailable=max(warm - 1, 0)))
