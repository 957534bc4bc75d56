"""The files `bench replica --env ENV` writes: a Kubernetes Job that runs the plan's `vllm bench
serve` commands on the environment's Ray image, a NetworkPolicy that lets it reach the Serve proxy,
and a README with the steps.

How results come back: the pod's filesystem is gone once the Job completes (`kubectl cp` needs a
running container), so after each run the script prints a marker line `RESULT_MARKER <file>` and
the result JSON on the next line; `kubectl logs job/<name>` carries them out and
`bench replica --collect LOGFILE` reads them (infra/bench_replica/collect.py).
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from contracts import APPLICATION, NAMESPACE, NODE_POOL_LABEL, RELEASE, SERVE_PORT
from infra.bench_replica.plan import RESULT_DIR, SHAREGPT_PATH, ReplicaBenchPlan
from infra.config.models import EnvironmentConfig
from infra.node_pool_shape import GPU_TOLERATION
from infra.tags import k8s_labels
from infra.versions import RAY_GID, RAY_UID

JOB_NAME = f"{RELEASE}-replica-bench"
COMPONENT = "replica-bench"
RESULT_MARKER = "=== gpt-oss-bench-result"
FAILED_MARKER = "=== gpt-oss-bench-failed"
DONE_MARKER = "=== gpt-oss-bench-done"
# The client is one asyncio process; ShareGPT's JSON (~670 MB) is parsed whole by json.load
# (vllm/benchmarks/datasets/datasets.py ShareGPTDataset.load_data), several GB of Python objects.
RESOURCES = {
    "requests": {"cpu": "2", "memory": "6Gi", "ephemeral-storage": "4Gi"},
    "limits": {"memory": "8Gi", "ephemeral-storage": "6Gi"},
}
# One run: vLLM's client waits up to 6 h for a request (AIOHTTP_TIMEOUT, vllm/benchmarks/lib/
# endpoint_request_func.py:20), so a hung replica would stall the sweep for hours. A run is cut
# at 2 h (its failed marker then says exit 124) and the sweep goes on; not measured: if a slow
# GPU's long-context level needs longer, raise this.
RUN_TIMEOUT_S = 2 * 3600
# The whole sweep: a Job that outlives a day is stuck, not slow.
ACTIVE_DEADLINE_S = 24 * 3600
# Kept a week after it finishes so its log can still be read.
TTL_AFTER_FINISHED_S = 7 * 24 * 3600


def _labels(env: EnvironmentConfig) -> dict[str, str]:
    # The cost labels and app.kubernetes.io/* of every object (infra/tags.py); applied with kubectl
    # by the user, not by the Pulumi program, so managed-by says so.
    return k8s_labels(env, env.name, JOB_NAME) | {
        "app.kubernetes.io/managed-by": "kubectl",
        "app.kubernetes.io/component": COMPONENT,
    }


def _selector(env: EnvironmentConfig) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": JOB_NAME,
        "app.kubernetes.io/instance": f"{APPLICATION}-{env.name}",
        "app.kubernetes.io/component": COMPONENT,
    }


def script(plan: ReplicaBenchPlan) -> str:
    """The container's shell script: fetch ShareGPT when a run needs it, then every run, each
    result printed after its marker. A failed run is reported and the sweep goes on: the levels
    below it are still worth having."""
    lines = [
        "set -u",
        f"mkdir -p {RESULT_DIR}",
        "run() {",
        '  file="$1"; shift',
        f'  if timeout {RUN_TIMEOUT_S} "$@"; then',
        f'    echo "{RESULT_MARKER} $file"; cat "{RESULT_DIR}/$file"; echo',
        "  else",
        f'    echo "{FAILED_MARKER} $file exit $?"',
        "  fi",
        "}",
    ]
    if plan.needs_sharegpt:
        download = (
            "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2]); print('ShareGPT:', sys.argv[2])"
        )
        lines.append(f"python -c {shlex.quote(download)} {shlex.quote(plan.sharegpt_url)} {SHAREGPT_PATH} || exit 1")
    for run in plan.runs:
        lines.append(f"run {run.result_filename} {run.command}")
    lines.append(f'echo "{DONE_MARKER}"')
    return "\n".join(lines) + "\n"


def job_manifest(env: EnvironmentConfig, plan: ReplicaBenchPlan) -> dict[str, Any]:
    pool = env.serving_pool()
    security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RAY_UID,
        "runAsGroup": RAY_GID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    scratch = [
        ("tmp", "/tmp", "2Gi"),
        ("cache", "/home/ray/.cache", "2Gi"),  # the tokenizer (Hugging Face cache)
        ("results", RESULT_DIR, "64Mi"),
        ("data", "/data", "2Gi"),  # ShareGPT
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": JOB_NAME,
            "namespace": NAMESPACE,
            "labels": _labels(env),
            "annotations": {
                "gpt-oss.platform/image-pinned": "digest" if plan.image_pinned else "tag-only",
                "gpt-oss.platform/bench-shapes": ",".join(s.name for s in plan.shapes),
            },
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": ACTIVE_DEADLINE_S,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S,
            "template": {
                "metadata": {"labels": _labels(env)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RAY_UID,
                        "runAsGroup": RAY_GID,
                        "fsGroup": RAY_GID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    # Tolerates the GPU taint and prefers the serving pool, whose nodes already hold
                    # the ~11.6 GB Ray image; preferred, not required, so that a full GPU node never
                    # makes the autoscaler buy another GPU node for a CPU-only client.
                    "tolerations": [GPU_TOLERATION],
                    "affinity": {
                        "nodeAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "preference": {
                                        "matchExpressions": [{"key": NODE_POOL_LABEL, "operator": "In", "values": [pool.name]}]
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [
                        {
                            "name": "vllm-bench",
                            "image": plan.image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["bash", "-c", script(plan)],
                            "env": [
                                {"name": "HF_HOME", "value": "/home/ray/.cache/huggingface"},
                                {"name": "XDG_CONFIG_HOME", "value": "/tmp/.config"},
                                {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                                {"name": "DO_NOT_TRACK", "value": "1"},
                            ],
                            "resources": RESOURCES,
                            "securityContext": security,
                            "volumeMounts": [{"name": name, "mountPath": path} for name, path, _ in scratch],
                        }
                    ],
                    "volumes": [{"name": name, "emptyDir": {"sizeLimit": size}} for name, _, size in scratch],
                },
            },
        },
    }


def network_policy(env: EnvironmentConfig) -> dict[str, Any]:
    """Lets the bench pod reach the Serve proxy: the chart's policies admit only the gateway there
    (templates/networkpolicy-ray.yaml), and NetworkPolicies add up, so this one opens port
    SERVE_PORT on the Ray pods to the bench pod alone. Delete it with the Job."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": JOB_NAME, "namespace": NAMESPACE, "labels": _labels(env)},
        "spec": {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/instance": f"{APPLICATION}-{env.name}",
                    "app.kubernetes.io/part-of": APPLICATION,
                },
                "matchExpressions": [
                    {"key": "app.kubernetes.io/component", "operator": "In", "values": ["ray-head", "ray-worker"]}
                ],
            },
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": _selector(env)}}],
                    "ports": [{"protocol": "TCP", "port": SERVE_PORT}],
                }
            ],
        },
    }


