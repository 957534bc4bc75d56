"""Scale to zero for real: where Ray's own scheduler puts Serve's pieces on a cluster shaped like
the rendered RayService (a head with no CPUs or GPUs for Ray to hand out, and a GPU worker that has
CPUs). The model replica must be on the GPU worker; the controller, the proxy and the
OpenAiIngress replicas must not be, or they would keep the GPU node alive at zero replicas."""

from __future__ import annotations

import httpx
import pytest

from tests.support.ray_serve_cluster import node_shapes, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray"), pytest.mark.timeout(600)]


def test_the_cluster_is_shaped_from_the_render(rayservice):
    shapes = node_shapes(rayservice)
    assert shapes["head"]["num_cpus"] == 0 and shapes["head"]["num_gpus"] == 0
    assert shapes["head"]["resources"] == {"gpt_oss_ingress": 64.0}
    assert shapes["gpu-worker"]["num_gpus"] == 1 and shapes["gpu-worker"]["num_cpus"] >= 1
    assert shapes["gpu-worker"]["resources"] == {"accelerator_type:L4": 1.0}


def test_serve_places_the_model_on_the_gpu_worker_and_everything_else_on_the_head(ray_serve, model_id):
    # A request brings both deployments up if an earlier test has not.
    httpx.post(
        ray_serve.base_url + "/v1/chat/completions",
        json={"model": model_id, "messages": [{"role": "user", "content": "hi"}]},
        timeout=240,
    )
    ingress = wait_for(lambda: ray_serve.replicas("OpenAiIngress"), 240, "an OpenAiIngress replica")
    model = wait_for(lambda: ray_serve.replicas("LLMServer"), 240, "an LLMServer replica")
    assert {ray_serve.node_of(r["node_id"]) for r in model} == {"gpu-worker"}
    assert {ray_serve.node_of(r["node_id"]) for r in ingress} == {"head"}
    details = ray_serve.details()
    assert ray_serve.node_of(details["controller_info"]["node_id"]) == "head"
    assert {ray_serve.node_of(node_id) for node_id in details["proxies"]} == {"head"}
