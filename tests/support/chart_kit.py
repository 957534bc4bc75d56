"""The serving chart's test kit: environments and edge scenarios, rendered once per session
with Helm's own engine (helm-python-sdk binds Helm's Go SDK; no helm binary, no cluster).
Used by tests/charts/ (as the `kit` fixture) and tests/runbooks/ (the alert rules).

Scenarios are the three stacks plus the edge cases of the serving issue, each a typed
EnvironmentConfig derived from a stack file by editing only what the scenario is about:
- l4-20b: gpt-oss-20b on one L4 (g6.xlarge), on-demand, one warm replica;
- h100-120b-tp1: gpt-oss-120b on H100 at TP=1 (prod as it is, GCS fault tolerance on);
- l40s-120b-tp2: gpt-oss-120b on 4x L40S nodes (g6e.12xlarge), two GPUs per replica (TP=2);
- spot-dev-scale-to-zero: dev as it is, spot only, min_replicas 0;
- h100-two-models: staging's 120b plus a 20b fine-tune with an adapter (docs/models.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from contracts import NAMESPACE, RELEASE
from infra.chart_values import StackOutputs, chart_values
from infra.config import EnvironmentConfig, read_stack_file, validate_environment
from infra.config.load import ENVIRONMENT_KEY, PROJECT
from infra.paths import CHART_DIR

# Kubernetes version the rendered manifests are validated against; every stack runs it
# (tests/charts/test_kubernetes_schema.py checks that).
KUBERNETES_VERSION = "1.35"
STACKS = ("dev", "staging", "prod")
GOLDEN_DIR = Path(__file__).resolve().parents[1] / "charts" / "golden"


# What the program passes for a managed GCS store (the ElastiCache primary endpoint).
GCS_REDIS = "gpt-oss-gcs-redis.x1y2z3.ng.0001.use1.cache.amazonaws.com:6379"
# The gateway image as CI records it: this account's ECR repository, by digest.
GATEWAY_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-gateway@sha256:" + "ab" * 32
# The governor image likewise, from its own repository.
GOVERNOR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss-governor@sha256:" + "cd" * 32


def outputs(env: EnvironmentConfig, stack: str, **overrides: Any) -> StackOutputs:
    """What the running stack would hand the chart values (fixed stand-ins for tests)."""
    fields: dict[str, Any] = {
        "gateway_image": GATEWAY_IMAGE,
        "service_cidr": env.cluster.effective_network.service_cidr,
        "weights_bucket": weights_bucket(stack),
        "gcs_redis_address": GCS_REDIS,
        "governor_image": GOVERNOR_IMAGE,
    }
    fields.update(overrides)
    return StackOutputs(**fields)


def weights_bucket(stack: str) -> str:
    """A fixed bucket name for tests and golden files (Pulumi names the real one)."""
    return f"gpt-oss-{stack}-weights-example"


def _raw(stack: str) -> dict[str, Any]:
    return copy.deepcopy(read_stack_file(stack)[f"{PROJECT}:{ENVIRONMENT_KEY}"])


def _l4_20b() -> dict[str, Any]:
    raw = _raw("dev")
    raw["node_pools"][0].update(capacity_type="on_demand", min_nodes=1, max_nodes=2)
    raw["serving"].update(min_replicas=1, max_replicas=1, upgrade_strategy="NewCluster")
    return raw


def _l40s_120b_tp2() -> dict[str, Any]:
    raw = _raw("staging")
    raw["node_pools"][0].update(name="gpu-l40s", gpu="L40S", instance_type="g6e.12xlarge", min_nodes=1, max_nodes=2)
    raw["serving"].update(min_replicas=1, max_replicas=2)
    return raw


# A fine-tune of gpt-oss-20b as `models stage` leaves it: local copies of its manifest and config.json.
FINETUNE_DIR = "tests/support/models/support-20b"


def _h100_two_models() -> dict[str, Any]:
    """staging's gpt-oss-120b plus a gpt-oss-20b fine-tune with a LoRA adapter, on the same H100 pool."""
    raw = _raw("staging")
    raw["node_pools"][0].update(max_nodes=4)
    raw["served_models"] = {
        "additional": [
            {
                "name": "support-20b",
                "base": "gpt-oss-20b",
                "weights": {
                    "source": "s3",
                    "prefix": "finetunes/support-20b/2026-12-01",
                    "manifest": f"{FINETUNE_DIR}/manifest.json",
                    "config": f"{FINETUNE_DIR}/config.json",
                },
                "min_replicas": 0,
                "max_replicas": 1,
                "lora": {"adapters": [{"name": "billing"}], "max_adapters_per_replica": 2},
            }
        ]
    }
    return raw


SCENARIOS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    # name: (stack whose tags and cluster it keeps, raw environment)
    "l4-20b": ("dev", _l4_20b),
    "h100-120b-tp1": ("prod", lambda: _raw("prod")),
    "l40s-120b-tp2": ("staging", _l40s_120b_tp2),
    "spot-dev-scale-to-zero": ("dev", lambda: _raw("dev")),
    "h100-two-models": ("staging", _h100_two_models),
}
ALL_CASES = (*STACKS, *SCENARIOS)


@cache
def environment(case: str) -> tuple[EnvironmentConfig, str]:
    """(typed environment, stack name) of a stack or a scenario."""
    if case in STACKS:
        return validate_environment(_raw(case), stack=case), case
    stack, build = SCENARIOS[case]
    return validate_environment(build(), stack=stack), stack


@cache
def values(case: str) -> dict[str, Any]:
    env, stack = environment(case)
    return chart_values(env, stack, outputs(env, stack))


def render(values_: dict[str, Any]) -> dict[str, str]:
    import helm_python as helm

    with helm.Chart.load(str(CHART_DIR)) as chart:
        return chart.render(values=values_, name=RELEASE, namespace=NAMESPACE, is_install=True)


def documents(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Rendered manifests split on `---`, empty documents dropped, in template order."""
    out = []
    for template in sorted(rendered):
        for document in yaml.safe_load_all(rendered[template]):
            if document:
                out.append(document)
    return out


@cache
def rendered_text(case: str) -> dict[str, str]:
    return render(values(case))


def rendered_docs(case: str) -> list[dict[str, Any]]:
    return copy.deepcopy(documents(rendered_text(case)))


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def ray_pod_templates(rayservice: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role, pod template) of the head and of every worker group."""
    cluster = rayservice["spec"]["rayClusterConfig"]
    templates = [("head", cluster["headGroupSpec"]["template"])]
    templates += [(f"worker:{g['groupName']}", g["template"]) for g in cluster["workerGroupSpecs"]]
    return templates


def synthetic_pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods built from the RayService's pod templates, as KubeRay would create them (before its
    own injections), so that schema validation and the security scan see the Ray pods too:
    neither knows the RayService kind."""
    pods = []
    for rayservice in (d for d in docs if d["kind"] == "RayService"):
        for role, template in ray_pod_templates(rayservice):
            name = f"{rayservice['metadata']['name']}-{role.replace(':', '-')}"
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": rayservice["metadata"]["namespace"],
                        "labels": template["metadata"].get("labels", {}),
                        "annotations": template["metadata"].get("annotations", {}),
                    },
                    "spec": copy.deepcopy(template["spec"]),
                }
            )
    return pods
