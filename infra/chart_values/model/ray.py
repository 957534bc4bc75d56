"""`ray` (the RayCluster: image, head, autoscaler, GPU worker groups) and `rayService` (upgrade
strategy, GCS fault tolerance) of the chart values."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from contracts import NODE_POOL_LABEL, RAY_HEAD_SERVICE_ACCOUNT, RAY_WORKER_SERVICE_ACCOUNT
from infra.chart_values.model.base import AcceleratorType, Digest, Item, PullPolicy, Quantity, Resources, Section
from infra.node_pool_shape import GPU_TOLERATION
from infra.versions import RAY_GID, RAY_IMAGE_REPOSITORY, RAY_IMAGE_VARIANT, RAY_UID, RAY_VERSION

# Neither node autoscaler may evict a pod that holds a model replica or the head's cluster state
# (https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md#what-types-of-pods-can-prevent-ca-from-removing-a-node,
# https://karpenter.sh/docs/concepts/disruption/#pod-level-controls).
DO_NOT_EVICT = {
    "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
    "karpenter.sh/do-not-disrupt": "true",
}


class RayImage(Section):
    repository: str = Field(
        default=RAY_IMAGE_REPOSITORY,
        min_length=1,
        description="Ray image with Ray Serve LLM and vLLM (ray-llm 2.58.0 bundles vLLM 0.26.0).",
    )
    variant: str = Field(
        default=RAY_IMAGE_VARIANT,
        pattern=r"^[a-z0-9][a-z0-9.-]*$",
        description="Second half of the image tag: Python and CUDA build. CUDA 13 needs an NVIDIA driver >= 580 on the nodes.",
    )
    digest: Digest = Field(
        default="",
        description="Image digest (`sha256:...`); when set the image is pulled by digest, which is what production should do.",
    )
    pullPolicy: PullPolicy = Field(
        default="IfNotPresent",
        description="Pull policy. `Always` re-pulls a ~20 GB image on every GPU pod start: minutes of extra cold start.",
    )


class ImagePullSecret(Item):
    name: str = Field(description="Name of a Secret of type kubernetes.io/dockerconfigjson in the release namespace.")


class RayServiceAccounts(Section):
    head: str = Field(
        default=RAY_HEAD_SERVICE_ACCOUNT,
        min_length=1,
        description="Service account of the head pod. KubeRay binds the Ray autoscaler's Role to it.",
    )
    worker: str = Field(
        default=RAY_WORKER_SERVICE_ACCOUNT,
        min_length=1,
        description="Service account of the GPU worker pods, the one allowed to read the weights bucket "
        "(an EKS Pod Identity association names it).",
    )
    workerAnnotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations of the worker service account, e.g. `eks.amazonaws.com/role-arn` when IRSA is used instead of Pod Identity.",
    )


class RayHead(Section):
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="1", memory="4Gi"),
        description="CPU and memory of the head container (requests = limits). The head runs GCS, the dashboard, the Serve "
        "controller and a proxy but no replica. Below 4Gi the GCS is at risk of OOM on a busy cluster.",
    )
    nodeSelector: dict[str, str] = Field(
        default_factory=dict,
        description=f"Node selector of the head, e.g. `{{{NODE_POOL_LABEL}: system}}` for the CPU system nodes. "
        "The head has no GPU toleration, so it never takes a GPU node either way.",
    )
    podAnnotations: dict[str, str] = Field(
        default_factory=lambda: dict(DO_NOT_EVICT),
        description="Annotations of the head pod. The defaults keep node autoscalers from evicting the head (its GCS "
        "state is lost on restart unless GCS fault tolerance is on).",
    )


class RayAutoscaler(Section):
    # Ray's default is 60 s; GPU nodes take minutes to come back, so idle pods are kept longer.
    idleTimeoutSeconds: int = Field(
        default=300, ge=0, description="Seconds an idle worker pod (no replica) lives before the Ray autoscaler removes it."
    )
    upscalingMode: Literal["Default", "Aggressive", "Conservative"] = Field(
        default="Default", description="Ray autoscaler upscaling mode: Default, Aggressive or Conservative."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="500m", memory="512Mi"),
        description="CPU and memory of the autoscaler sidecar KubeRay injects into the head pod (requests = limits).",
    )


class RayWorker(Section):
    podAnnotations: dict[str, str] = Field(
        default_factory=lambda: dict(DO_NOT_EVICT),
        description="Annotations of every worker pod. The defaults leave scale-down to the Ray autoscaler (which drains "
        "replicas first) instead of node consolidation evicting a replica mid-request.",
    )


class Toleration(Item):
    """A pod toleration (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#scheduling)."""

    key: str | None = Field(default=None, description="Taint key, e.g. `nvidia.com/gpu`.")
    operator: Literal["Equal", "Exists"] | None = Field(
        default=None, description="`Equal` (key and value) or `Exists` (key only)."
    )
    value: str | None = Field(default=None, description="Taint value matched with `Equal`.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", ""] | None = Field(
        default=None, description="Taint effect matched; empty matches all."
    )
    tolerationSeconds: int | None = Field(default=None, description="How long a NoExecute taint is tolerated before eviction.")


class WorkerGroup(Item):
    """One GPU worker group of the RayCluster (one per serving node pool)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$", description="Worker group name (also the node pool name).")
    nodeSelector: dict[str, str] = Field(description="Node selector of the group's pods.")
    tolerations: list[Toleration] = Field(description="Tolerations of the group's pods (the GPU taint).")
    replicas: int = Field(ge=0, description="Worker pods at creation.")
    minReplicas: int = Field(ge=0, description="Fewest worker pods (= model replicas kept warm).")
    maxReplicas: int = Field(ge=1, description="Most worker pods.")
    gpus: int = Field(ge=1, le=8, description="GPUs per pod = tensor parallel degree.")
    cpu: Quantity = Field(description="CPU per pod (requests = limits).")
    memory: Quantity = Field(description="Memory per pod (requests = limits).")
    acceleratorType: AcceleratorType = Field(
        description="Ray accelerator type, declared so the autoscaler can scale the group up from zero."
    )
    # Ray refuses an object store under 75 MiB (ray_constants.OBJECT_STORE_MINIMUM_MEMORY_BYTES).
    objectStoreMemoryBytes: int = Field(ge=78643200, description="Ray object store size per pod.")
    cacheSizeLimit: Quantity = Field(
        description="emptyDir for downloaded weights and compile caches; keep it below the node's disk."
    )


def example_worker_group() -> WorkerGroup:
    """The chart's default group: gpt-oss-20b on one L4 (g6.xlarge), scaling between 0 and 1."""
    return WorkerGroup(
        name="gpu-l4",
        nodeSelector={NODE_POOL_LABEL: "gpu-l4"},
        tolerations=[Toleration.model_validate(GPU_TOLERATION)],
        replicas=0,
        minReplicas=0,
        maxReplicas=1,
        gpus=1,
        cpu="3",
        memory="12Gi",
        acceleratorType="L4",
        objectStoreMemoryBytes=1073741824,
        cacheSizeLimit="41Gi",
    )


class Ray(Section):
    version: str = Field(
        default=RAY_VERSION,
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$",
        description="Ray version: KubeRay's `rayVersion` and the first half of the image tag (`<version>-<variant>`). "
        "Must equal the `ray` version in uv.lock; a test fails when they diverge. Changing it changes "
        "rayClusterConfig, which triggers the upgrade strategy (a second cluster with NewCluster).",
    )
    image: RayImage = Field(default_factory=RayImage, description="The Ray image of head and workers.")
    imagePullSecrets: list[ImagePullSecret] = Field(
        default_factory=list, description="Pull secrets for a private mirror of the Ray image (list of `{name: ...}`)."
    )
    readOnlyRootFilesystem: bool = Field(
        default=True,
        description="Read-only root filesystem for every Ray container; writable paths are emptyDirs (/tmp, the cache "
        'directory, the tiktoken directory). Set false only to debug a "Read-only file system" crash.',
    )
    runAsUser: int = Field(
        default=RAY_UID,
        ge=1,
        description="UID of the Ray containers: the rayproject images run as user `ray` (1000) who owns /home/ray.",
    )
    runAsGroup: int = Field(
        default=RAY_GID,
        ge=0,
        description="GID of the Ray containers and fsGroup of their volumes (`users`, 100, in the rayproject images).",
    )
    serviceAccounts: RayServiceAccounts = Field(
        default_factory=RayServiceAccounts, description="Service accounts of the Ray pods."
    )
    head: RayHead = Field(default_factory=RayHead, description="The head pod: GCS, dashboard, Serve controller, no replica.")
    autoscaler: RayAutoscaler = Field(
        default_factory=RayAutoscaler,
        description="The Ray autoscaler, a sidecar KubeRay adds to the head pod (in-tree autoscaling).",
    )
    worker: RayWorker = Field(default_factory=RayWorker, description="Settings of every GPU worker pod.")
    workerGroups: list[WorkerGroup] = Field(
        default_factory=lambda: [example_worker_group()],
        min_length=1,
        description="GPU worker groups, one per serving node pool. Each item: `name` (group and pool name), `nodeSelector`, "
        "`tolerations`, `replicas`/`minReplicas`/`maxReplicas` (worker pods = model replicas), `gpus` (per pod = "
        "tensor parallel degree), `cpu` and `memory` (per pod, requests = limits), `acceleratorType` (Ray's name of "
        "the GPU, declared so the autoscaler can scale a group up from zero), `objectStoreMemoryBytes`, and "
        "`cacheSizeLimit` (emptyDir for downloaded weights and compile caches; keep it below the node's disk).",
    )


class ClusterUpgradeOptions(Section):
    gatewayClassName: str = Field(
        default="", description="Gateway API GatewayClass used by NewClusterWithIncrementalUpgrade (required for that strategy)."
    )
    stepSizePercent: int = Field(
        default=25, ge=1, le=100, description="Percent of traffic moved to the new cluster per step (incremental upgrade)."
    )
    intervalSeconds: int = Field(default=60, ge=1, description="Seconds between traffic steps (incremental upgrade).")
    maxSurgePercent: int = Field(
        default=25,
        ge=1,
        le=100,
        description="Percent of capacity the new cluster may add above the old one's (incremental upgrade).",
    )


class UpgradeStrategy(Section):
    type: Literal["NewCluster", "NewClusterWithIncrementalUpgrade", "None"] = Field(
        default="NewCluster",
        description="What KubeRay does when rayClusterConfig changes (image, resources, Ray version): `NewCluster` starts a "
        "second RayCluster and moves traffic when it is ready (blue/green; needs spare GPUs, see gpuHeadroom); "
        "`NewClusterWithIncrementalUpgrade` (alpha) shifts traffic gradually through Gateway API; `None` applies "
        "nothing (delete the RayCluster by hand: downtime). serveConfigV2 changes are always applied in place.",
    )
    gpuHeadroom: int = Field(
        default=1,
        ge=0,
        description="Spare GPUs a NewCluster upgrade needs on top of those serving (warm replicas x GPUs per replica). "
        "Documentation only: rendered as an annotation on the RayService, the node pool must provide them.",
    )
    clusterUpgradeOptions: ClusterUpgradeOptions = Field(
        default_factory=ClusterUpgradeOptions, description="Options of NewClusterWithIncrementalUpgrade."
    )


class GcsFaultTolerance(Section):
    # The schema says it too (if enabled then redisAddress), so a hand-written values file is refused at render.
    model_config = Section.model_config | {
        "json_schema_extra": {
            "if": {"properties": {"enabled": {"const": True}}},
            "then": {"properties": {"redisAddress": {"minLength": 1}}},
        }
    }

    enabled: bool = Field(
        default=False,
        description="Ray GCS fault tolerance: the GCS keeps its state in an external Redis, so a head restart keeps the "
        "Serve applications and running replicas. Recommended for prod.",
    )
    redisAddress: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9.-]+:[0-9]{2,5})?$",
        description="Redis `host:port` reachable from the head (e.g. ElastiCache, or a Redis in the cluster).",
    )
    redisPasswordSecret: str = Field(
        default="",
        pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$",
        description="Secret (key `password`) in the release namespace holding the Redis password; empty for no auth.",
    )

    @model_validator(mode="after")
    def _redis_when_enabled(self) -> GcsFaultTolerance:
        if self.enabled and not self.redisAddress:
            raise ValueError("rayService.gcsFaultTolerance.enabled needs redisAddress (host:port of the GCS Redis)")
        return self


