"""What runs inside a container of the fake cluster when a runbook `kubectl exec`s into it: the
`exec_handler` of tests/support/fake_kube_api.py for the executed runbooks
(tests/runbooks/test_runbook_exec.py).

A container is a directory and a PATH. Its programs are those container_images.yaml lists for its
name (and the pod's image must be the one listed); any other is refused as the container runtime
refuses it. bash, sh, coreutils and grep are the host's own; `python` is the test interpreter (the
gateway's modules, redis among them, are installed in it); `ray`, `serve` and `nvidia-smi` are the
stand-ins of container_programs.py, which describe the cluster the fake API holds (the Serve
applications of the RayService's serveConfigV2, the Ray pods, their GPU limits). Ray's log
directory holds the files Ray 2.58 writes there (serve/_private/controller.py and replica.py:
`controller_<pid>.log` on the head, `replica_<app>_<deployment>_<replica id>.log` on a replica's
node, under /tmp/ray/session_latest/logs/serve/).

Two things are mapped, in the command's arguments and the container's environment: the absolute
path /tmp/ray/ to the container's directory, and each network address a container dials
(`endpoints`: "host:port" -> "127.0.0.1:port", e.g. the serve Service's DNS name to a stand-in of
the Serve proxy, the ElastiCache endpoint to a real redis-server) to the server the test started.
A name the test did not map is not reached. NetworkPolicies are not evaluated.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from support import container_programs
from support.fake_kube_api import ExecResult

IMAGES: dict[str, dict[str, Any]] = yaml.safe_load(Path(__file__).with_name("container_images.yaml").read_text())
HOST_PROGRAMS = {"bash", "sh", "ls", "cat", "head", "tail", "grep"}
RAY_LOGS = "/tmp/ray/"
# The driver of the GPU AMIs the program pins (infra/catalog/eks_amis.yaml: nvidia_driver
# 580.159.03) and the CUDA of the Ray image (infra/versions.py RAY_IMAGE_VARIANT py312-cu130).
DRIVER, CUDA = "580.159.03", "13.0"
# nvidia-smi's product names for the serve config's accelerator_type.
GPU_NAMES = {"H100": "NVIDIA H100 80GB HBM3", "H200": "NVIDIA H200", "A10G": "NVIDIA A10G", "L4": "NVIDIA L4"}
TESTS = Path(__file__).resolve().parents[1]


@dataclass
class Containers:
    """The containers of the pods `core` holds (the fake API's core objects), their files under `root`."""

    root: Path
    core: dict[tuple[str, str, str], dict[str, Any]]
    serve_config: dict[str, Any]
    # "host:port" a container dials -> "127.0.0.1:port" of the server the test started; `endpoints`
    # for every container, `own_endpoints[container]` for one (its pod's own 127.0.0.1).
    endpoints: dict[str, str] = field(default_factory=dict)
    own_endpoints: dict[str, dict[str, str]] = field(default_factory=dict)

    def __call__(self, namespace: str, pod: dict[str, Any], container: str, argv: list[str]) -> ExecResult:
        image = IMAGES.get(container)
        spec = next(c for c in pod["spec"]["containers"] if c["name"] == container)
        if image is None:
            return ExecResult(stderr=f"no entry for container {container!r} in container_images.yaml\n".encode(), exit_code=125)
        if image["image"] not in spec.get("image", ""):
            return ExecResult(
                stderr=f"container {container} runs {spec.get('image')}, container_images.yaml lists {image['image']}\n".encode(),
                exit_code=125,
            )
        program = argv[0].rsplit("/", 1)[-1]
        if program not in image["programs"]:
            return ExecResult(not_found=argv[0])
        home = self.root / namespace / pod["metadata"]["name"] / container
        if not home.exists():
            self._make(home, pod, spec, image)
        endpoints = {**self.endpoints, **self.own_endpoints.get(container, {})}
        env = {e["name"]: _mapped(e["value"], home, endpoints) for e in spec.get("env", []) if "value" in e}
        env.update(PATH=str(home / ".bin"), HOME=str(home / "home"), STAND_IN_STATE=str(home / ".state.json"))
        try:
            done = subprocess.run(
                [str(home / ".bin" / program), *(_mapped(a, home, endpoints) for a in argv[1:])],
                env=env,
                cwd=home,
                capture_output=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            return ExecResult(stderr=b"the command ran past 60 s\n", exit_code=124)
        hidden = str(home).encode()
        return ExecResult(done.stdout.replace(hidden, b""), done.stderr.replace(hidden, b""), done.returncode)

    def _make(self, home: Path, pod: dict[str, Any], spec: dict[str, Any], image: dict[str, Any]) -> None:
        """The container's PATH (one launcher per program of its image), its state file and files."""
        bin_dir = home / ".bin"
        bin_dir.mkdir(parents=True)
        (home / "home").mkdir()
        for program in image["programs"]:
            if program in HOST_PROGRAMS:
                line = f'exec "{shutil.which(program)}" "$@"'
            elif program == "python":
                line = f'exec "{sys.executable}" "$@"'
            elif program in container_programs.PROGRAMS:
                line = f'PYTHONPATH="{TESTS}" exec "{sys.executable}" -m support.container_programs {program} "$@"'
            else:
                line = f'echo "{program}: no stand-in in tests/support/container_programs.py" >&2; exit 125'
            (bin_dir / program).write_text(f"#!/bin/sh\n{line}\n")
            (bin_dir / program).chmod(0o755)
        (home / ".state.json").write_text(json.dumps(self._state(pod, spec, image)))
        role = pod["metadata"].get("labels", {}).get("ray.io/node-type")
        if role:
            self._ray_logs(home / RAY_LOGS.strip("/") / "session_latest" / "logs" / "serve", role, pod)

    def _applications(self) -> dict[str, dict[str, int]]:
        """Each Serve application's deployments and their replica counts (min_replicas), as
        ray.serve.llm's build_openai_app names them: `LLMServer:<model_id>` per model and the
        `OpenAiIngress`."""
        apps: dict[str, dict[str, int]] = {}
        for app in self.serve_config.get("applications", []):
            deployments: dict[str, int] = {}
            for llm in app.get("args", {}).get("llm_configs", []):
                autoscaling = llm.get("deployment_config", {}).get("autoscaling_config", {})
                replicas = autoscaling.get("min_replicas", llm.get("deployment_config", {}).get("num_replicas", 1))
                deployments[f"LLMServer:{llm['model_loading_config']['model_id']}"] = replicas
            if app.get("import_path") == "ray.serve.llm:build_openai_app":
                deployments["OpenAiIngress"] = 1
            apps[app["name"]] = deployments
        return apps

    def _ray_pods(self) -> list[dict[str, Any]]:
        return [
            o
            for (r, _, _), o in sorted(self.core.items())
            if r == "pods" and "ray.io/node-type" in o["metadata"].get("labels", {})
        ]

    def _state(self, pod: dict[str, Any], spec: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
        ray_pods = self._ray_pods()
        nodes: dict[str, int] = {}
        cpus = gpus = memory = 0.0
        for p in ray_pods:
            group = p["metadata"]["labels"].get("ray.io/group", "headgroup")
            nodes[group] = nodes.get(group, 0) + 1
            for c in p["spec"]["containers"]:
                limits = c.get("resources", {}).get("limits", {})
                cpus += _quantity(limits.get("cpu", "0"))
                gpus += _quantity(limits.get("nvidia.com/gpu", "0"))
                memory += _quantity(limits.get("memory", "0")) / 2**30
        accelerator = next(
            (
                llm.get("accelerator_type", "")
                for app in self.serve_config.get("applications", [])
                for llm in app.get("args", {}).get("llm_configs", [])
            ),
            "",
        )
        own_gpus = int(_quantity(spec.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", "0")))
        return {
            "dashboard": image["dashboard"],
            # Ray node ids: 28 bytes, 56 hex digits; Serve runs a proxy on every node (EveryNode).
            "proxies": [hashlib.sha224(p["metadata"]["name"].encode()).hexdigest() for p in ray_pods],
            "applications": self._applications(),
            "app": next(iter(self._applications()), ""),
            "nodes": nodes,
            "cluster_cpus": cpus,
            "cluster_gpus": gpus,
            "cluster_memory_gib": memory,
            "gpus": own_gpus if "nvidia-smi" in image["programs"] else 0,
            "gpu_name": GPU_NAMES.get(accelerator, f"NVIDIA {accelerator}"),
            "driver": DRIVER,
            "cuda": CUDA,
        }

    def _ray_logs(self, logs: Path, role: str, pod: dict[str, Any]) -> None:
        logs.mkdir(parents=True)
        stamp = "2026-01-01 00:10:00,123"
        if role == "head":
            lines = [
                f"INFO {stamp} controller 412 -- Controller starting (version='2.58.0').",
                *(
                    f"INFO {stamp} controller 412 -- Deploying new version of Deployment(name='{d}', app='{app}')."
                    for app, deployments in self._applications().items()
                    for d in deployments
                ),
                f"INFO {stamp} controller 412 -- Application '{next(iter(self._applications()), '')}' is RUNNING.",
            ]
            (logs / "controller_412.log").write_text("\n".join(lines) + "\n")
            return
        for app, deployments in self._applications().items():
            for deployment in (d for d in deployments if d.startswith("LLMServer:")):
                replica = f"{zlib.crc32(pod['metadata']['name'].encode()):08x}"
                lines = [
                    f"INFO {stamp} {deployment} {replica} -- Started vLLM engine (tensor_parallel_size=1).",
                    *(f"INFO {stamp} {deployment} {replica} -- engine step {n}" for n in range(60)),
                ]
                (logs / f"replica_{app}_{deployment}_{replica}.log").write_text("\n".join(lines) + "\n")


def _mapped(text: str, home: Path, endpoints: dict[str, str]) -> str:
    text = text.replace(RAY_LOGS, f"{home}{RAY_LOGS}")
    for address, local in endpoints.items():
        text = text.replace(address, local)
    return text


def _quantity(value: str | int | float) -> float:
    """A Kubernetes quantity (`8`, `500m`, `64Gi`, `1G`) as a number."""
    text = str(value)
    for suffix, factor in (
        ("m", 1e-3),
        ("Ki", 2**10),
        ("Mi", 2**20),
        ("Gi", 2**30),
        ("Ti", 2**40),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)
