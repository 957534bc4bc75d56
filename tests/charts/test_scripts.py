"""The scripts the chart ships to the Ray worker pods (charts/gpt-oss-serving/files/): the liveness
probe, against a local fake raylet and metrics endpoint on 127.0.0.1, and the tiktoken staging init
container, against S3 mocked in-process by moto.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infra.paths import CHART_DIR

FILES = CHART_DIR / "files"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"chart_files_{name}", FILES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe_liveness = load("probe_liveness")
stage_tiktoken = load("stage_tiktoken")


class FakeWorker:
    """A Ray worker's local endpoints: the raylet health check and the metrics exposition, with
    vLLM's counters as a test sets them (names as Ray Serve LLM exports them, vLLM 0.26)."""

    def __init__(self):
        self.raylet = "success"
        self.running, self.waiting, self.prompt, self.generated = 0, 0, 0, 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/api/local_raylet_healthz"):
                    data = fake.raylet.encode()
                else:
                    data = (
                        "# HELP ray_vllm_num_requests_running Number of requests in model execution batches.\n"
                        "# TYPE ray_vllm_num_requests_running gauge\n"
                        f'ray_vllm_num_requests_running{{model_name="gpt-oss-20b",WorkerId="a"}} {fake.running}\n'
                        f'ray_vllm_num_requests_waiting{{model_name="gpt-oss-20b",WorkerId="a"}} {fake.waiting}\n'
                        f'ray_vllm_prompt_tokens_total{{model_name="gpt-oss-20b"}} {fake.prompt}\n'
                        f'ray_vllm_generation_tokens_total{{model_name="gpt-oss-20b"}} {fake.generated}.0\n'
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.raylet_url, self.metrics_url = f"{base}/api/local_raylet_healthz", f"{base}/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def worker():
    with FakeWorker() as fake:
        yield fake


def probe(worker, state, stall="0.2"):
    return probe_liveness.main(
        [
            "--raylet-url",
            worker.raylet_url,
            "--metrics-url",
            worker.metrics_url,
            "--state",
            str(state),
            "--stall-seconds",
            stall,
            "--timeout",
            "2",
        ]
    )


def test_an_idle_engine_is_alive_however_long_it_idles(worker, tmp_path):
    state = tmp_path / "state.json"
    worker.generated = 100
    assert probe(worker, state) == 0
    assert (
        probe_liveness.judge({"ray_vllm_generation_tokens_total": 100.0}, {"progress": 100.0, "since": 0.0}, 10_000, 120)[0]
        is None
    )


def test_a_saturated_engine_that_still_produces_tokens_is_alive(worker, tmp_path):
    """Readiness never gates on saturation, and neither does liveness: a long queue with tokens
    flowing is healthy."""
    state = tmp_path / "state.json"
    worker.running, worker.waiting = 64, 500
    for step in range(3):
        worker.generated += 1000
        assert probe(worker, state, stall="0") == 0, step


def test_pending_work_without_a_token_for_the_stall_time_is_a_hung_engine(worker, tmp_path, capsys):
    state = tmp_path / "state.json"
    worker.running, worker.waiting, worker.generated = 2, 5, 42
    assert probe(worker, state, stall="0") == 0, "the first sample only starts the clock"
    assert probe(worker, state, stall="0") == 1
    assert "engine hung: 7 request(s) pending and no token produced" in capsys.readouterr().err
    # Progress resumes: alive again, the clock restarts.
    worker.generated = 43
    assert probe(worker, state, stall="0") == 0


def test_the_stall_must_last_the_whole_stall_time():
    start = {"progress": 5.0, "since": 1000.0}
    metrics = {"ray_vllm_num_requests_waiting": 3.0, "ray_vllm_generation_tokens_total": 5.0}
    assert probe_liveness.judge(metrics, start, 1119.0, 120)[0] is None
    assert "no token produced for 120s" in probe_liveness.judge(metrics, start, 1120.0, 120)[0]


def test_a_loading_model_without_engine_metrics_is_not_judged(worker, tmp_path):
    assert probe_liveness.judge({"ray_node_cpu_utilization": 3.0}, None, 0, 120) == (None, {})
    assert probe_liveness.judge(None, {"progress": 1.0, "since": 0.0}, 1e6, 120) == (None, {})


def test_a_dead_raylet_fails_the_probe(worker, tmp_path, capsys):
    worker.raylet = "dead"
    assert probe(worker, tmp_path / "state.json") == 1
    assert "raylet health check answered" in capsys.readouterr().err


def test_the_probe_runs_as_the_kubelet_runs_it(worker, tmp_path):
    """A separate process of the script file itself, with the flags the chart passes."""
    worker.running, worker.generated = 1, 3
    command = [
        sys.executable,
        str(FILES / "probe_liveness.py"),
        "--raylet-url",
        worker.raylet_url,
        "--metrics-url",
        worker.metrics_url,
        "--state",
        str(tmp_path / "s.json"),
        "--stall-seconds=120",
        "--timeout=5",
    ]
    assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0


# --- tiktoken staging ----------------------------------------------------------------------

CONTENT = b"dGVzdA== 0\nYWJj 1\n"  # tiktoken's format: base64 token, rank
DIGEST = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def bucket(monkeypatch):
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="weights")
        s3.put_object(Bucket="weights", Key="tiktoken/o200k_base.tiktoken", Body=CONTENT)
        yield s3


def stage(dest, file_arg: str) -> int:
    return stage_tiktoken.main(["--source", "s3://weights/tiktoken", "--dest", str(dest), "--file", file_arg])


def test_staging_copies_verified_files_from_the_weights_bucket(bucket, tmp_path):
    code = stage(tmp_path, f"o200k_base.tiktoken={DIGEST}")
    assert code == 0
    assert (tmp_path / "o200k_base.tiktoken").read_bytes() == CONTENT
    assert [p.name for p in tmp_path.iterdir()] == ["o200k_base.tiktoken"], "no partial file may remain"


def test_staging_refuses_a_file_whose_digest_differs(bucket, tmp_path, capsys):
    code = stage(tmp_path, f"o200k_base.tiktoken={'0' * 64}")
    assert code == 1
    assert "sha256" in capsys.readouterr().err
    assert not (tmp_path / "o200k_base.tiktoken").exists()


def test_staging_names_the_missing_object(bucket, tmp_path, capsys):
    code = stage(tmp_path, f"cl100k_base.tiktoken={DIGEST}")
    assert code == 1
    assert "s3://weights/tiktoken/cl100k_base.tiktoken" in capsys.readouterr().err


def test_staging_keeps_a_verified_file_without_fetching_it_again(tmp_path):
    (tmp_path / "o200k_base.tiktoken").write_bytes(CONTENT)
    # No S3 mock and an unusable source: only a fetch could fail.
    assert stage_tiktoken.stage("s3://nowhere/x", tmp_path, {"o200k_base.tiktoken": DIGEST}) == [tmp_path / "o200k_base.tiktoken"]


def test_staging_refuses_an_unsupported_source(tmp_path):
    with pytest.raises(stage_tiktoken.StagingError, match="unsupported source"):
        stage_tiktoken.stage("http://insecure.example/enc", tmp_path, {"o200k_base.tiktoken": DIGEST})
