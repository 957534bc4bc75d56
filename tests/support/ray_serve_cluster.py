"""A Ray 2.58 cluster on this machine's CPUs, shaped like the rendered RayService, running the
serve application exactly as the chart renders it (serveConfigV2), through Ray's own code path.

Shape: two Ray nodes (ray.cluster_utils.Cluster: one GCS, two raylets, on 127.0.0.1) built from
the rendered RayService, not typed here:
- "head": the head group's rayStartParams `num-cpus`/`num-gpus` and its `resources`;
- "gpu worker": the first worker group's `resources` (accelerator_type:L4, what a replica's
  placement group asks for), `num-gpus` from its container's nvidia.com/gpu limit and `num-cpus`
  from its CPU limit. Ray takes a declared GPU count at its word, so Ray's real scheduler places
  the LLMServer's GPU bundle there, as it would on a GPU pod.

Deploy: the serve config goes through `serve_start` and `ServeControllerClient.deploy_apps`, the
two calls the dashboard's Serve REST API makes when KubeRay PUTs serveConfigV2
(ray/dashboard/modules/serve/serve_head.py); the controller then imports
`ray.serve.llm:build_openai_app` and calls it with the rendered `args`.

Swaps (each one documented where it is made; docs/testing.md lists them):
- http_options: host 0.0.0.0 -> 127.0.0.1 and port 8000 -> a free port (tests bind loopback);
- proxy_location EveryNode -> HeadOnly: both nodes share one address here, so a second proxy
  could not bind the port; which nodes hold a proxy in a cluster is Serve's EveryNode rule;
- the engine and the model download: tests/support/ray_engine.py, through RAYLLM_VLLM_ENGINE_CLS;
- vLLM's protocol modules: tests/support/vllm_stand_in (why there).
Everything the test changes in the deployment config (min_replicas, max_queued_requests...) is
a visible edit of the rendered dict in the test itself.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
STAND_IN = Path(__file__).resolve().parent / "vllm_stand_in"
ENGINE_CLASS = "tests.support.ray_engine.DeterministicEngine"
# The engine writes here (tests/support/ray_engine.py: LOG_ENV).
ENGINE_LOG_ENV = "GPT_OSS_TEST_ENGINE_LOG"
# Small object stores: Serve LLM moves only request and response objects through them.
OBJECT_STORE_BYTES = 80 * 1024**2
START_ATTEMPTS = 3


def serve_config(rayservice: dict[str, Any]) -> dict[str, Any]:
    """The rendered serveConfigV2 document as a dict."""
    return yaml.safe_load(rayservice["spec"]["serveConfigV2"])


def _quantity_cpus(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def node_shapes(rayservice: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ray.cluster_utils node arguments for the head and the first worker group, from the render."""
    cluster = rayservice["spec"]["rayClusterConfig"]
    head = cluster["headGroupSpec"]
    head_params = head["rayStartParams"]
    group = cluster["workerGroupSpecs"][0]
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    worker_params = group.get("rayStartParams", {})
    return {
        "head": {
            "num_cpus": int(head_params["num-cpus"]),
            "num_gpus": int(head_params.get("num-gpus", 0)),
            "resources": {k: float(v) for k, v in head.get("resources", {}).items()},
        },
        "gpu-worker": {
            "num_cpus": int(worker_params.get("num-cpus", _quantity_cpus(str(limits["cpu"])))),
            "num_gpus": int(limits["nvidia.com/gpu"]),
            "resources": {k: float(v) for k, v in group.get("resources", {}).items()},
        },
    }


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Environment for the processes started inside (raylets and, through them, every worker);
    None removes a variable."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class RayServeCluster:
    """Two Ray nodes shaped like the rendered RayService, Serve on a free loopback port."""

    def __init__(self, rayservice: dict[str, Any], work_dir: Path, http_port: int) -> None:
        self.rayservice = rayservice
        self.shapes = node_shapes(rayservice)
        self.engine_log = work_dir / "engine.jsonl"
        self.engine_log.touch()
        self.http_port = http_port
        self.base_url = f"http://127.0.0.1:{http_port}"
        self.cluster: Any = None
        self.node_ids: dict[str, str] = {}

    def start(self) -> RayServeCluster:
        import ray
        from ray.cluster_utils import Cluster

        env: dict[str, str | None] = {
            # Ray's agents import hundreds of modules: compiling them anew in every process (no
            # bytecode written) makes a raylet miss its 15 s wait for the dashboard agent.
            "PYTHONDONTWRITEBYTECODE": None,
            # The stand-in first, then the repository (for tests.support.ray_engine).
            "PYTHONPATH": os.pathsep.join([str(STAND_IN), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
            "RAYLLM_VLLM_ENGINE_CLS": ENGINE_CLASS,
            ENGINE_LOG_ENV: str(self.engine_log),
            "HF_HUB_OFFLINE": "1",
            # No usage report leaves the machine.
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING": "0",
            # The raylet waits this long for its agent processes (15 s by default), which start
            # slowly on two busy cores.
            "RAY_agent_register_timeout_ms": "120000",
        }
        common = {"object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False}
        with _environment(env):
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    self.cluster = Cluster(initialize_head=True, head_node_args={**common, **self.shapes["head"]})
                    worker = self.cluster.add_node(**common, **self.shapes["gpu-worker"])
                    self.cluster.wait_for_nodes()
                    break
                except Exception:
                    # A raylet that misses its fixed 15 s wait for its agent on an overloaded
                    # machine exits; start the whole cluster again rather than fail the session.
                    if self.cluster is not None:
                        self.cluster.shutdown()
                        self.cluster = None
                    if attempt == START_ATTEMPTS:
                        raise
        ray.init(address=self.cluster.address, namespace="gpt-oss-test", log_to_driver=False)
        self.node_ids = {"head": self.cluster.head_node.node_id, "gpu-worker": worker.node_id}
        return self

    def deploy(self, config: dict[str, Any]) -> None:
        """Deploy a serve config as KubeRay does (the dashboard's two calls), with the documented
        swaps of http_options and proxy_location."""
        from ray.serve._private.api import serve_start
        from ray.serve.schema import ServeDeploySchema

        config = copy.deepcopy(config)
        config["http_options"] = {**config["http_options"], "host": "127.0.0.1", "port": self.http_port}
        config["proxy_location"] = "HeadOnly"
        schema = ServeDeploySchema.model_validate(config)
        client = serve_start(http_options=schema.http_options.model_dump(), proxy_location=schema.proxy_location)
        client.deploy_apps(schema)

    def details(self) -> dict[str, Any]:
        """Serve's own view (what `serve status` and the dashboard show): applications,
        deployments, replicas with their node ids, proxies, controller."""
        from ray.serve.context import _get_global_client

        return _get_global_client().get_serve_details()

    def replicas(self, deployment_prefix: str, states: tuple[str, ...] = ("RUNNING",)) -> list[dict[str, Any]]:
        found = []
        for app in self.details().get("applications", {}).values():
            for name, deployment in app.get("deployments", {}).items():
                if name.startswith(deployment_prefix):
                    found += [r for r in deployment.get("replicas", []) if r["state"] in states]
        return found

    def app_status(self, name: str) -> str | None:
        app = self.details().get("applications", {}).get(name)
        return app["status"] if app else None

    def engine_events(self, event: str | None = None) -> list[dict[str, Any]]:
        lines = self.engine_log.read_text(encoding="utf-8").splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if event is None or e["event"] == event]

    def node_of(self, node_id: str) -> str:
        return next((name for name, known in self.node_ids.items() if known == node_id), node_id)

    def stop(self) -> None:
        import ray

        try:
            from ray import serve

            serve.shutdown()
        except Exception:  # the cluster goes down next either way
            pass
        ray.shutdown()
        if self.cluster is not None:
            self.cluster.shutdown()


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)