class RayService(Section):
    upgradeStrategy: UpgradeStrategy = Field(
        default_factory=UpgradeStrategy, description="How a rayClusterConfig change is rolled out."
    )
    rayClusterDeletionDelaySeconds: int = Field(
        default=60, ge=0, description="Seconds the old RayCluster lives after traffic moved to the new one."
    )
    excludeHeadPodFromServeSvc: bool = Field(
        default=False,
        description="Leave the head out of the Serve Service. Keep false when the pool scales to zero: only the head's proxy "
        "can receive the request that wakes a replica up.",
    )
    gcsFaultTolerance: GcsFaultTolerance = Field(default_factory=GcsFaultTolerance, description="GCS state in an external Redis.")


class RayWorkersDisruption(Section):
    enabled: bool = Field(
        default=True,
        description="PodDisruptionBudget over the GPU worker pods, so a node drain takes replicas down one at a time.",
    )
    minAvailable: int = Field(
        default=0,
        ge=0,
        description="Ready GPU worker pods a voluntary disruption must leave; the environment sets the warm floor less one. "
        "An integer minimum, never maxUnavailable: a RayCluster has no scale subresource, so a maxUnavailable budget over its "
        "pods allows no disruption at all.",
    )


class PodDisruptionBudget(Section):
    rayWorkers: RayWorkersDisruption = Field(
        default_factory=RayWorkersDisruption, description="Disruption budget of the GPU workers."
    )