class _BlockDumper(yaml.SafeDumper):
    """Writes the container's script as a literal block, readable in review."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _string)


def manifests_yaml(env: EnvironmentConfig, plan: ReplicaBenchPlan) -> str:
    header = (
        f"# `gpt-oss-platform bench replica --env {env.name}`: a vllm bench serve sweep against one replica.\n"
        "# Generated; see README.md beside this file.\n"
    )
    return header + yaml.dump_all(
        [network_policy(env), job_manifest(env, plan)], Dumper=_BlockDumper, sort_keys=False, width=1000
    )


def readme(env: EnvironmentConfig, plan: ReplicaBenchPlan, manifest_name: str) -> str:
    shapes = "\n".join(f"- `{s.name}`: {s.description}" for s in plan.shapes)
    sweep = ", ".join(str(c) for c in plan.sweep)
    if plan.image_pinned:
        image_note = f"`{plan.image}`, pulled by digest (the release pins' `ray_image.digest`)."
    else:
        image_note = (
            f"`{plan.image}`, pulled BY TAG: the release pins of {env.name} have no Ray image digest yet "
            "(`ray_image.digest: null` in environments/pins), so the tag is a placeholder for what will be pinned. "
            "The replica runs the same tag today; record the digest (`gpt-oss-platform pins set`) and re-render "
            "to measure exactly what a release deploys."
        )
    if env.account.image_cache != "off":
        image_note += (
            " This environment pulls the Ray image through its ECR pull-through cache; pass "
            "`--image-repository <account>.dkr.ecr.<region>.amazonaws.com/docker-hub/rayproject/ray-llm` to use it."
        )
    sharegpt = (
        f"The `sharegpt` shape downloads {plan.sharegpt_url} (about 670 MB) into the pod first. A cluster without "
        "egress to Hugging Face: put the file where the cluster can reach it and re-render with `--sharegpt-url URL`, "
        "or leave `sharegpt` out of `--shapes`. The tokenizer (`--tokenizer "
        f"{plan.tokenizer}`) also comes from Hugging Face.\n"
        if plan.needs_sharegpt
        else f"The tokenizer (`--tokenizer {plan.tokenizer}`) comes from Hugging Face: the pod needs egress to it.\n"
    )
    return f"""# Measure one replica of {env.name}

