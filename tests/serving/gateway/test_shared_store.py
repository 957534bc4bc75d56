"""Limits and spend shared across gateway pods through a real Redis (redis-server on 127.0.0.1),
and what happens when it goes away: per-pod limits, a metric, and no failed request.

redis-server comes from Debian's `redis-tools` package (tools/redis/fetch.sh); `make test` (REQUIRE_ALL_TOOLS=1) fails
here when it is missing instead of skipping.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from support.tools import REPO_ROOT, require_tool
from tests.serving.harness import free_port, wait_until

pytestmark = pytest.mark.slow

SYNC_S = 0.05


class RedisServer:
    """redis-server on 127.0.0.1, no persistence; stop() and start() again on the same port."""

    def __init__(self, exe: str, directory: Path) -> None:
        self.exe, self.directory = exe, directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                self.exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=10)
        return self

    def _answers(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    # The pinned server make test installs (tools/redis/fetch.sh), not whatever the machine has.
    exe = require_tool(REPO_ROOT / "tools" / "redis" / "bin" / "redis-server", "tools/redis/fetch.sh")
    server = RedisServer(str(exe), tmp_path).start()
    yield server
    server.stop()


def store(server: RedisServer) -> dict:
    return {"shared_store": {"address": server.address, "sync_interval_s": SYNC_S, "timeout_s": 0.3}}


def synced() -> None:
    time.sleep(SYNC_S * 6)


def test_two_pods_share_one_keys_request_limit(start_gateway, redis_server):
    pod_a, pod_b = start_gateway(**store(redis_server)), start_gateway(**store(redis_server))
    assert [pod_a.chat(key="limited").status_code for _ in range(2)] == [200, 200]  # rpm 3
    synced()
    assert pod_b.chat(key="limited").status_code == 200  # the third of the minute
    synced()
    assert pod_b.chat(key="limited").status_code == 429
    assert pod_a.chat(key="limited").status_code == 429
    assert pod_a.metric("gateway_shared_store_up") == 1


def test_without_a_store_each_pod_admits_the_limit_on_its_own(start_gateway):
    pod_a, pod_b = start_gateway(), start_gateway()
    assert [pod_a.chat(key="limited").status_code for _ in range(3)] == [200] * 3
    assert [pod_b.chat(key="limited").status_code for _ in range(3)] == [200] * 3  # N pods, N times the limit


def test_spend_counted_on_one_pod_caps_the_key_on_another(start_gateway, redis_server):
    pod_a, pod_b = start_gateway(**store(redis_server)), start_gateway(**store(redis_server))
    assert pod_a.chat(key="capped").status_code == 200
    synced()
    refused = pod_b.chat(key="capped")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "spend_cap_reached"
    month_keys = redis.Redis(port=redis_server.port).keys("gpt-oss-gateway:spend:*:key:capped")
    assert len(month_keys) == 1


def test_a_restarted_pod_knows_this_months_spend_before_its_first_request(start_gateway, redis_server):
    first = start_gateway(**store(redis_server))
    assert first.chat(key="capped").status_code == 200
    synced()
    first.stop()
    again = start_gateway(**store(redis_server))
    assert again.chat(key="capped").status_code == 429


def test_an_unreachable_store_never_fails_a_request_and_says_so(start_gateway, redis_server):
    pod = start_gateway(**store(redis_server))
    assert pod.chat().status_code == 200
    wait_until(lambda: pod.metric("gateway_shared_store_up") == 1, timeout=3)
    redis_server.stop()
    started = time.monotonic()
    codes = [pod.chat(key="limited").status_code for _ in range(3)] + [pod.chat().status_code for _ in range(5)]
    assert codes == [200] * 8
    assert time.monotonic() - started < 3  # the store is never waited for on the request path
    wait_until(lambda: pod.metric("gateway_shared_store_up") == 0, timeout=3)
    assert pod.metric("gateway_shared_store_errors_total") >= 1
    assert pod.chat(key="limited").status_code == 429  # per-pod limits still hold
    redis_server.start()
    wait_until(lambda: pod.metric("gateway_shared_store_up") == 1, timeout=10)


def test_a_store_that_is_down_at_start_up_delays_nothing(start_gateway):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # nothing listens here once closed
    started = time.monotonic()
    pod = start_gateway(shared_store={"address": dead, "sync_interval_s": SYNC_S, "timeout_s": 0.3})
    assert time.monotonic() - started < 5
    assert pod.chat().status_code == 200
    assert pod.metric("gateway_shared_store_up") == 0
