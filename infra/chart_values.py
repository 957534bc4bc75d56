"""The values of charts/gpt-oss-serving for one environment, from the typed config alone.

`chart_values(env, stack, weights_bucket=...)` is the one place an environment becomes
chart values: the Pulumi program hands the result to the Helm release, the offline plan
renders the chart from the same dict, and `python -m infra.chart_values --env prod` writes
it as a commented values file (jinja2, infra/templates/values.yaml.j2) for the GitOps path.
Nothing is copied by hand between a stack file and the values: sizing
(infra/sizing.py), the catalog, the cost labels (infra/tags.py), the node-pool label and
taint (infra/node_pool_shape.py) and the gateway settings
(serving/gateway/environment.py) are all read here.

Every key the chart knows is produced, so the result is the complete values of a release
(a test compares its key tree with charts/gpt-oss-serving/values.yaml).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

import yaml

from infra.catalog import load_catalog
from infra.config.models import EnvironmentConfig
from infra.node_pool_shape import GPU_TAINT, POOL_LABEL, SYSTEM_POOL
from infra.sizing import ReplicaSizing, size_replica
from infra.tags import cost_tags, k8s_labels
from infra.versions import KUBERAY_OPERATOR

REPO_ROOT = Path(__file__).resolve().parents[1]
CHART_DIR = REPO_ROOT / "charts" / "gpt-oss-serving"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Ray and its image are pinned together: the image tag is "<RAY_VERSION>-<RAY_IMAGE_VARIANT>".
# RAY_VERSION must equal the `ray` version in uv.lock and the chart's appVersion (tested).
RAY_VERSION = "2.58.0"
RAY_IMAGE_REPOSITORY = "rayproject/ray-llm"
RAY_IMAGE_VARIANT = "py312-cu130"  # Python 3.12, CUDA 13.0; bundles vLLM 0.26.0
# The rayproject images run as user `ray` (uid 1000, gid 100) and own /home/ray.
RAY_UID = 1000
RAY_GID = 100

NAMESPACE = "gpt-oss"
RELEASE = "gpt-oss"
SERVE_PORT = 8000
PRIMARY_BASE_URL = f"http://{RELEASE}-serve-svc.{NAMESPACE}.svc.cluster.local:{SERVE_PORT}/v1"

SERVE_COMPONENT = "gpt-oss-serve"
GATEWAY_PORT = 8080
# The gateway's Service is "<fullname>-gateway"; fullname is the release name here.
GATEWAY_URL = f"http://{RELEASE}-gateway.{NAMESPACE}.svc.cluster.local:{GATEWAY_PORT}/v1"
GATEWAY_IMAGE_REPOSITORY = "ghcr.io/example/gpt-oss-gateway"
GATEWAY_IMAGE_TAG = "0.1.0"
MANAGED_API_KEY_SECRET = "gpt-oss-managed-api-key"
CLIENT_KEYS_SECRET = "gpt-oss-gateway-clients"
# Pod Identity associates this service account (namespace gpt-oss) with the weights-bucket
# reader role; only Ray worker pods use it. The head gets its own, without S3 access.
RAY_WORKER_SERVICE_ACCOUNT = "gpt-oss-ray"
RAY_HEAD_SERVICE_ACCOUNT = "gpt-oss-ray-head"

# Harmony (gpt-oss's chat format) loads these tiktoken files at start-up; they are staged
# by an init container and verified against the digests tiktoken itself pins
# (tiktoken_ext/openai_public.py). o200k_base is the one gpt-oss needs.
TIKTOKEN_PUBLIC_BASE = "https://openaipublic.blob.core.windows.net/encodings"
TIKTOKEN_FILES = {
    "o200k_base.tiktoken": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base.tiktoken": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

# Where egress on 443 may go when a policy must reach "the internet" (S3, Hugging Face,
# the managed API): NetworkPolicy cannot name a hostname, so it is everything but the
# private, carrier-grade-NAT and link-local ranges the cluster and its VPC live in.
NON_INTERNET_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
INTERNET = [{"cidr": "0.0.0.0/0", "except": list(NON_INTERNET_RANGES)}]

# Serve tuning that is not per environment.
HEALTH_CHECK_PERIOD_S = 10
HEALTH_CHECK_TIMEOUT_S = 30
UPSCALE_DELAY_S = 30
# Ray Serve's default: ten idle minutes before the last replica of a min_replicas=0 pool goes.
DOWNSCALE_DELAY_S = 600
# The Ray autoscaler removes a worker pod this long after its last replica left. GPU nodes
# take minutes to come back, so idle pods are kept a little longer than Ray's 60 s default.
RAY_IDLE_TIMEOUT_S = 300
MAX_NUM_BATCHED_TOKENS_HOPPER = 8192  # vLLM gpt-oss recipe for Hopper

# Where runbooks/ is published: every alert's runbook_url is "<RUNBOOK_BASE_URL>/<AlertName>.md"
# (charts/gpt-oss-serving/templates/prometheusrule.yaml). A placeholder for this repository:
# CHANGE IT WHEN YOU FORK, to the URL your on-call engineers can open (a Git host's file view
# of runbooks/ on the default branch, or an internal docs site that publishes the folder).
RUNBOOK_BASE_URL = "https://github.com/example/gpt-oss-platform/blob/main/runbooks"
# Alert thresholds that are not per environment (each is explained in its alert's description,
# charts/gpt-oss-serving/files/alerts.yaml, and in values.yaml).
ALERT_THRESHOLDS: dict[str, Any] = {
    "minRequestRate": 0.05,
    "fallbackRatio": 0.1,
    "sovereignRefusals": 5,
    "streamFailureRatio": 0.02,
    "rateLimitedRatio": 0.1,
    "kvCacheUsage": 0.9,
    "queueWaitingRatio": 0.5,
    "queueWaitingMin": 8,
    "preemptionsPerRequest": 0.1,
    "crashLoopRestarts": 3,
    "podPendingFor": "20m",
    "upgradeStuckFor": "45m",
}
AVAILABILITY_SLO = 0.995
LATENCY_OBJECTIVE = 0.95  # p95
# Time-to-first-token and request-duration thresholds: `le` labels of the gateway's histogram
# buckets (serving/gateway/metrics.py), as Prometheus exposes them. Hopper prefills a 32k prompt
# in about a second; Ampere/Ada GPUs take several.
TTFT_BUCKET_HOPPER = "2.5"
TTFT_BUCKET_OTHER = "5.0"
LATENCY_BUCKET = "60.0"


def ray_image_tag(version: str = RAY_VERSION, variant: str = RAY_IMAGE_VARIANT) -> str:
    return f"{version}-{variant}"


def weights_uri(env: EnvironmentConfig, bucket: str) -> str:
    """Where staged weights live: one prefix per repository and pinned revision."""
    return f"s3://{bucket}/models/{env.model.hf_repo}/{env.model.revision}"


def tiktoken_uri(bucket: str) -> str:
    return f"s3://{bucket}/tiktoken"


def sizing_for(env: EnvironmentConfig) -> ReplicaSizing:
    pool = env.serving_pool()
    return size_replica(
        env.model.name,
        pool.instance_type,
        env.serving.max_model_len,
        env.serving.tensor_parallel,
        env.serving.gpu_memory_utilization,
    )


def upgrade_gpu_headroom(env: EnvironmentConfig, sizing: ReplicaSizing) -> int:
    """Spare GPUs an upgrade of rayClusterConfig needs on top of what is serving.

    NewCluster (blue/green) starts a whole second RayCluster with the warm replicas
    (`min_replicas`, at least one) before traffic moves; `None` replaces nothing.
    """
    if env.serving.upgrade_strategy == "NewCluster":
        return max(env.serving.min_replicas, 1) * sizing.gpus_per_replica
    return 0


def engine_kwargs(env: EnvironmentConfig, sizing: ReplicaSizing) -> dict[str, Any]:
    """vLLM engine arguments (names as vLLM's EngineArgs/FrontendArgs spell them)."""
    kwargs: dict[str, Any] = {
        "max_model_len": sizing.max_model_len,
        "tensor_parallel_size": sizing.tensor_parallel,
        "gpu_memory_utilization": sizing.gpu_memory_utilization,
        # gpt-oss tool calls come out in harmony; vLLM >= 0.10.2 parses them with `openai`.
        "tool_call_parser": "openai",
        "enable_auto_tool_choice": True,
    }
    if sizing.gpu_generation == "hopper":
        kwargs["max_num_batched_tokens"] = MAX_NUM_BATCHED_TOKENS_HOPPER
    if sizing.attention_backend:
        # vLLM 0.26 ignores the old VLLM_ATTENTION_BACKEND variable; the engine argument
        # is the only switch (vllm-project/vllm#50292).
        kwargs["attention_backend"] = sizing.attention_backend
    if env.model.source == "huggingface":
        # Weights and tokenizer from the pinned commit, not from `main`. Staged S3 weights are
        # pinned by their prefix instead (weights_uri).
        kwargs["revision"] = env.model.revision
        kwargs["tokenizer_revision"] = env.model.revision
    return kwargs


def _engine_values(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The chart's typed `serve.engine` block for `engine_kwargs` (the chart maps it back).

    Typed keys rather than a free-form map: Helm deep-merges maps with the chart's defaults,
    so a key absent here would silently survive from values.yaml (e.g. TRITON_ATTN on Hopper).
    """
    known = {
        "max_model_len", "tensor_parallel_size", "gpu_memory_utilization", "tool_call_parser",
        "enable_auto_tool_choice", "attention_backend", "max_num_batched_tokens", "revision", "tokenizer_revision",
    }
    if kwargs.get("tokenizer_revision") != kwargs.get("revision"):
        raise ValueError("engine revision and tokenizer_revision must be the same commit")
    return {
        "maxModelLen": kwargs["max_model_len"],
        "tensorParallelSize": kwargs["tensor_parallel_size"],
        "gpuMemoryUtilization": kwargs["gpu_memory_utilization"],
        "toolCallParser": kwargs["tool_call_parser"],
        "enableAutoToolChoice": kwargs["enable_auto_tool_choice"],
        "attentionBackend": kwargs.get("attention_backend", ""),
        "maxNumBatchedTokens": kwargs.get("max_num_batched_tokens", 0),
        "revision": kwargs.get("revision", ""),
        "extraArgs": {k: v for k, v in kwargs.items() if k not in known},
    }


def _head_resources(env: EnvironmentConfig) -> dict[str, str]:
    """The head runs GCS, the dashboard, the Serve controller and a proxy, but no replica
    (num-cpus 0). It takes at most a quarter of a system node's CPUs and half its memory."""
    instance = load_catalog().instances[env.cluster.system_node_group.instance_type]
    cpu = max(1, instance.vcpu // 4)
    memory = max(4, min(8, int(instance.memory_gib // 2)))
    return {"cpu": str(cpu), "memory": f"{memory}Gi"}


def _cache_size_limit_gi(weights_gb: float) -> int:
    """emptyDir for the downloaded weights, compile caches and logs: weights x 1.5 + 20 GiB."""
    return int(weights_gb * 1.5) + 20


def _object_store_bytes(memory_gib: int) -> int:
    """Ray's object store holds only request/response objects for Serve LLM: 10% of the pod's
    memory (at least 1 GiB) instead of Ray's default 30%, which vLLM needs for loading."""
    return max(1, memory_gib // 10) * 1024**3


def _vpc_cidrs(env: EnvironmentConfig) -> list[str]:
    if env.cluster.mode == "create":
        return [str(ipaddress.ip_network(env.cluster.effective_network.vpc_cidr))]
    # An existing cluster's VPC is not in the config: allow the private ranges instead.
    return ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def _labels(env: EnvironmentConfig, stack: str) -> dict[str, Any]:
    """The cost labels, plus the app.kubernetes.io/* values infra.tags.k8s_labels sets; the
    chart adds app.kubernetes.io/name per component (gpt-oss-serve, gpt-oss-gateway)."""
    reference = k8s_labels(env, stack, SERVE_COMPONENT)
    return {
        "cost": cost_tags(env, stack),
        "instance": reference["app.kubernetes.io/instance"],
        "partOf": reference["app.kubernetes.io/part-of"],
        "managedBy": reference["app.kubernetes.io/managed-by"],
    }


def _gcs_fault_tolerance(env: EnvironmentConfig, gcs_redis_address: str | None) -> dict[str, Any]:
    ft = env.serving.gcs_fault_tolerance
    if ft.managed and not gcs_redis_address:
        raise ValueError(
            "serving.gcs_fault_tolerance.redis is 'managed' but no Redis address was given: the Pulumi program "
            "passes the ElastiCache endpoint it creates (pass gcs_redis_address / --gcs-redis-address)"
        )
    return {
        "enabled": ft.enabled,
        "redisAddress": (gcs_redis_address if ft.managed else ft.redis_address) or "",
        "redisPasswordSecret": ft.redis_password_secret or "",
    }


def _upgrade_strategy(env: EnvironmentConfig, sizing: ReplicaSizing) -> dict[str, Any]:
    strategy = env.serving.upgrade_strategy
    if strategy == "NewClusterWithIncrementalUpgrade":
        raise ValueError(
            "serving.upgrade_strategy: NewClusterWithIncrementalUpgrade needs a Gateway API GatewayClass "
            "and the RayServiceIncrementalUpgrade feature gate on the KubeRay operator; the environment config "
            "has no field for the GatewayClass yet, so this chart cannot render it. Use NewCluster "
            "(blue/green, needs GPU headroom) or None"
        )
    return {
        "type": strategy,
        "gpuHeadroom": upgrade_gpu_headroom(env, sizing),
        "clusterUpgradeOptions": {
            "gatewayClassName": "",
            "stepSizePercent": 25,
            "intervalSeconds": 60,
            "maxSurgePercent": 25,
        },
    }


def _gateway_values(env: EnvironmentConfig) -> dict[str, Any]:
    # The gateway owns its settings model; the chart writes the object verbatim.
    from serving.gateway.environment import settings_for_environment

    return {
        "enabled": True,
        "image": {
            "repository": GATEWAY_IMAGE_REPOSITORY,
            "tag": GATEWAY_IMAGE_TAG,
            "digest": "",
            "pullPolicy": "IfNotPresent",
        },
        "replicas": env.gateway.min_replicas,
        "autoscaling": {
            "enabled": True,
            "minReplicas": env.gateway.min_replicas,
            "maxReplicas": env.gateway.max_replicas,
            "targetCPUUtilizationPercentage": 70,
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "settings": settings_for_environment(env, primary_base_url=PRIMARY_BASE_URL),
        "clientKeysSecret": CLIENT_KEYS_SECRET,
        "managedApiKeySecret": MANAGED_API_KEY_SECRET,
        # Without fallback no key is created; the pod must still start.
        "managedApiKeyOptional": not env.fallback.allowed,
        "service": {"port": GATEWAY_PORT},
        "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "networkPolicy": {
            "ingressFrom": [{"namespaceSelector": {}}],
            "managedApiEgress": INTERNET,
        },
        "serviceMonitor": {"enabled": True, "interval": "30s", "labels": {}},
    }


def _alert_values(env: EnvironmentConfig, stack: str, sizing: ReplicaSizing) -> dict[str, Any]:
    """`alerts`: the PrometheusRule's scope and the thresholds that follow from the environment.

    Upstream names and the fleet's hourly price come from the gateway's own settings, so the
    alerts compare what the gateway meters; the managed prices from the catalog entry of the
    fallback model (also without fallback: what the API would cost is still the benchmark).
    """
    from serving.gateway.environment import settings_for_environment

    settings = settings_for_environment(env, primary_base_url=PRIMARY_BASE_URL)
    route = settings["routes"][0]
    primary = next(u for u in settings["upstreams"] if u["name"] == route["primary"])
    fleet_usd_per_hour = primary["cost"]["fleet_usd_per_hour"]
    price = load_catalog().managed_api[env.fallback.model]
    return {
        "enabled": True,
        "runbookBaseUrl": RUNBOOK_BASE_URL,
        "environment": cost_tags(env, stack)["environment"],
        "labels": {},
        "ruleLabels": {},
        "gateway": {"primaryUpstream": route["primary"], "managedUpstream": route.get("fallback") or ""},
        # A pool's floor is its min_nodes: what the autoscaler keeps, so fewer ready nodes for long
        # means a loss that was not replaced (spot interruption, no capacity).
        "gpuNodePoolFloors": {pool.name: pool.min_nodes for pool in env.node_pools},
        "slo": {
            "availability": AVAILABILITY_SLO,
            "latencyObjective": LATENCY_OBJECTIVE,
            "ttftSecondsBucket": TTFT_BUCKET_HOPPER if sizing.gpu_generation == "hopper" else TTFT_BUCKET_OTHER,
            "latencySecondsBucket": LATENCY_BUCKET,
        },
        "thresholds": {
            **ALERT_THRESHOLDS,
            # The fallback should never cost more per hour than the warm GPUs it stands in for.
            "managedSpendUsdPerHour": fleet_usd_per_hour,
            "selfHostedFleetUsdPerHour": fleet_usd_per_hour,
            "managedInputUsdPerMtok": price.input_per_mtok,
            "managedOutputUsdPerMtok": price.output_per_mtok,
        },
    }


def chart_values(
    env: EnvironmentConfig, stack: str, *, weights_bucket: str | None, gcs_redis_address: str | None = None
) -> dict[str, Any]:
    """The complete chart values for `env` deployed as Pulumi stack `stack`.

    `weights_bucket` is the environment's S3 bucket for staged weights and tiktoken files;
    it is required when `model.source` is `s3` and ignored for `huggingface`.
    `gcs_redis_address` is the host:port of the ElastiCache store the program creates when
    `serving.gcs_fault_tolerance.redis` is `managed`.
    Raises ValueError with the key path when the config cannot be rendered.
    """
    if env.model.source == "s3" and not weights_bucket:
        raise ValueError(
            "model.source is 's3' but no weights bucket was given: stage the weights into the environment's "
            "bucket (README 'Serving') and pass its name as weights_bucket"
        )
    pool = env.serving_pool()
    sizing = sizing_for(env)
    model_spec = load_catalog().models[env.model.name]
    from_s3 = env.model.source == "s3"
    serving = env.serving

    worker_group = {
        "name": pool.name,
        "nodeSelector": {POOL_LABEL: pool.name},
        "tolerations": [
            {"key": GPU_TAINT["key"], "operator": "Equal", "value": GPU_TAINT["value"], "effect": GPU_TAINT["effect"]}
        ],
        # One worker pod holds one model replica; Ray Serve autoscaling drives the count.
        "replicas": serving.min_replicas,
        "minReplicas": serving.min_replicas,
        "maxReplicas": serving.max_replicas,
        "gpus": sizing.gpus_per_replica,
        "cpu": str(sizing.worker_cpu),
        "memory": f"{sizing.worker_memory_gib}Gi",
        "acceleratorType": sizing.ray_accelerator,
        "objectStoreMemoryBytes": _object_store_bytes(sizing.worker_memory_gib),
        "cacheSizeLimit": f"{_cache_size_limit_gi(model_spec.weights_gb)}Gi",
    }

    return {
        "nameOverride": "",
        "fullnameOverride": RELEASE,
        "labels": _labels(env, stack),
        "ray": {
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
                "resources": _head_resources(env),
                "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
                "podAnnotations": {
                    "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
                    "karpenter.sh/do-not-disrupt": "true",
                },
            },
            "autoscaler": {
                "idleTimeoutSeconds": RAY_IDLE_TIMEOUT_S,
                "upscalingMode": "Default",
                "resources": {"cpu": "500m", "memory": "512Mi"},
            },
            "worker": {
                "podAnnotations": {
                    "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
                    "karpenter.sh/do-not-disrupt": "true",
                },
            },
            "workerGroups": [worker_group],
        },
        "model": {
            "id": env.model.name,
            "source": weights_uri(env, weights_bucket) if from_s3 else env.model.hf_repo,
            "offline": from_s3,
        },
        "serve": {
            "applicationName": "gpt-oss",
            "acceleratorType": sizing.ray_accelerator,
            "engine": _engine_values(engine_kwargs(env, sizing)),
            "autoscaling": {
                "minReplicas": serving.min_replicas,
                "maxReplicas": serving.max_replicas,
                "targetOngoingRequests": serving.target_ongoing_requests,
                "upscaleDelayS": UPSCALE_DELAY_S,
                "downscaleDelayS": DOWNSCALE_DELAY_S,
            },
            "maxOngoingRequests": serving.max_ongoing_requests,
            "healthCheckPeriodS": HEALTH_CHECK_PERIOD_S,
            "healthCheckTimeoutS": HEALTH_CHECK_TIMEOUT_S,
        },
        "tiktoken": {
            "enabled": True,
            "source": tiktoken_uri(weights_bucket) if from_s3 else TIKTOKEN_PUBLIC_BASE,
            "files": dict(TIKTOKEN_FILES),
        },
        "readiness": {
            "generation": {
                "enabled": True,
                "periodSeconds": 30,
                "timeoutSeconds": 10,
                "failureThreshold": 3,
            },
        },
        "rayService": {
            "upgradeStrategy": _upgrade_strategy(env, sizing),
            "rayClusterDeletionDelaySeconds": 60,
            # With warm replicas, traffic enters only through GPU workers' proxies; a pool
            # that scales to zero keeps the head in the Service so a request can wake it.
            "excludeHeadPodFromServeSvc": serving.min_replicas > 0,
            "gcsFaultTolerance": _gcs_fault_tolerance(env, gcs_redis_address),
        },
        "networkPolicy": {
            "enabled": True,
            "dns": {"namespace": "kube-system", "podLabels": {"k8s-app": "kube-dns"}},
            "prometheus": {
                "namespace": "monitoring",
                "podLabels": {"app.kubernetes.io/name": "prometheus"},
            },
            "kuberayOperatorNamespace": KUBERAY_OPERATOR.namespace,
            "kubeApiServer": [{"cidr": cidr} for cidr in _vpc_cidrs(env)],
            "weightsEgress": INTERNET,
            "podIdentityAgent": True,
            "redisEgress": [{"cidr": cidr} for cidr in _vpc_cidrs(env)],
        },
        "metrics": {
            "podMonitor": {"enabled": True, "interval": "30s", "labels": {}},
            "dashboard": {"enabled": True, "labels": {}},
        },
        "alerts": _alert_values(env, stack, sizing),
        "podDisruptionBudget": {"rayWorkers": {"enabled": True, "maxUnavailable": 1}},
        "gateway": _gateway_values(env),
    }


def _yaml_block(value: Any, indent: int = 0) -> str:
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    pad = " " * indent
    return "\n".join(pad + line if line else line for line in text.rstrip("\n").splitlines())


def render_values_file(
    env: EnvironmentConfig, stack: str, weights_bucket: str | None, gcs_redis_address: str | None = None
) -> str:
    """The values of `chart_values` as a commented YAML file (what GitOps commits)."""
    import jinja2

    values = chart_values(env, stack, weights_bucket=weights_bucket, gcs_redis_address=gcs_redis_address)
    sizing = sizing_for(env)
    pool = env.serving_pool()
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    ).get_template("values.yaml.j2")
    return template.render(
        env=env,
        stack=stack,
        pool=pool,
        sizing=sizing,
        values=values,
        section=lambda key: _yaml_block({key: values[key]}),
        kv_tokens=f"{sizing.kv_cache_tokens_per_replica:,}",
    )


def sizing_table(stacks: list[str] | None = None) -> str:
    """Markdown table of the serving shape of every stack (README "Serving" embeds it)."""
    from infra.config import environment_from_stack_file

    order = {"dev": 0, "staging": 1, "prod": 2}
    found = [p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in REPO_ROOT.glob("Pulumi.*.yaml")]
    names = stacks or sorted(found, key=lambda n: (order.get(n, len(order)), n))
    rows = [
        "| env | model | weights | node pool | capacity | TP (GPUs/replica) | replicas/node | replicas | "
        "gpu_memory_utilization | max_model_len | KV cache tokens/replica | upgrade | upgrade GPU headroom | "
        "GCS FT | $/replica-hour |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        env = environment_from_stack_file(name)
        pool = env.serving_pool()
        sizing = sizing_for(env)
        capacity = pool.capacity_type.replace("_", "-")
        if pool.capacity_type == "spot" and pool.on_demand_floor:
            capacity += f" ({pool.on_demand_floor} on-demand)"
        rows.append(
            f"| {env.name} | {env.model.name} | {env.model.source} | {pool.name}: {pool.min_nodes}-{pool.max_nodes}x "
            f"{pool.instance_type} ({pool.gpus_per_node}x {sizing.gpu}) | {capacity} | {sizing.tensor_parallel} | "
            f"{sizing.replicas_per_node} | {env.serving.min_replicas}-{env.serving.max_replicas} | "
            f"{sizing.gpu_memory_utilization} | {sizing.max_model_len} | {sizing.kv_cache_tokens_per_replica:,} | "
            f"{env.serving.upgrade_strategy} | {upgrade_gpu_headroom(env, sizing)} | "
            f"{'on' if env.serving.gcs_fault_tolerance.enabled else 'off'} | {sizing.usd_per_replica_hour:.4f} |"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    from infra.config import ConfigError, environment_from_stack_file

    parser = argparse.ArgumentParser(
        prog="python -m infra.chart_values",
        description="Write the gpt-oss-serving chart values for one environment, from its stack file.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--env", help="stack name: Pulumi.<env>.yaml")
    target.add_argument("--sizing-table", action="store_true", help="print the sizing of every stack as a Markdown table")
    parser.add_argument("--stack", help="Pulumi stack name (default: the environment name)")
    parser.add_argument(
        "--weights-bucket",
        help="S3 bucket with staged weights (required when model.source is s3; `pulumi stack output weights_bucket`)",
    )
    parser.add_argument(
        "--gcs-redis-address",
        help="host:port of the managed GCS Redis (when gcs_fault_tolerance.redis is managed; "
        "`pulumi stack output gcs_redis_address`)",
    )
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    if args.sizing_table:
        try:
            sys.stdout.write(sizing_table())
        except (ConfigError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    try:
        env = environment_from_stack_file(args.env)
        text = render_values_file(env, args.stack or args.env, args.weights_bucket, args.gcs_redis_address)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
