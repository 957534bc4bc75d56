"""The scripts the chart ships to the Ray worker pods (charts/gpt-oss-serving/files/):
the generation readiness probe, against a local fake Serve endpoint on 127.0.0.1, and the
tiktoken staging init container, against S3 mocked in-process by moto.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infra.paths import CHART_DIR

FILES = CHART_DIR / "files"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"chart_files_{name}", FILES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe_generate = load("probe_generate")
stage_tiktoken = load("stage_tiktoken")


class FakeServe:
    """A Serve proxy that answers /v1/completions the way a test tells it to."""

    def __init__(self):
        self.mode = "ok"
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body})
                if fake.mode == "hang":
                    time.sleep(3)
                    return
                status, payload = {
                    "ok": (200, {"choices": [{"text": " pong", "finish_reason": "length"}], "usage": {"completion_tokens": 1}}),
                    "error": (500, {"error": "engine dead"}),
                    "empty": (200, {"choices": [], "usage": {"completion_tokens": 0}}),
                    "not-json": (200, None),
                }[fake.mode]
                data = b"<html>" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/completions"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    with FakeServe() as fake:
        yield fake


def test_the_probe_passes_when_one_token_is_generated(serve):
    assert probe_generate.main(["--url", serve.url, "--model", "gpt-oss-120b", "--timeout", "2"]) == 0
    (request,) = serve.requests
    assert request["path"] == "/v1/completions"
    assert request["body"]["model"] == "gpt-oss-120b"
    assert request["body"]["max_tokens"] == 1, "the probe must stay a one-token generation"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("error", "HTTP 500"), ("empty", "no choices"), ("not-json", "not JSON"), ("hang", "within 1s")],
)
def test_the_probe_fails_with_the_reason_when_the_model_does_not_generate(serve, capsys, mode, reason):
    serve.mode = mode
    started = time.monotonic()
    assert probe_generate.main(["--url", serve.url, "--model", "m", "--timeout", "1"]) == 1
    assert time.monotonic() - started < 2.5, "a hung engine must fail the probe within its timeout"
    assert reason in capsys.readouterr().err


def test_the_probe_fails_when_nothing_listens():
    assert probe_generate.probe("http://127.0.0.1:9/v1/completions", "m", 1.0) is not None


def test_the_probe_runs_as_the_kubelet_runs_it(serve):
    """Exec probe: a fresh interpreter, standard library only, exit status is the verdict."""
    command = [sys.executable, "-I", str(FILES / "probe_generate.py"), f"--url={serve.url}", "--model=m", "--timeout=2"]
    assert subprocess.run(command, timeout=30).returncode == 0
    serve.mode = "error"
    failed = subprocess.run(command, timeout=30, capture_output=True, text=True)
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr


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
