"""The serving chart, rendered with Helm's engine for every stack and edge scenario, read as a spec.

Each test names the behaviour an operator would notice when it broke.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from contracts import GATEWAY_METRICS_PORT, PRIMARY_BASE_URL, SYSTEM_POOL
from contracts import NODE_POOL_LABEL as POOL_LABEL
from infra.capacity import capacity_for, replica_sizing
from infra.chart_values.serve import engine_kwargs
from infra.models.served import resolve_served_models
from infra.node_pool_shape import GPU_TAINT
from infra.paths import CHART_DIR
from infra.tags import cost_tags, k8s_labels
from infra.versions import RAY_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]


def rayservice(kit, case):
    return kit.one(kit.rendered_docs(case), "RayService")


def serve_config(kit, case) -> dict:
    return yaml.safe_load(rayservice(kit, case)["spec"]["serveConfigV2"])


def llm_config(kit, case) -> dict:
    """The default model's llm_config (the first; further served models follow it)."""
    (app,) = serve_config(kit, case)["applications"]
    return app["args"]["llm_configs"][0]


def head_spec(kit, case) -> dict:
    return rayservice(kit, case)["spec"]["rayClusterConfig"]["headGroupSpec"]


def worker_group(kit, case) -> dict:
    (group,) = rayservice(kit, case)["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    return group


def container(template: dict, name: str) -> dict:
    (found,) = [c for c in template["spec"]["containers"] if c["name"] == name]
    return found


def selector_matches(selector: dict, labels: dict) -> bool:
    """matchLabels and matchExpressions (In/NotIn/Exists/DoesNotExist) against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


# --- Names and contracts -----------------------------------------------------------------


def test_the_rayservice_and_its_serve_service_carry_the_names_the_gateway_calls(kit, case):
    service = rayservice(kit, case)
    assert service["apiVersion"] == "ray.io/v1"
    assert service["metadata"]["name"] == "gpt-oss"
    serve_service = service["spec"]["serveService"]
    assert serve_service["metadata"]["name"] == "gpt-oss-serve-svc"
    assert serve_service["spec"]["ports"] == [{"name": "serve", "port": 8000}]
    assert PRIMARY_BASE_URL == "http://gpt-oss-serve-svc.gpt-oss.svc.cluster.local:8000/v1"
    # KubeRay builds the Serve Service's port from the head container's port named `serve`.
    head_ports = {p["name"]: p["containerPort"] for p in container(head_spec(kit, case)["template"], "ray-head")["ports"]}
    assert head_ports["serve"] == 8000


def test_every_object_lives_in_the_release_namespace(kit, case):
    for doc in kit.rendered_docs(case):
        assert doc["metadata"].get("namespace") == "gpt-oss", f"{doc['kind']} {doc['metadata']['name']}"


def test_every_object_and_pod_template_carries_the_cost_labels(kit, case):
    env, stack = kit.environment(case)
    serve = k8s_labels(env, stack, "gpt-oss-serve")
    # Apps of their own: the gateway and the cost governor; everything else is the serving side.
    apps = {name: k8s_labels(env, stack, name) for name in ("gpt-oss-gateway", "gpt-oss-governor")}
    for doc in kit.rendered_docs(case):
        labels = doc["metadata"]["labels"]
        expected = apps.get(labels.get("app.kubernetes.io/name"), serve)
        missing = {k: v for k, v in expected.items() if labels.get(k) != v}
        assert not missing, f"{doc['kind']} {doc['metadata']['name']} lacks {missing}"
        template = doc.get("spec", {}).get("template")
        if template:
            assert {k: template["metadata"]["labels"].get(k) for k in expected} == expected
    for role, template in kit.ray_pod_templates(rayservice(kit, case)):
        labels = template["metadata"]["labels"]
        # KubeRay sets app.kubernetes.io/name on its pods itself (see _helpers.tpl).
        expected = {k: v for k, v in serve.items() if k != "app.kubernetes.io/name"}
        assert {k: labels.get(k) for k in expected} == expected, role
        assert "app.kubernetes.io/name" not in labels, role


def test_ray_version_and_image_are_pinned_together_with_the_lock_file(kit, case):
    import importlib.metadata
    import tomllib

    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "ray"]
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert RAY_VERSION == locked == chart["appVersion"] == defaults["ray"]["version"] == importlib.metadata.version("ray")
    service = rayservice(kit, case)
    cluster = service["spec"]["rayClusterConfig"]
    assert cluster["rayVersion"] == locked
    for role, template in kit.ray_pod_templates(service):
        for c in template["spec"]["containers"] + template["spec"].get("initContainers", []):
            repository, tag = c["image"].split("@")[0].rsplit(":", 1)
            assert repository == "rayproject/ray-llm", role
            assert tag == f"{locked}-py312-cu130", f"{role}: image {c['image']} is not Ray {locked}"


# --- Head and workers ----------------------------------------------------------------------


def test_no_replica_can_land_on_the_head(kit, case):
    head = head_spec(kit, case)
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head["rayStartParams"]["num-gpus"] == "0"
    spec = head["template"]["spec"]
    assert spec["nodeSelector"] == {POOL_LABEL: SYSTEM_POOL}
    assert not spec.get("tolerations"), "the head must not tolerate the GPU taint"
    for c in spec["containers"]:
        for section in ("requests", "limits"):
            assert "nvidia.com/gpu" not in c["resources"].get(section, {})


def test_the_worker_group_requests_the_gpus_one_replica_needs_on_its_pool(kit, case):
    env, _ = kit.environment(case)
    sizing = replica_sizing(env)
    pool = env.serving_pool()
    group = worker_group(kit, case)
    assert group["groupName"] == pool.name
    # One pod per replica of any served model (docs/models.md): the bounds add up over the models.
    models = resolve_served_models(env)
    assert (group["minReplicas"], group["maxReplicas"]) == (
        sum(m.min_replicas for m in models),
        sum(m.max_replicas for m in models),
    )
    spec = group["template"]["spec"]
    assert spec["nodeSelector"] == {POOL_LABEL: pool.name}
    toleration = {"key": GPU_TAINT["key"], "operator": "Equal", "value": GPU_TAINT["value"], "effect": GPU_TAINT["effect"]}
    assert toleration in spec["tolerations"]
    resources = container(group["template"], "ray-worker")["resources"]
    for section in ("requests", "limits"):
        assert resources[section]["nvidia.com/gpu"] == str(sizing.gpus_per_replica)
        assert resources[section]["cpu"] == str(sizing.worker_cpu)
        assert resources[section]["memory"] == f"{sizing.worker_memory_gib}Gi"
    # One replica per pod: the engine's tensor parallelism is the pod's GPU count.
    assert llm_config(kit, case)["engine_kwargs"]["tensor_parallel_size"] == sizing.gpus_per_replica
    assert llm_config(kit, case)["accelerator_type"] == sizing.ray_accelerator


def test_the_ray_autoscaler_sees_a_worker_group_that_can_host_a_replica_from_zero(kit, case):
    """Ray's own KubeRay autoscaler code reads the rendered groups: with no pod running it must
    still know that a new worker provides the replica's GPUs, CPU and accelerator type."""
    try:
        from ray.autoscaler._private.kuberay.autoscaling_config import _get_ray_resources_from_group_spec
        from ray.llm._internal.serve.core.configs.accelerators import GPUAccelerator
    except ImportError as error:  # private APIs of the pinned Ray
        pytest.skip(f"Ray's autoscaler/LLM internals moved in this Ray version: {error}")
    env, _ = kit.environment(case)
    sizing = replica_sizing(env)
    cluster = rayservice(kit, case)["spec"]["rayClusterConfig"]
    head = _get_ray_resources_from_group_spec(cluster["headGroupSpec"], True)
    assert head.get("CPU") == 0 and not head.get("GPU")
    worker = _get_ray_resources_from_group_spec(worker_group(kit, case), False)
    assert worker["GPU"] == sizing.gpus_per_replica
    assert worker[f"accelerator_type:{sizing.ray_accelerator}"] == 1
    # A replica's placement group: one GPU bundle per TP rank, plus the replica actor's CPU.
    bundles = GPUAccelerator().default_bundles(
        num_devices=llm_config(kit, case)["engine_kwargs"]["tensor_parallel_size"],
        accelerator_type_str=llm_config(kit, case)["accelerator_type"],
    )
    need: dict[str, float] = {"CPU": 1}
    for bundle in bundles:
        for key, amount in bundle.items():
            need[key] = need.get(key, 0) + amount
    short = {k: (v, worker.get(k, 0)) for k, v in need.items() if worker.get(k, 0) < v}
    assert not short, f"one worker pod cannot host one replica: need vs has {short}"


def test_the_worker_group_declares_its_accelerator_for_scale_from_zero(kit, case):
    env, _ = kit.environment(case)
    assert worker_group(kit, case)["resources"] == {f"accelerator_type:{replica_sizing(env).ray_accelerator}": "1"}


def test_ray_autoscaling_is_on_and_bounded_by_the_serving_config(kit, case):
    env, _ = kit.environment(case)
    cluster = rayservice(kit, case)["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    autoscaling = llm_config(kit, case)["deployment_config"]["autoscaling_config"]
    assert autoscaling["min_replicas"] == env.serving.min_replicas
    assert autoscaling["max_replicas"] == env.serving.max_replicas
    assert autoscaling["target_ongoing_requests"] == env.serving.target_ongoing_requests
    capacity = capacity_for(env)
    assert llm_config(kit, case)["deployment_config"]["max_ongoing_requests"] == capacity.max_ongoing_requests


def test_serve_admits_what_the_engine_runs_and_queues_little(kit, case):
    """Serve hands a replica no more than its engine runs (max_num_seqs), and its queue is bounded,
    so overload is a 503 at once (issue #16 'Capacity that pays the API early')."""
    env, _ = kit.environment(case)
    config = llm_config(kit, case)
    seqs = config["engine_kwargs"]["max_num_seqs"]
    deployment = config["deployment_config"]
    assert deployment["max_ongoing_requests"] == seqs == capacity_for(env).max_num_seqs
    assert 1 <= deployment["max_queued_requests"] <= seqs // 4


# --- Serve config ---------------------------------------------------------------------------


def _unknown_keys(model: type, data: object, path: str = "") -> list[str]:
    """Keys Ray's (forward-compatible, extra-ignoring) Serve schema would silently drop."""
    import typing

    from pydantic import BaseModel

    if not (isinstance(data, dict) and isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    found = [f"{path}{k}" for k in data if k not in fields]
    for key, field in fields.items():
        if key not in data:
            continue
        annotation = field.annotation
        args = typing.get_args(annotation)
        inner = args[0] if typing.get_origin(annotation) in (list, typing.List) and args else annotation  # noqa: UP006
        if typing.get_origin(annotation) in (list, typing.List) and isinstance(data[key], list):  # noqa: UP006
            for index, item in enumerate(data[key]):
                found += _unknown_keys(inner, item, f"{path}{key}[{index}].")
        else:
            found += _unknown_keys(annotation, data[key], f"{path}{key}.")
    return found


def test_serve_config_is_valid_for_ray_serve(kit, case):
    from ray.serve.config import AutoscalingConfig
    from ray.serve.schema import ServeDeploySchema

    config = serve_config(kit, case)
    ServeDeploySchema.model_validate(config)
    assert _unknown_keys(ServeDeploySchema, config) == []
    (app,) = config["applications"]
    assert app["import_path"] == "ray.serve.llm:build_openai_app"
    assert app["route_prefix"] == "/"
    AutoscalingConfig.model_validate(app["args"]["llm_configs"][0]["deployment_config"]["autoscaling_config"])
    assert _unknown_keys(AutoscalingConfig, app["args"]["llm_configs"][0]["deployment_config"]["autoscaling_config"]) == []


def test_the_llm_config_is_valid_for_ray_serve_llm(kit, case):
    """LLMConfig imports without vLLM (pyarrow suffices); ray.serve.llm's LLMServingArgs does not
    (it pulls vLLM's protocol models), so the builder's own argument check is repeated here:
    `args` holds `llm_configs`, each a valid LLMConfig with a unique model id, and the ingress's
    actor options. (tests/serving/ray builds the whole app with Ray's own builder.)"""
    try:
        from ray.llm._internal.serve.core.configs.llm_config import LLMConfig
    except ImportError as error:
        pytest.skip(f"Ray Serve LLM's LLMConfig does not import here (it needs pyarrow): {error}")
    from ray.serve.schema import RayActorOptionsSchema

    (app,) = serve_config(kit, case)["applications"]
    # LLMServingArgs' fields: the models, and where the OpenAiIngress replicas run (on the head:
    # tests/serving/ray/test_ray_serve_placement.py).
    assert set(app["args"]) == {"llm_configs", "ingress_deployment_config"}
    assert set(app["args"]["ingress_deployment_config"]) == {"ray_actor_options"}
    RayActorOptionsSchema.model_validate(app["args"]["ingress_deployment_config"]["ray_actor_options"])
    configs = [LLMConfig.model_validate(c) for c in app["args"]["llm_configs"]]
    env, _ = kit.environment(case)
    models = resolve_served_models(env)
    assert [c.model_id for c in configs] == [m.name for m in models], "one llm_config per served model, default first"
    assert [c.max_request_context_length for c in configs] == [m.max_model_len for m in models]
    for config, model in zip(configs, models, strict=True):
        if model.lora is None:
            assert config.lora_config is None
        else:
            assert config.lora_config is not None
            assert config.lora_config.dynamic_lora_loading_path == model.lora_path(kit.weights_bucket(kit.environment(case)[1]))
            assert config.lora_config.max_num_adapters_per_replica == model.lora.max_adapters_per_replica
            assert config.engine_kwargs["enable_lora"] is True
            assert config.engine_kwargs["max_loras"] == model.lora.max_adapters_per_replica


def test_a_fine_tune_is_loaded_only_from_the_copy_its_manifest_verified(kit):
    """The fine-tune's llm_config reads the local directory the verify init container filled, and
    that container runs before Ray starts (init containers run in order, all before the worker)."""
    rs = rayservice(kit, "h100-two-models")
    (app,) = yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"]
    _, finetune = app["args"]["llm_configs"]
    assert finetune["model_loading_config"] == {
        "model_id": "support-20b",
        "model_source": "/home/ray/.cache/checkpoints/support-20b",
    }
    (group,) = rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    (verify,) = [c for c in group["template"]["spec"]["initContainers"] if c["name"] == "verify-support-20b"]
    assert verify["command"][1:] == [
        "/etc/gpt-oss/scripts/verify_checkpoint.py",
        f"--source=s3://{kit.weights_bucket('staging')}/finetunes/support-20b/2026-12-01",
        "--dest=/home/ray/.cache/checkpoints/support-20b",
    ]
    assert {"name": "cache", "mountPath": "/home/ray/.cache"} in verify["volumeMounts"]


def test_engine_arguments_follow_the_gpu_generation_and_nothing_else(kit, case):
    """Exactly the arguments infra/chart_values.engine_kwargs decides: no key left over from the
    chart's defaults (Helm deep-merges maps), TRITON_ATTN on Ampere/Ada only, 8192 batched tokens
    on Hopper only, a pinned revision for Hugging Face weights only."""
    env, _ = kit.environment(case)
    sizing = replica_sizing(env)
    kwargs = llm_config(kit, case)["engine_kwargs"]
    assert kwargs == engine_kwargs(env, sizing)
    assert kwargs["tool_call_parser"] == "openai" and kwargs["enable_auto_tool_choice"] is True
    assert kwargs["max_model_len"] == env.serving.max_model_len
    assert (kwargs.get("attention_backend") == "TRITON_ATTN") == (sizing.gpu_generation in ("ampere", "ada"))
    assert ("max_num_batched_tokens" in kwargs) == (sizing.gpu_generation == "hopper")
    assert (kwargs.get("revision") == env.model.revision) == (env.model.source == "huggingface")


def test_weights_come_from_hugging_face_or_the_environments_bucket(kit, case):
    env, stack = kit.environment(case)
    source = llm_config(kit, case)["model_loading_config"]
    assert source["model_id"] == env.model.name
    if env.model.source == "s3":
        assert source["model_source"] == f"s3://{kit.weights_bucket(stack)}/models/{env.model.hf_repo}/{env.model.revision}"
    else:
        assert source["model_source"] == env.model.hf_repo


# --- tiktoken, readiness --------------------------------------------------------------------


def _env(c: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def test_tiktoken_files_are_staged_before_ray_starts_and_harmony_finds_them(kit, case):
    env, stack = kit.environment(case)
    template = worker_group(kit, case)["template"]
    (init,) = [c for c in template["spec"]["initContainers"] if c["name"] == "stage-tiktoken"]
    args = init["command"]
    source = next(a.split("=", 1)[1] for a in args if a.startswith("--source="))
    if env.model.source == "s3":
        assert source == f"s3://{kit.weights_bucket(stack)}/tiktoken"
    else:
        assert source.startswith("https://")
    assert any(a.startswith("--file=o200k_base.tiktoken=446a9538") for a in args)
    worker = container(template, "ray-worker")
    base = _env(worker)["TIKTOKEN_ENCODINGS_BASE"]
    mounts = {m["mountPath"]: m["name"] for m in worker["volumeMounts"]}
    init_mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    dest = next(a.split("=", 1)[1] for a in args if a.startswith("--dest="))
    assert mounts[base] == init_mounts[dest] == "tiktoken"
    # No Hugging Face at all when weights come from S3 (clusters without egress).
    assert (_env(worker).get("HF_HUB_OFFLINE") == "1") == (env.model.source == "s3")


def test_saturation_never_unreadies_a_worker_and_a_hung_engine_is_restarted(kit, case):
    """Readiness: raylet and Serve proxy only (a generation would queue behind user traffic and
    take every worker out of the Service together). Liveness: the raylet plus engine progress
    while work is pending (files/probe_liveness.py, tested in test_scripts.py)."""
    worker = container(worker_group(kit, case)["template"], "ray-worker")
    readiness = " ".join(worker["readinessProbe"]["exec"]["command"])
    assert "local_raylet_healthz" in readiness and "/-/healthz" in readiness and "completions" not in readiness
    assert worker["readinessProbe"]["failureThreshold"] >= 3, "one slow answer must not unready a worker"
    liveness = worker["livenessProbe"]
    command = liveness["exec"]["command"]
    assert command[:2] == ["python", "/etc/gpt-oss/scripts/probe_liveness.py"]
    stall = float(next(a.split("=", 1)[1] for a in command if a.startswith("--stall-seconds=")))
    timeout = float(next(a.split("=", 1)[1] for a in command if a.startswith("--timeout=")))
    assert stall >= 60 and 2 * timeout <= liveness["timeoutSeconds"], "the script must give up before the kubelet kills it"
    mounts = {m["mountPath"]: m["name"] for m in worker["volumeMounts"]}
    assert mounts["/etc/gpt-oss/scripts"] == "scripts" and "/tmp" in mounts, "the probe keeps its state in /tmp"
    # The ConfigMap carries the tested scripts byte for byte.
    scripts = kit.one(kit.rendered_docs(case), "ConfigMap", "gpt-oss-ray-scripts")["data"]
    for name in ("probe_liveness.py", "stage_tiktoken.py"):
        assert scripts[name].rstrip("\n") == (CHART_DIR / "files" / name).read_text().rstrip("\n")


def test_ray_containers_run_unprivileged_with_a_read_only_root(kit, case):
    for role, template in kit.ray_pod_templates(rayservice(kit, case)):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, role
        volumes = {v["name"] for v in spec["volumes"]}
        for c in spec["containers"] + spec.get("initContainers", []):
            context = c["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, f"{role}/{c['name']}"
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert {m["name"] for m in c["volumeMounts"]} <= volumes
            assert "/tmp" in {m["mountPath"] for m in c["volumeMounts"]}


# --- Upgrades, fault tolerance --------------------------------------------------------------


def test_the_upgrade_strategy_and_its_gpu_headroom_follow_the_environment(kit, case):
    env, _ = kit.environment(case)
    service = rayservice(kit, case)
    assert service["spec"]["upgradeStrategy"] == {"type": env.serving.upgrade_strategy}
    headroom = int(service["metadata"]["annotations"]["gpt-oss.platform/upgrade-gpu-headroom"])
    if env.serving.upgrade_strategy == "NewCluster":
        assert headroom == max(env.serving.min_replicas, 1) * replica_sizing(env).gpus_per_replica
        pool = env.serving_pool()
        assert headroom + env.serving.min_replicas * replica_sizing(env).gpus_per_replica <= pool.max_nodes * pool.gpus_per_node
    else:
        assert headroom == 0


def test_gcs_fault_tolerance_uses_the_configured_redis(kit, case):
    env, _ = kit.environment(case)
    cluster = rayservice(kit, case)["spec"]["rayClusterConfig"]
    ft = env.serving.gcs_fault_tolerance
    if not ft.enabled:
        assert "gcsFaultToleranceOptions" not in cluster
        return
    options = cluster["gcsFaultToleranceOptions"]
    address = kit.GCS_REDIS if ft.managed else ft.redis_address
    assert options["redisAddress"] == address
    if ft.redis_password_secret:
        assert options["redisPassword"]["valueFrom"]["secretKeyRef"] == {"name": ft.redis_password_secret, "key": "password"}
    else:
        assert "redisPassword" not in options, "the managed store is reachable only from the cluster; no AUTH"
    # The head may reach Redis's port.
    policy = kit.one(kit.rendered_docs(case), "NetworkPolicy", "gpt-oss-ray-head")
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert int(address.rsplit(":", 1)[1]) in ports


def test_a_pool_that_scales_to_zero_keeps_the_head_in_the_serve_service(kit, case):
    env, _ = kit.environment(case)
    excluded = rayservice(kit, case)["spec"]["excludeHeadPodFromServeSvc"]
    assert excluded is (env.serving.min_replicas > 0)


# --- Network policies and budgets -----------------------------------------------------------


def _pod_labels(kit, case) -> dict[str, dict]:
    docs = kit.rendered_docs(case)
    pods = {role: t["metadata"]["labels"] for role, t in kit.ray_pod_templates(kit.one(docs, "RayService"))}
    pods["gateway"] = kit.one(docs, "Deployment", "gpt-oss-gateway")["spec"]["template"]["metadata"]["labels"]
    return pods


def test_every_pod_is_covered_by_a_network_policy_and_a_disruption_budget(kit, case):
    docs = kit.rendered_docs(case)
    pods = _pod_labels(kit, case)
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for role, labels in pods.items():
        covering = [p["metadata"]["name"] for p in policies if selector_matches(p["spec"]["podSelector"], labels)]
        assert len(covering) == 1, f"{role} is selected by {covering}"
        if role != "head":  # one head pod: a budget on it would block every node drain
            assert any(selector_matches(b["spec"]["selector"], labels) for b in budgets), role


def test_a_budget_over_ray_pods_is_an_integer_minimum_below_the_warm_workers(kit, case):
    """The disruption controller sizes `maxUnavailable` (and percentages) from the scale of the
    pods' controller; the pinned RayCluster CRD has no scale subresource, so such a budget would
    allow no eviction at all (kubernetes pkg/controller/disruption/disruption.go). An integer
    `minAvailable` below the warm workers lets a drain take one at a time."""
    import yaml

    from infra import upstream

    crd = yaml.safe_load(upstream.crd_file("ray.io_rayclusters.yaml").read_text())
    assert all("scale" not in (v.get("subresources") or {}) for v in crd["spec"]["versions"]), "RayCluster gained /scale"
    docs = kit.rendered_docs(case)
    pods = _pod_labels(kit, case)
    workers = sum(g["minReplicas"] for g in kit.one(docs, "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"])
    for budget in (d for d in docs if d["kind"] == "PodDisruptionBudget"):
        ray_roles = [r for r, labels in pods.items() if r != "gateway" and selector_matches(budget["spec"]["selector"], labels)]
        if not ray_roles:
            continue
        spec = budget["spec"]
        assert "maxUnavailable" not in spec and isinstance(spec.get("minAvailable"), int), (budget["metadata"]["name"], spec)
        assert spec["minAvailable"] == max(workers - 1, 0), (spec, workers)


def test_model_pods_accept_traffic_only_from_ray_the_gateway_prometheus_and_kuberay(kit, case):
    docs = kit.rendered_docs(case)
    pods = _pod_labels(kit, case)
    for name in ("gpt-oss-ray-head", "gpt-oss-ray-worker"):
        policy = kit.one(docs, "NetworkPolicy", name)
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        for rule in policy["spec"]["ingress"]:
            ports = sorted(p["port"] for p in rule.get("ports", []))
            peers = rule["from"]
            ray_peers = [
                p
                for p in peers
                if "podSelector" in p
                and "namespaceSelector" not in p
                and any(selector_matches(p["podSelector"], pods[r]) for r in pods if r != "gateway")
            ]
            gateway_peers = [
                p
                for p in peers
                if "podSelector" in p and "namespaceSelector" not in p and selector_matches(p["podSelector"], pods["gateway"])
            ]
            if ray_peers:
                assert ray_peers == peers and not ports  # intra-cluster Ray traffic, all ports
            elif gateway_peers:
                assert gateway_peers == peers and ports == [8000]
            else:
                (peer,) = peers
                namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                assert namespace in ("monitoring", "kuberay-system"), peer
                assert ports == ([8080] if namespace == "monitoring" else [8000, 8265])
                if namespace == "kuberay-system":
                    assert name == "gpt-oss-ray-head"
        assert not any("ipBlock" in peer for rule in policy["spec"]["ingress"] for peer in rule["from"])


def test_model_pods_egress_only_to_ray_dns_weights_and_the_api_server(kit, case):
    policy = kit.one(kit.rendered_docs(case), "NetworkPolicy", "gpt-oss-ray-worker")
    port_sets = sorted(sorted((p["protocol"], p["port"]) for p in r.get("ports", [])) for r in policy["spec"]["egress"])
    assert port_sets == sorted([[], [("TCP", 53), ("UDP", 53)], [("TCP", 443)], [("TCP", 80)]])
    (agent,) = [r for r in policy["spec"]["egress"] if r.get("ports") == [{"protocol": "TCP", "port": 80}]]
    assert agent["to"] == [{"ipBlock": {"cidr": "169.254.170.23/32"}}]


def test_the_gateway_reaches_only_the_serve_port_the_managed_api_the_shared_store_and_dns(kit, case):
    docs = kit.rendered_docs(case)
    policy = kit.one(docs, "NetworkPolicy", "gpt-oss-gateway")
    pods = _pod_labels(kit, case)
    egress = policy["spec"]["egress"]
    values = kit.values(case)
    rules = list(egress)
    store = values["gateway"]["settings"].get("shared_store")
    override = values["routeOverride"]["enabled"]
    ray_rule, api_rule = rules[0], rules[1]
    dns_rule = rules[-1]
    assert len(rules) == 3 + bool(store) + bool(override)
    extra = rules[2:-1]
    if store:
        # The Redis the pods share limits and spend through (the GCS store), on its port, in the VPC.
        store_rule = extra.pop(0)
        port = int(values["rayService"]["gcsFaultTolerance"]["redisAddress"].rsplit(":", 1)[1])
        assert store_rule["ports"] == [{"protocol": "TCP", "port": port}]
        assert [p["ipBlock"] for p in store_rule["to"]] == values["networkPolicy"]["redisEgress"]
    if override:
        # The drain switch: the Kubernetes API (the VPC's control-plane ENIs) on 443, nothing else.
        kube_rule = extra.pop(0)
        assert kube_rule["ports"] == [{"protocol": "TCP", "port": 443}]
        assert kube_rule["to"] == [{"ipBlock": block} for block in values["networkPolicy"]["kubeApiServer"]]
    assert ray_rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert all(any(selector_matches(p["podSelector"], pods[r]) for p in ray_rule["to"]) for r in pods if r != "gateway")
    assert api_rule["ports"] == [{"protocol": "TCP", "port": 443}]
    for peer in api_rule["to"]:
        assert "10.0.0.0/8" in peer["ipBlock"]["except"], "the managed-API rule must not open the VPC"
    assert sorted(p["port"] for p in dns_rule["ports"]) == [53, 53]
    ingress = kit.values(case)["gateway"]["ingress"]
    # In-cluster clients and (with the load balancer) the clients it admits on 8080; Prometheus on
    # the metrics port (the series name teams and spend) and, with the drain switch, the API
    # server's addresses there too (drain --status reads each pod through the pod proxy), last.
    client_rules = 2 if ingress["enabled"] else 1
    expected = [8080] * client_rules + [GATEWAY_METRICS_PORT] * (1 + bool(override))
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == expected
    prometheus_rule = policy["spec"]["ingress"][client_rules]
    assert all("podSelector" in peer and "ipBlock" not in peer for peer in prometheus_rule["from"])
    if override:
        proxy_rule = policy["spec"]["ingress"][-1]
        assert proxy_rule["from"] == [{"ipBlock": block} for block in values["networkPolicy"]["kubeApiServer"]]
        assert all(not block["cidr"].startswith("0.0.0.0") for block in values["networkPolicy"]["kubeApiServer"])
    if ingress["enabled"]:
        admitted = [peer["ipBlock"]["cidr"] for peer in policy["spec"]["ingress"][1]["from"]]
        assert admitted == ingress["sourceCidrs"] and "0.0.0.0/0" not in admitted


def test_the_load_balancer_terminates_tls_admits_its_sources_and_carries_the_cost_tags(kit):
    docs = kit.rendered_docs("prod")
    service = kit.one(docs, "Service", "gpt-oss-gateway-lb")
    annotations = service["metadata"]["annotations"]
    # cloud-provider-aws service controller annotations (docs/service_controller.md), valid for NLB.
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"].startswith("arn:aws:acm:")
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "443"
    tags = dict(
        pair.split("=", 1)
        for pair in annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"].split(",")
    )
    env, stack = kit.environment("prod")
    assert tags == cost_tags(env, stack)
    assert service["spec"]["externalTrafficPolicy"] == "Local", "the client address must reach the NetworkPolicy"
    assert service["spec"]["loadBalancerSourceRanges"] == [env.cluster.effective_network.vpc_cidr]
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "http", "protocol": "TCP"}]
    assert not any(d["kind"] == "Service" and d["metadata"]["name"] == "gpt-oss-gateway-lb" for d in kit.rendered_docs("dev"))


# --- Gateway --------------------------------------------------------------------------------


def test_the_gateway_runs_as_the_contract_says(kit, case):
    from infra.gateway_settings import settings_for_environment

    env, _ = kit.environment(case)
    docs = kit.rendered_docs(case)
    deployment = kit.one(docs, "Deployment", "gpt-oss-gateway")
    pod = deployment["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    # Pulled by digest only: what CI built and recorded, never a tag that can move.
    assert c["image"] == kit.GATEWAY_IMAGE
    assert c["command"] == ["python", "-m", "serving.gateway", "--config", "/etc/gateway/config/gateway.json"]
    assert c["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": GATEWAY_METRICS_PORT, "protocol": "TCP"},
    ]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsUser"] == c["securityContext"]["runAsUser"] == 10001
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["nodeSelector"] == {POOL_LABEL: SYSTEM_POOL} and not pod.get("tolerations")
    # Secrets travel as files, never as environment variables; the only variable is the shared
    # store's address (not a secret), where the settings name one.
    store = kit.values(case)["gateway"]["settings"].get("shared_store")
    expected_env = (
        [{"name": store["address_env"], "value": kit.values(case)["rayService"]["gcsFaultTolerance"]["redisAddress"]}]
        if store
        else []
    )
    assert c.get("env", []) == expected_env
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config = volumes[mounts["/etc/gateway/config"]]["configMap"]
    assert config["items"] == [{"key": "gateway.json", "path": "gateway.json"}]
    clients = volumes[mounts["/etc/gateway/clients"]]["secret"]
    assert clients["secretName"] == "gpt-oss-gateway-clients"
    assert clients["items"] == [{"key": "clients.json", "path": "clients.json"}]
    managed = volumes[mounts["/etc/gateway/managed"]]["secret"]
    assert managed["secretName"] == "gpt-oss-managed-api-key"
    assert managed["items"] == [{"key": "api-key", "path": "api-key"}]
    assert managed["optional"] is (not env.fallback.allowed)
    settings = kit.one(docs, "ConfigMap", config["name"])["data"]["gateway.json"]
    assert json.loads(settings) == settings_for_environment(env, primary_base_url=PRIMARY_BASE_URL)
    service = kit.one(docs, "Service", "gpt-oss-gateway")
    assert service["spec"]["ports"][0]["port"] == 8080
    assert selector_matches({"matchLabels": service["spec"]["selector"]}, deployment["spec"]["template"]["metadata"]["labels"])
    hpa = kit.one(docs, "HorizontalPodAutoscaler", "gpt-oss-gateway")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (env.gateway.min_replicas, env.gateway.max_replicas)
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"


def test_a_new_gateway_settings_object_rolls_the_gateway_pods(kit):
    values = json.loads(json.dumps(kit.values("prod")))
    before = kit.one(kit.documents(kit.render(values)), "Deployment", "gpt-oss-gateway")
    values["gateway"]["settings"]["changed"] = True
    after = kit.one(kit.documents(kit.render(values)), "Deployment", "gpt-oss-gateway")
    key = "checksum/config"
    assert before["spec"]["template"]["metadata"]["annotations"][key] != after["spec"]["template"]["metadata"]["annotations"][key]


# --- Metrics and dashboard ------------------------------------------------------------------


def test_monitors_select_pods_and_ports_that_exist(kit, case):
    """prometheus-operator CRDs are not in kubernetes_validate: check the monitors structurally."""
    docs = kit.rendered_docs(case)
    pods = _pod_labels(kit, case)
    podmonitor = kit.one(docs, "PodMonitor", "gpt-oss-ray")
    assert podmonitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert podmonitor["spec"]["namespaceSelector"] == {"matchNames": ["gpt-oss"]}
    service = rayservice(kit, case)
    for role, template in kit.ray_pod_templates(service):
        assert selector_matches(podmonitor["spec"]["selector"], template["metadata"]["labels"]), role
        ports = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
        assert {e["port"] for e in podmonitor["spec"]["podMetricsEndpoints"]} <= ports
    servicemonitor = kit.one(docs, "ServiceMonitor", "gpt-oss-gateway")
    gateway_service = kit.one(docs, "Service", "gpt-oss-gateway")
    assert servicemonitor["spec"]["selector"]["matchLabels"].items() <= gateway_service["metadata"]["labels"].items()
    # /metrics has a port of its own (serving/gateway/metrics_http.py), never the client port.
    assert [e["port"] for e in servicemonitor["spec"]["endpoints"]] == ["metrics"]
    metrics_port = next(p for p in gateway_service["spec"]["ports"] if p["name"] == "metrics")
    container = kit.one(docs, "Deployment", "gpt-oss-gateway")["spec"]["template"]["spec"]["containers"][0]
    gateway_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert metrics_port["targetPort"] == "metrics" and gateway_ports["metrics"] == metrics_port["port"] != gateway_ports["http"]
    assert servicemonitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert selector_matches({"matchLabels": gateway_service["spec"]["selector"]}, pods["gateway"])


def test_monitors_are_not_rendered_unless_asked_for(kit):
    values = json.loads(json.dumps(kit.values("dev")))
    values["metrics"]["podMonitor"]["enabled"] = False
    values["gateway"]["serviceMonitor"]["enabled"] = False
    values["governor"]["podMonitor"]["enabled"] = False
    kinds = {d["kind"] for d in kit.documents(kit.render(values))}
    assert not kinds & {"PodMonitor", "ServiceMonitor"}


def test_the_grafana_dashboard_is_provisioned_and_uses_metrics_ray_exports(kit):
    import re

    import ray.dashboard.modules.metrics.dashboards as ray_dashboards

    configmap = kit.one(kit.rendered_docs("prod"), "ConfigMap", "gpt-oss-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["gpt-oss-serving.json"])
    assert dashboard["uid"] == "gpt-oss-serving"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("replicas", "first token", "tokens per second", "kv cache", "queue", "gpu utilisation"):
        assert topic in titles, topic
    # Every Ray metric the dashboard queries is one Ray's own dashboards query (same Ray version).
    known = set()
    for path in Path(ray_dashboards.__file__).parent.glob("*.py"):
        known |= set(re.findall(r"\b(ray_[a-z_:]+|autoscaler_[a-z_]+)", path.read_text()))
    used = {m for e in exprs for m in re.findall(r"\b(ray_[a-z_:]+)", e)}
    assert used and used <= known, f"not exported by Ray {RAY_VERSION}: {sorted(used - known)}"


# --- Refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda v: v["ray"].update(typo=1), "HelmValuesError", "additional properties 'typo' not allowed"),
        (lambda v: v["serve"].update(acceleratorType="H200"), "HelmRenderError", "no worker pod could host a replica"),
        (
            lambda v: v["serve"]["engine"].update(tensorParallelSize=2),
            "HelmRenderError",
            "must equal serve.engine.tensorParallelSize",
        ),
        (lambda v: v["gateway"].update(settings={}), "HelmValuesError", "settings"),
        (lambda v: v["rayService"]["gcsFaultTolerance"].update(enabled=True, redisAddress=""), "HelmValuesError", "redisAddress"),
        (lambda v: v["ray"]["workerGroups"][0].update(maxReplicas=3), "HelmRenderError", "below serve.autoscaling.maxReplicas"),
    ],
    ids=["unknown-key", "accelerator-mismatch", "tp-vs-gpus", "gateway-without-settings", "gcs-ft-without-redis", "too-few-pods"],
)
def test_the_chart_refuses_inconsistent_values_with_the_reason(kit, change, error, message):
    values = json.loads(json.dumps(kit.values("prod")))
    change(values)
    with pytest.raises(Exception) as raised:
        kit.render(values)
    assert type(raised.value).__name__ == error
    assert message in str(raised.value)


def test_helm_lint_passes_strictly_for_every_case(kit, case):
    import helm_python as helm

    version = f"v{kit.KUBERNETES_VERSION}.0"
    report = helm.lint(str(CHART_DIR), kit.values(case), strict=True, namespace="gpt-oss", kube_version=version)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert not problems, problems


def test_chart_defaults_render_on_their_own(kit):
    """values.yaml alone is a working standalone install (gpt-oss-20b on L4, gateway off)."""
    docs = kit.documents(kit.render({}))
    assert {d["kind"] for d in docs} >= {"RayService", "NetworkPolicy", "PodDisruptionBudget", "ConfigMap"}
    assert not [d for d in docs if d["kind"] == "Deployment"]


def test_a_chart_bump_or_a_gateway_change_does_not_restart_the_gpu_cluster(kit, tmp_path):
    """KubeRay hashes rayClusterConfig; any change there starts an upgrade (with NewCluster a
    second set of GPUs and a model reload). Only cluster-relevant edits may change it."""
    import shutil

    import helm_python as helm

    def cluster(values, chart_dir=CHART_DIR):
        with helm.Chart.load(str(chart_dir)) as chart:
            docs = kit.documents(chart.render(values=values, name="gpt-oss", namespace="gpt-oss"))
        return kit.one(docs, "RayService")["spec"]["rayClusterConfig"]

    values = json.loads(json.dumps(kit.values("prod")))
    before = cluster(values)
    bumped = tmp_path / "gpt-oss-serving"
    shutil.copytree(CHART_DIR, bumped)
    chart_yaml = (bumped / "Chart.yaml").read_text().replace("version: 0.1.0", "version: 0.1.1")
    (bumped / "Chart.yaml").write_text(chart_yaml)
    assert cluster(values, bumped) == before
    values["gateway"]["settings"]["changed"] = True
    values["serve"]["autoscaling"]["maxReplicas"] = 3
    assert cluster(values) == before, "gateway and serveConfigV2 changes apply without a new cluster"
    values["ray"]["head"]["resources"]["memory"] = "6Gi"
    assert cluster(values) != before
