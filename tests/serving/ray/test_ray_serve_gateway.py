"""The gateway in front of the real Ray Serve LLM 2.58 (dev's serveConfigV2 as the chart renders
it, on CPU): routes, model ids, SSE framing, error shapes, scale from zero, a client going away,
backpressure and a replica dying, as Ray itself produces them. Only the engine (a deterministic CPU
engine) and the managed API (a fake: Ray cannot play a third party) are stand-ins.

Tests run in file order on one deployment: the first finds dev's model scaled to zero, as deployed;
the last two change the deployment (a smaller queue) or kill a replica.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serving.harness import KEYS, sse_data, stream_content, wait_until
from tests.support.ray_serve_cluster import wait_for

from .conftest import APP, RAY_PRIMARY

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray"), pytest.mark.timeout(600)]

AUTH = {"Authorization": f"Bearer {KEYS['app']}"}


def chat(gateway, model_id: str, content: str = "Say hello.", **body):
    payload = {"model": model_id, "messages": [{"role": "user", "content": content}], **body}
    return gateway.http.post("/v1/chat/completions", json=payload, headers=AUTH, timeout=60)


def test_a_cold_model_is_served_by_the_fallback_at_once_then_by_ray_once_the_wake_request_woke_it(
    ray_serve, ray_gateway, managed_api, model_id
):
    # dev as rendered: min_replicas 0, so the OpenAiIngress is at zero too (Ray scales it with
    # the models), and nothing has asked for a replica yet.
    assert ray_serve.replicas("LLMServer") == [] and ray_serve.engine_events("start") == []
    # As dev's gateway runs a pool that scales to zero: after a quiet spell the pool is presumed
    # cold, the request goes to the fallback, and the gateway's one wake request (held for the
    # cold-start budget, where its probes are cut after 5 s) wakes the pool.
    gateway = ray_gateway(primary={"readiness": {**RAY_PRIMARY["readiness"], "idle_after_s": 1}}, wait_for_probe=False)
    time.sleep(1.5)

    started = time.monotonic()
    first = chat(gateway, model_id)
    assert first.status_code == 200, first.text
    assert first.headers["x-gateway-served-by"] == "managed"  # no wait for the cold start
    assert time.monotonic() - started < 5
    assert managed_api.chat_requests()[-1].body["model"] == "o4-mini"

    # Clients keep asking (each answered by the fallback at once) while Serve starts the ingress
    # on the head and a replica on the GPU worker; the wake request's answer brings traffic back.
    served_by: list[str] = []

    def served_by_ray() -> bool:
        response = chat(gateway, model_id)
        assert response.status_code == 200, response.text
        served_by.append(response.headers["x-gateway-served-by"])
        return served_by[-1] == "self-hosted"

    wait_for(served_by_ray, 240, "a chat completion from Ray after scale from zero", interval=0.5)
    assert set(served_by[:-1]) <= {"managed"}
    assert ray_serve.replicas("LLMServer")
    (start,) = ray_serve.engine_events("start")
    # The model the rendered config names, at the pinned revision; nothing was downloaded.
    assert start["model_source"] == "openai/gpt-oss-20b" and len(start["revision"]) == 40


def wake(ray_serve, model_id: str) -> None:
    """One request held at Ray's proxy until Serve has scaled from zero (about 35 s on two busy
    cores): what wakes the model when an earlier test has not."""
    if not ray_serve.replicas("LLMServer"):
        httpx.post(
            ray_serve.base_url + "/v1/chat/completions",
            json={"model": model_id, "messages": [{"role": "user", "content": "hi"}]},
            timeout=300,
        )


@pytest.fixture
def warm_gateway(ray_serve, ray_gateway, model_id):
    wake(ray_serve, model_id)
    wait_for(lambda: ray_serve.replicas("LLMServer"), 240, "an LLMServer replica")
    gateway = ray_gateway()
    wait_until(lambda: gateway.upstream("self-hosted").health.ready is True, timeout=60, interval=0.2)
    return gateway


def test_a_chat_completion_comes_from_ray_with_rays_shape_and_usage(warm_gateway, ray_serve, model_id):
    response = chat(warm_gateway, model_id, max_tokens=7)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "self-hosted"
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == model_id
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "t0 t1 t2 t3 t4 t5 t6", "reasoning": None}
    assert body["usage"]["completion_tokens"] == 7
    assert float(response.headers["x-gateway-cost-usd"]) > 0
    assert any(e["request_id"] == body["id"] for e in ray_serve.engine_events("finish"))


def test_a_stream_keeps_rays_sse_framing_and_ends_with_usage_and_done(warm_gateway, model_id):
    with warm_gateway.http.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": model_id, "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers=AUTH,
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-gateway-served-by"] == "self-hosted"
        raw = response.read().decode()
    # Every event is `data: <payload>` and a blank line (Ray batches chunks, never splits one).
    events = [block for block in raw.split("\n\n") if block.strip() and not block.startswith(":")]
    assert all(block.startswith("data: ") and "\n" not in block for block in events), raw
    data = sse_data(raw)
    assert data[-1] == "[DONE]"
    assert stream_content(raw) == "t0 t1 t2 t3 t4"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c for c in chunks if c["choices"]][-1]["choices"][0]["finish_reason"] == "stop"


def test_completions_json_and_stream(warm_gateway, model_id):
    response = warm_gateway.http.post(
        "/v1/completions", json={"model": model_id, "prompt": "Once", "max_tokens": 3}, headers=AUTH, timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "self-hosted"
    assert response.json()["choices"][0]["text"] == "t0 t1 t2"
    streamed = warm_gateway.http.post(
        "/v1/completions",
        json={"model": model_id, "prompt": "Once", "max_tokens": 3, "stream": True},
        headers=AUTH,
        timeout=60,
    )
    data = sse_data(streamed.text)
    assert data[-1] == "[DONE]"
    assert "".join(c["choices"][0]["text"] for c in map(json.loads, data[:-1]) if c["choices"]) == "t0 t1 t2"


def test_model_ids_agree_between_ray_and_the_gateway(warm_gateway, ray_serve, model_id):
    listed = httpx.get(ray_serve.base_url + "/v1/models", timeout=30).json()
    assert [m["id"] for m in listed["data"]] == [model_id]
    assert listed["data"][0]["metadata"]["max_request_context_length"] == 32768
    one = httpx.get(f"{ray_serve.base_url}/v1/models/{model_id}", timeout=30)
    assert one.status_code == 200 and one.json()["id"] == model_id
    through = warm_gateway.http.get("/v1/models", headers=AUTH)
    assert through.status_code == 200
    assert model_id in [m["id"] for m in through.json()["data"]]


def test_rays_own_errors_have_the_openai_shape(ray_serve, model_id):
    """What the gateway receives from Ray: a request the ingress refuses, an unknown model."""
    invalid = httpx.post(ray_serve.base_url + "/v1/chat/completions", json={"model": model_id}, timeout=30)
    assert invalid.status_code == 400, invalid.text
    unknown = httpx.post(
        ray_serve.base_url + "/v1/chat/completions",
        json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert unknown.status_code in (400, 404) and "no-such-model" in unknown.text


def test_a_bad_request_from_ray_reaches_the_client_as_is_and_never_the_managed_api(warm_gateway, managed_api, model_id):
    # Longer than max_model_len: the engine answers 400 (as vLLM does), Ray's ingress turns it into
    # its HTTP error; a client error is terminal, so no fallback.
    response = chat(warm_gateway, model_id, max_tokens=40000)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    # Ray's ingress keeps the engine's message and status but relabels the type.
    assert "maximum context length is 32768" in error["message"] and error["type"] == "OpenAIHTTPException"
    assert managed_api.chat_requests() == []


def test_a_client_that_disconnects_mid_stream_aborts_the_engine_request(warm_gateway, ray_serve, model_id):
    payload = {"model": model_id, "messages": [{"role": "user", "content": "Count. tokens=400 delay=0.05"}], "stream": True}
    with warm_gateway.http.stream("POST", "/v1/chat/completions", json=payload, headers=AUTH, timeout=60) as response:
        assert response.headers["x-gateway-served-by"] == "self-hosted"
        received = 0
        for line in response.iter_lines():
            if line.startswith("data: "):
                received += 1
            if received >= 3:
                break
    # The gateway closed its upstream connection; Ray cancelled the request down to the engine.
    abort = wait_for(lambda: ray_serve.engine_events("abort"), 30, "the engine's abort")
    assert abort[-1]["request_id"].startswith("chatcmpl-")
    assert not any(e["request_id"] == abort[-1]["request_id"] for e in ray_serve.engine_events("finish"))


def replica_actor(replica: dict):
    """The live actor of a replica Serve reports, looked up among the named actors of every
    namespace (Serve names its replicas in its own namespace; the id is part of the name)."""
    import ray

    found = [a for a in ray.util.list_named_actors(all_namespaces=True) if replica["replica_id"] in a["name"]]
    assert len(found) == 1, (replica, found)
    return ray.get_actor(found[0]["name"], namespace=found[0]["namespace"])


def test_a_replica_killed_mid_stream_ends_the_stream_with_an_error_event_and_serve_replaces_it(
    warm_gateway, ray_serve, model_id, managed_api
):
    import ray

    (replica,) = ray_serve.replicas("LLMServer")
    actor = replica_actor(replica)
    payload = {"model": model_id, "messages": [{"role": "user", "content": "Count. tokens=400 delay=0.05"}], "stream": True}
    received: list[str] = []
    with warm_gateway.http.stream("POST", "/v1/chat/completions", json=payload, headers=AUTH, timeout=60) as response:
        assert response.headers["x-gateway-served-by"] == "self-hosted"
        for line in response.iter_lines():
            if line.startswith("data: "):
                received.append(line[len("data: ") :])
            if len(received) == 3:
                ray.kill(actor, no_restart=True)
    # What the client sees: the tokens sent before the crash, then the gateway's error event, no
    # [DONE] and nothing spliced from another model (no replay after the first byte).
    assert len(received) < 400 and "[DONE]" not in received, received[-3:]
    assert received[-1].startswith('{"error"'), received[-3:]
    assert managed_api.chat_requests() == []
    # Serve replaces the dead replica (the deployment keeps its replica count), and the next
    # request is Ray's again.
    wait_for(
        lambda: [r for r in ray_serve.replicas("LLMServer") if r["replica_id"] != replica["replica_id"]],
        240,
        "a replacement LLMServer replica",
    )
    wait_until(lambda: warm_gateway.upstream("self-hosted").health.ready is True, timeout=60, interval=0.2)
    after = chat(warm_gateway, model_id, max_tokens=2)
    assert after.status_code == 200 and after.headers["x-gateway-served-by"] == "self-hosted", after.text


def test_a_full_replica_answers_503_at_once_and_the_gateway_falls_back_at_once(
    ray_serve, ray_gateway, rayservice, managed_api, model_id
):
    from tests.support.ray_serve_cluster import serve_config

    # The rendered config with a queue Ray can fill on CPU: one request in flight, one queued.
    # max_queued_requests is enforced by the router of the handle that calls the deployment
    # (ray/serve/_private/router.py: wrap_request_assignment), here the ingress's handle to
    # LLMServer; the BackPressureError it raises in the ingress becomes Serve's 503
    # (ray/serve/_private/replica.py: UserCallableWrapper.handle_exception).
    config = serve_config(rayservice)
    deployment = config["applications"][0]["args"]["llm_configs"][0]["deployment_config"]
    deployment.update(max_ongoing_requests=1, max_queued_requests=1)
    ray_serve.deploy(config)

    def applied() -> bool:
        # The app reads RUNNING before the controller has acted on the new config: wait for
        # LLMServer to report the new limits, healthy, with one replica and none coming or going.
        app = ray_serve.details()["applications"].get(APP, {})
        servers = [d for name, d in app.get("deployments", {}).items() if name.startswith("LLMServer")]
        if len(servers) != 1:  # the controller is still replacing the deployment
            return False
        server = servers[0]
        states = [r["state"] for r in server.get("replicas", [])]
        return (
            server["deployment_config"].get("max_queued_requests") == 1
            and server["status"] == "HEALTHY"
            and states == ["RUNNING"]
        )

    wake(ray_serve, model_id)  # when this test runs alone, the model is still at zero
    wait_for(applied, 240, "LLMServer running with max_queued_requests 1")
    # A gateway whose probes stay quiet during the test (they would take the one queue slot).
    quiet = {**RAY_PRIMARY["readiness"], "interval_s": 600}
    gateway = ray_gateway(primary={"readiness": quiet})
    wait_until(lambda: gateway.upstream("self-hosted").health.ready is True, timeout=60, interval=0.2)
    url = ray_serve.base_url + "/v1/chat/completions"
    long = {"model": model_id, "messages": [{"role": "user", "content": "Count. tokens=2000 delay=0.05"}], "stream": True}
    short = {"model": model_id, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}

    with httpx.Client(timeout=120) as ray_client, ray_client.stream("POST", url, json=long) as running:
        # The one request in flight on the replica: its first event came back.
        assert running.status_code == 200
        # (The line iterator stays referenced: httpx closes the response when it is collected.)
        lines = running.iter_lines()
        next(line for line in lines if line.startswith("data: "))

        # The one request in the ingress's queue (it waits for the replica); sent again if it
        # found the slot taken.
        def fill_the_queue() -> httpx.Response:
            while (answer := httpx.post(url, json=short, timeout=120)).status_code == 503:
                pass
            return answer

        with ThreadPoolExecutor(1) as pool:
            queued = pool.submit(fill_the_queue)

            def full() -> httpx.Response | None:
                # Before the queued request got there, this one takes the queue slot: it is cut
                # after 3 s (a cancelled request leaves Serve's queue) and tried again.
                try:
                    answer = httpx.post(url, json=short, timeout=3)
                except httpx.TimeoutException:
                    return None
                return answer if answer.status_code == 503 else None

            # Ray's own answer when the replica and its queue are full, at once.
            direct = wait_for(full, 60, "Ray's 503 for a full replica", interval=0.2)
            assert "max_queued_requests" in direct.text or "queue" in direct.text.lower(), direct.text
            started = time.monotonic()
            third = chat(gateway, model_id)
            elapsed = time.monotonic() - started
            running.close()
            assert queued.result().status_code == 200  # served once the replica was free
    assert third.status_code == 200, third.text
    assert third.headers["x-gateway-served-by"] == "managed", third.headers
    assert third.headers["x-gateway-fallback-reason"] == "backpressure"
    assert elapsed < 5  # no first-byte timeout waited
