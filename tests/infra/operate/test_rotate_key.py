"""Key rotation that sticks: `gpt-oss-platform rotate-managed-key` updates the Kubernetes Secret
(over the fake Kubernetes API on 127.0.0.1), the Secrets Manager secret found by its name prefix
(moto server on 127.0.0.1, the generated suffix and all), the stack config and the GitHub secret
(the real command lines, run through stand-ins that record what they get on standard input); and
the deploy workflow's own step, run with the real aws CLI against moto, then writes the rotated
key into `managedApiKey` while the GitHub secret still holds the old one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
import yaml

from contracts import MANAGED_API_KEY_FIELD, MANAGED_API_KEY_SECRET, NAMESPACE
from support.fake_kube_api import FakeKubeApi
from tests.serving.harness import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
OLD_KEY = "sk-old-managed-key-0123456789abcdef"
NEW_KEY = "sk-new-managed-key-fedcba9876543210"
PROD_CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/gpt-oss-prod"
RECORDER = """#!/bin/sh
# Records its arguments and standard input, as the real tool would receive them.
printf '%s\\n' "$*" >> "$RECORD_DIR/$(basename "$0").args"
cat > "$RECORD_DIR/$(basename "$0").stdin"
"""


@pytest.fixture
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto's backends live in the process, shared by every server: start each test from nothing.
    httpx.post(f"{url}/moto-api/reset").raise_for_status()
    yield url
    server.stop()


@pytest.fixture
def aws_env(moto_server: str, tmp_path: Path, monkeypatch) -> dict[str, str]:
    env = {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi().start()
    api.put_secret(NAMESPACE, MANAGED_API_KEY_SECRET, {MANAGED_API_KEY_FIELD: OLD_KEY})
    yield api
    api.stop()


@pytest.fixture
def prod_kubeconfig(kube: FakeKubeApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    kube.write_kubeconfig(path, cluster_name=PROD_CLUSTER_ARN)
    return path


@pytest.fixture
def recorders(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("pulumi", "gh"):
        script = folder / tool
        script.write_text(RECORDER)
        script.chmod(0o755)
    (tmp_path / "records").mkdir()
    return folder


def _secret(region: str = "us-east-1") -> str:
    client = boto3.client("secretsmanager", region_name=region)
    # What `name_prefix` gives: the prefix plus a generated suffix.
    arn = client.create_secret(Name="gpt-oss-platform/prod/managed-api-key-20261130abcdef", SecretString=OLD_KEY)["ARN"]
    client.create_secret(Name="gpt-oss-platform/staging/managed-api-key-20261130aaaaaa", SecretString="sk-staging-key-000000000")
    return arn


def _cli(args: list[str], env: dict[str, str], tmp_path: Path, recorders: Path) -> subprocess.CompletedProcess:
    full = {
        **os.environ,
        **env,
        "PATH": f"{recorders}:{BIN}:/usr/bin:/bin",
        "RECORD_DIR": str(tmp_path / "records"),
    }
    return subprocess.run(
        [str(BIN / "gpt-oss-platform"), *args], capture_output=True, text=True, timeout=120, env=full, cwd=REPO, check=False
    )


def test_rotation_updates_the_four_places_and_never_prints_the_key(kube, prod_kubeconfig, aws_env, recorders, tmp_path):
    arn = _secret()
    key_file = tmp_path / "new-key"
    key_file.write_text(NEW_KEY + "\n")
    done = _cli(
        ["rotate-managed-key", "--env", "prod", "--key-file", str(key_file), "--kubeconfig", str(prod_kubeconfig)],
        aws_env,
        tmp_path,
        recorders,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert kube.secret_value(NAMESPACE, MANAGED_API_KEY_SECRET, MANAGED_API_KEY_FIELD) == NEW_KEY
    client = boto3.client("secretsmanager", region_name="us-east-1")
    assert client.get_secret_value(SecretId=arn)["SecretString"] == NEW_KEY
    staging = client.get_secret_value(SecretId="gpt-oss-platform/staging/managed-api-key-20261130aaaaaa")
    assert staging["SecretString"] == "sk-staging-key-000000000"  # another environment's: untouched
    records = tmp_path / "records"
    assert (records / "pulumi.args").read_text().strip() == "config set --secret managedApiKey --stack prod"
    assert (records / "pulumi.stdin").read_text() == NEW_KEY
    assert (records / "gh.args").read_text().strip() == "secret set MANAGED_API_KEY --env prod"
    assert (records / "gh.stdin").read_text() == NEW_KEY
    assert NEW_KEY not in done.stdout + done.stderr and OLD_KEY not in done.stdout + done.stderr
    assert "Revoke the old key" in done.stdout


def test_the_emergency_path_updates_the_cluster_alone_and_says_what_is_left(kube, prod_kubeconfig, aws_env, recorders, tmp_path):
    arn = _secret()
    key_file = tmp_path / "new-key"
    key_file.write_text(NEW_KEY)
    done = _cli(
        [
            "rotate-managed-key",
            "--env",
            "prod",
            "--key-file",
            str(key_file),
            "--kubeconfig",
            str(prod_kubeconfig),
            "--kubernetes-only",
        ],
        aws_env,
        tmp_path,
        recorders,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert kube.secret_value(NAMESPACE, MANAGED_API_KEY_SECRET, MANAGED_API_KEY_FIELD) == NEW_KEY
    assert boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(SecretId=arn)["SecretString"] == OLD_KEY
    assert "Run again without --kubernetes-only" in done.stdout


def test_a_missing_tool_or_secret_is_a_todo_with_the_command_and_exit_1(kube, prod_kubeconfig, aws_env, recorders, tmp_path):
    (recorders / "gh").unlink()  # gh not installed; and no Secrets Manager secret in this account
    key_file = tmp_path / "new-key"
    key_file.write_text(NEW_KEY)
    done = _cli(
        ["rotate-managed-key", "--env", "prod", "--key-file", str(key_file), "--kubeconfig", str(prod_kubeconfig)],
        aws_env,
        tmp_path,
        recorders,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "TODO secrets-manager: expected one Secrets Manager secret named gpt-oss-platform/prod/managed-api-key-<suffix>"
        in done.stdout
    )
    assert "TODO github: `gh` is not installed: run `gh secret set MANAGED_API_KEY --env prod < KEY_FILE`" in done.stdout
    assert kube.secret_value(NAMESPACE, MANAGED_API_KEY_SECRET, MANAGED_API_KEY_FIELD) == NEW_KEY


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), ("sk-short", "does not hold one API key"), ("sk-one-key-00000000000 sk-two", "does not hold one API key")],
)
def test_a_bad_key_file_is_refused_before_anything_changes(kube, prod_kubeconfig, aws_env, recorders, tmp_path, content, message):
    key_file = tmp_path / "new-key"
    key_file.write_text(content)
    done = _cli(
        ["rotate-managed-key", "--env", "prod", "--key-file", str(key_file), "--kubeconfig", str(prod_kubeconfig)],
        aws_env,
        tmp_path,
        recorders,
    )
    assert done.returncode == 2 and message in done.stdout + done.stderr
    assert kube.secret_value(NAMESPACE, MANAGED_API_KEY_SECRET, MANAGED_API_KEY_FIELD) == OLD_KEY


def _deploy_key_step() -> str:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    steps = [s for s in workflow["jobs"]["deploy"]["steps"] if "managedApiKey" in s.get("run", "")]
    assert len(steps) == 1, "one step of the deploy job (a matrix over the environments) writes managedApiKey"
    return steps[0]["run"]


def _run_step(script: str, aws_env: dict[str, str], tmp_path: Path, recorders: Path) -> subprocess.CompletedProcess:
    env = {
        **aws_env,
        "PATH": f"{recorders}:{BIN}:/usr/bin:/bin",
        "RECORD_DIR": str(tmp_path / "records"),
        "MANAGED_API_KEY": OLD_KEY,  # the GitHub secret, never rotated
        "AWS_REGION": "us-east-1",
        "ENV_NAME": "prod",  # the matrix's environment, as the step's env sets it
        "HOME": str(tmp_path),
    }
    return subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False)


def test_the_next_deploy_keeps_the_rotated_key(aws_env, recorders, tmp_path):
    arn = _secret()
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(SecretId=arn, SecretString=NEW_KEY)
    done = _run_step(_deploy_key_step(), aws_env, tmp_path, recorders)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "records" / "pulumi.stdin").read_text() == NEW_KEY
    assert NEW_KEY not in done.stdout + done.stderr


def test_the_first_deploy_seeds_the_key_from_the_github_secret(aws_env, recorders, tmp_path):
    done = _run_step(_deploy_key_step(), aws_env, tmp_path, recorders)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "records" / "pulumi.stdin").read_text() == OLD_KEY
