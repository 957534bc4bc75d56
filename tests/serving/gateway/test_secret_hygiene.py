"""No configured secret appears anywhere the gateway writes: logs at DEBUG, responses, metrics.

The gateway runs as in production (`python -m serving.gateway --config ...`) in its own process
with DEBUG logging; every path that touches a key is exercised (good and bad client keys, a managed
API that rejects the gateway's key and echoes it, a key rotation, fallbacks, streams, limits, bad
input); then every captured byte is searched for every secret, whole and by its tail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import KEYS, MANAGED_API_KEY, PUBLIC_MODEL, settings_for_test, wait_until, write_secrets

pytestmark = pytest.mark.slow

WRONG_MANAGED_KEY = "sk-managed-stale-9a8b7c6d5e4f3a2b"
NEAR_MISS = KEYS["app"][:-1] + ("0" if KEYS["app"][-1] != "0" else "1")  # a presented, unknown key
SECRETS = [*KEYS.values(), MANAGED_API_KEY, WRONG_MANAGED_KEY, NEAR_MISS]


@pytest.fixture
def gateway_process(tmp_path: Path, primary: FakeOpenAI, managed: FakeOpenAI):
    clients_file, key_file = write_secrets(tmp_path)
    key_file.write_text(WRONG_MANAGED_KEY)  # starts with a stale key; rotated during the test
    settings = settings_for_test(primary.base_url, managed.base_url, clients_file, key_file)
    settings["log_level"] = "DEBUG"
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps(settings))
    log_path = tmp_path / "gateway.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving.gateway", "--config", str(config), "--log-level", "DEBUG"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONASYNCIODEBUG": "1"},
        )
        base_url = f"http://127.0.0.1:{settings['port']}"
        try:
            wait_until(lambda: _ready(base_url, process), timeout=40)  # a cold interpreter on 2 busy cores
            yield base_url, key_file, log_path, f"http://127.0.0.1:{settings['metrics']['port']}"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready(base_url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError("gateway exited during start-up")
    try:
        return httpx.get(base_url + "/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_no_secret_appears_in_logs_responses_or_metrics(gateway_process, primary, managed):
    base_url, key_file, log_path, metrics_url = gateway_process
    seen: list[str] = []
    http = httpx.Client(base_url=base_url, timeout=10)

    def call(key: str | None, body: dict | str | None = None, stream: bool = False) -> httpx.Response:
        payload = body if body is not None else {"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "hi"}]}
        if stream and isinstance(payload, dict):
            payload = {**payload, "stream": True}
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        content = payload if isinstance(payload, str) else json.dumps(payload)
        response = http.post("/v1/chat/completions", content=content, headers={"content-type": "application/json", **headers})
        seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    # every client key, both modes; unknown and malformed keys; a key inside the body
    for name in ("app", "sovereign", "limited", "tokens"):
        assert call(KEYS[name]).status_code == 200
        assert call(KEYS[name], stream=True).status_code == 200
    # keys refused by their policy: a model they may not use, a spent cap
    assert call(KEYS["narrow"]).status_code == 404
    assert call(KEYS["capped"]).status_code == 200
    assert call(KEYS["capped"], stream=True).status_code == 429
    assert call(NEAR_MISS).status_code == 401
    assert call(None).status_code == 401
    assert call(f"{KEYS['app']} trailing-junk").status_code == 401
    assert (
        call(
            KEYS["app"],
            body={"model": PUBLIC_MODEL, "messages": [{"role": "user", "content": "x"}], "user": KEYS["app"]},
        ).status_code
        == 200
    )
    assert call(KEYS["app"], body='{"model": "' + KEYS["sovereign"]).status_code == 400
    assert call(KEYS["app"], body={"model": KEYS["app"], "messages": [{"role": "user", "content": "x"}]}).status_code == 404
    for _ in range(4):
        call(KEYS["limited"])
    # the managed API rejects the stale key and echoes it, as OpenAI's 401 does
    primary.set("status", status=500)
    assert call(KEYS["app"]).status_code == 502
    assert call(KEYS["app"], stream=True).status_code == 502
    # a stream cut after its first byte
    primary.set("cut_mid_stream", cut_after=2)
    assert "stream_interrupted" in call(KEYS["app"], stream=True).text
    # rotation to the right key, then fallbacks that use it
    key_file.with_suffix(".new").write_text(MANAGED_API_KEY)
    key_file.with_suffix(".new").replace(key_file)
    time.sleep(0.6)  # the gateway re-reads secret files every 0.2 s here
    primary.set("refuse")
    assert call(KEYS["app"]).status_code == 200
    assert call(KEYS["app"], stream=True).status_code == 200
    assert call(KEYS["sovereign"]).status_code == 503
    primary.set("ok")
    seen.extend(http.get(path).text for path in ("/readyz", "/healthz"))
    seen.append(httpx.get(metrics_url + "/metrics", timeout=10).text)
    seen.append(http.get("/v1/models", headers={"Authorization": f"Bearer {KEYS['app']}"}).text)
    http.close()
    time.sleep(0.3)  # let the last log lines reach the file

    log = log_path.read_text()
    # The search means something only if the log really is verbose and covers these paths.
    assert " DEBUG " in log and "served_by=managed" in log and "error=upstream_auth_failed" in log
    assert "failed before the first byte" in log and "ended early" in log
    captured = log + "\n".join(seen)
    assert "managed" in captured and len(log) > 2000
    for secret in SECRETS:
        assert secret not in captured, f"a secret ending in ...{secret[-4:]} leaked"
        assert secret[-12:] not in captured, f"the tail of a secret ending in ...{secret[-4:]} leaked"