`gpt-oss-platform bench replica --env {env.name}` wrote `{manifest_name}`: a Job that runs
`vllm bench serve` (vLLM 0.26.0, the one in the Ray image) against the Serve proxy
`{plan.base_url}/v1/chat/completions`, model `{plan.model}`, and a NetworkPolicy that lets it in.

Image: {image_note}

Shapes:
{shapes}

Concurrency sweep: {sweep} (up to the replica's max_ongoing_requests, {plan.max_ongoing_requests});
{len(plan.runs)} runs. The figure is the output rate at the highest concurrency whose p99 time to
first token stays under the gateway's first-byte timeout ({plan.first_byte_timeout_s:g} s for {env.name}).

{sharegpt}
## Steps

1. Hold the pool at exactly one replica while the Job runs: the Serve proxy spreads requests over
   every replica, so with two the figure is two replicas'. Check with
   `kubectl -n {NAMESPACE} get pods -l app.kubernetes.io/component=ray-worker` (one Running pod).
   Run it where no user traffic arrives (a staging copy), or the users share the replica.
2. `kubectl apply -f {manifest_name}`
3. Follow it: `kubectl -n {NAMESPACE} logs -f job/{JOB_NAME}` (it ends with `{DONE_MARKER}`).
4. Copy the results out: `kubectl -n {NAMESPACE} logs job/{JOB_NAME} > bench-{env.name}.log`
   (each result is the line after `{RESULT_MARKER} <file>`; a failed run prints `{FAILED_MARKER}`).
5. `gpt-oss-platform bench replica --collect bench-{env.name}.log --env {env.name} --out measured-{env.name}.yaml`
6. Use it: `gpt-oss-platform cost compare --env {env.name} --tokens-per-month 2B --throughput measured-{env.name}.yaml`,
   `cost simulate ... --throughput measured-{env.name}.yaml`, or commit it and set
   `governor.measured_throughput: <path>` in environments/{env.name}.yaml for the governor.
7. `kubectl delete -f {manifest_name}`
"""
