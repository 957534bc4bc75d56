"""The RayCluster the RayService runs: `ray` (image, head, autoscaler, GPU worker group) and
`rayService` (upgrade strategy, GCS fault tolerance) values."""

from __future__ import annotations

from typing import Any

from contracts import NODE_POOL_LABEL, RAY_HEAD_SERVICE_ACCOUNT, RAY_WORKER_SERVICE_ACCOUNT, SYSTEM_POOL
from infra.catalog import load_catalog
from infra.config.models import EnvironmentConfig
from infra.node_pool_shape import GPU_TOLERATION
from infra.sizing import ReplicaSizing
from infra.versions import RAY_GID, RAY_IMAGE_REPOSITORY, RAY_IMAGE_VARIANT, RAY_UID, RAY_VERSION

# The Ray autoscaler removes a worker pod this long after its last replica left. GPU nodes
# take minutes to come back, so idle pods are kept a little longer than Ray's 60 s default.
RAY_IDLE_TIMEOUT_S = 300
# Neither autoscaler may evict a pod that holds a model replica or the head's cluster state.
DO_NOT_EVICT = {
    "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
    "karpenter.sh/do-not-disrupt": "true",
}


def upgrade_gpu_headroom(env: EnvironmentConfig, sizing: ReplicaSizing) -> int:
    """Spare GPUs an upgrade of rayClusterConfig needs on top of what is serving.

    NewCluster (blue/green) starts a whole second RayCluster with the warm replicas
    (`min_replicas`, at least one) before traffic moves; `None` replaces nothing.
    """
    if env.serving.upgrade_strategy == "NewCluster":
        return max(env.serving.min_replicas, 1) * sizing.gpus_per_replica
    return 0


def head_resources(env: EnvironmentConfig) -> dict[str, str]:
    """The head runs GCS, the dashboard, the Serve controller and a proxy, but no replica
    (num-cpus 0). It takes at most a quarter of a system node's CPUs and half its memory."""
    instance = load_catalog().instances[env.cluster.system_node_group.instance_type]
    cpu = max(1, instance.vcpu // 4)
    memory = max(4, min(8, int(instance.memory_gib // 2)))
    return {"cpu": str(cpu), "memory": f"{memory}Gi"}


def cache_size_limit_gi(weights_gb: float) -> int:
    """emptyDir for the downloaded weights, compile caches and logs: weights x 1.5 + 20 GiB."""
    return int(weights_gb * 1.5) + 20


def object_store_bytes(memory_gib: int) -> int:
    """Ray's object store holds only request/response objects for Serve LLM: 10% of the pod's
    memory (at least 1 GiB) instead of Ray's default 30%, which vLLM needs for loading."""
    return max(1, memory_gib // 10) * 1024**3


def worker_group(env: EnvironmentConfig, sizing: ReplicaSizing) -> dict[str, Any]:
    """The one GPU worker group: one pod per model replica, on the serving pool's nodes."""
    pool = env.serving_pool()
    serving = env.serving
    return {
        "name": pool.name,
        "nodeSelector": {NODE_POOL_LABEL: pool.name},
        "tolerations": [dict(GPU_TOLERATION)],
        # Ray Serve autoscaling drives the count between these bounds.
        "replicas": serving.min_replicas,
        "minReplicas": serving.min_replicas,
        "maxReplicas": serving.max_replicas,
        "gpus": sizing.gpus_per_replica,
        "cpu": str(sizing.worker_cpu),
        "memory": f"{sizing.worker_memory_gib}Gi",
        "acceleratorType": sizing.ray_accelerator,
        "objectStoreMemoryBytes": object_store_bytes(sizing.worker_memory_gib),
        "cacheSizeLimit": f"{cache_size_limit_gi(load_catalog().models[env.model.name].weights_gb)}Gi",
    }


def ray_values(env: EnvironmentConfig, sizing: ReplicaSizing) -> dict[str, Any]:
    return {
        "version": RAY_VERSION,
        "image": {
            "repository": RAY_IMAGE_REPOSITORY,
            "variant": RAY_IMAGE_VARIANT,
            "digest": "",
            "pullPolicy": "IfNotPresent",
        },
        "imagePullSecrets": [],
        "readOnlyRootFilesystem": True,
        "runAsUser": RAY_UID,
        "runAsGroup": RAY_GID,
        "serviceAccounts": {
            "head": RAY_HEAD_SERVICE_ACCOUNT,
            "worker": RAY_WORKER_SERVICE_ACCOUNT,
            "workerAnnotations": {},
        },
        "head": {
            "resources": head_resources(env),
            "nodeSelector": {NODE_POOL_LABEL: SYSTEM_POOL},
            "podAnnotations": dict(DO_NOT_EVICT),
        },
        "autoscaler": {
            "idleTimeoutSeconds": RAY_IDLE_TIMEOUT_S,
            "upscalingMode": "Default",
            "resources": {"cpu": "500m", "memory": "512Mi"},
        },
        "worker": {"podAnnotations": dict(DO_NOT_EVICT)},
        "workerGroups": [worker_group(env, sizing)],
    }


def gcs_fault_tolerance(env: EnvironmentConfig, gcs_redis_address: str | None) -> dict[str, Any]:
    ft = env.serving.gcs_fault_tolerance
    if ft.managed and not gcs_redis_address:
        raise ValueError(
            "serving.gcs_fault_tolerance.redis is 'managed' but no Redis address was given: the Pulumi program "
            "passes the ElastiCache endpoint it creates (`pulumi stack output gcs_redis_address`)"
        )
    return {
        "enabled": ft.enabled,
        "redisAddress": (gcs_redis_address if ft.managed else ft.redis_address) or "",
        "redisPasswordSecret": ft.redis_password_secret or "",
    }


def ray_service_values(env: EnvironmentConfig, sizing: ReplicaSizing, gcs_redis_address: str | None) -> dict[str, Any]:
    return {
        "upgradeStrategy": {
            # NewClusterWithIncrementalUpgrade is refused at the config boundary (ServingConfig).
            "type": env.serving.upgrade_strategy,
            "gpuHeadroom": upgrade_gpu_headroom(env, sizing),
            "clusterUpgradeOptions": {
                "gatewayClassName": "",
                "stepSizePercent": 25,
                "intervalSeconds": 60,
                "maxSurgePercent": 25,
            },
        },
        "rayClusterDeletionDelaySeconds": 60,
        # With warm replicas, traffic enters only through GPU workers' proxies; a pool that
        # scales to zero keeps the head in the Service so a request can wake it.
        "excludeHeadPodFromServeSvc": env.serving.min_replicas > 0,
        "gcsFaultTolerance": gcs_fault_tolerance(env, gcs_redis_address),
    }
