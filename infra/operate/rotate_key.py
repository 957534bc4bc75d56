"""Rotate the managed API key everywhere it lives, in the order that restores service first.

Where the key lives (and who reads it):
1. the Kubernetes Secret `gpt-oss-managed-api-key` (contracts.MANAGED_API_KEY_SECRET): the gateway
   pods mount it, the kubelet refreshes the file within about a minute, the gateway re-reads it
   every `reload_interval_s`, closes the managed circuit and re-checks the key at once;
2. the Secrets Manager secret `gpt-oss-platform/<env>/managed-api-key-<generated suffix>` (a name
   prefix: infra/components/secrets.py): the deploy workflow reads the key from here
   (.github/workflows/deploy.yml), so the next deploy keeps the rotated key;
3. the stack's Pulumi secret `managedApiKey` (the encrypted `secure:` value in Pulumi.<env>.yaml):
   what a `pulumi up` from a checkout writes into 1 and 2;
4. the GitHub secret `MANAGED_API_KEY`: only the first deploy of an environment reads it (before
   the Secrets Manager secret exists); kept equal so it never brings an old key back.

Step 1 first: with a revoked key it is the one that brings the fallback back (the emergency path
is step 1 alone, `--kubernetes-only`, when AWS access is not at hand). The key is read from a file
and never printed, logged or passed on a command line (pulumi and gh read it from standard input).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import MANAGED_API_KEY_FIELD, MANAGED_API_KEY_SECRET, NAMESPACE
from infra.config.models import EnvironmentConfig
from infra.operate.kube import KubeClient, KubeError

GITHUB_SECRET = "MANAGED_API_KEY"
STACK_CONFIG_KEY = "managedApiKey"


class RotationRefused(ValueError):
    """The rotation cannot start (names the problem and the fix)."""


@dataclass(frozen=True)
class StepResult:
    step: str
    done: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "done": self.done, "detail": self.detail}


def secret_prefix(env_name: str) -> str:
    """The name prefix the program gives the Secrets Manager secret (infra/__main__.py)."""
    return f"gpt-oss-platform/{env_name}/managed-api-key-"


def read_key(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise RotationRefused(f"--key-file {path}: cannot read it ({error.strerror or type(error).__name__})") from None
    if not key:
        raise RotationRefused(f"--key-file {path} is empty: put the new key in it (one line)")
    if any(c.isspace() for c in key) or len(key) < 20:
        raise RotationRefused(
            f"--key-file {path} does not hold one API key (one line, no spaces, at least 20 characters); "
            "the key itself is not shown"
        )
    return key


def check_environment(env: EnvironmentConfig) -> None:
    if not env.fallback.allowed:
        raise RotationRefused(
            f"environment {env.name} has fallback.allowed false: it has no managed API key to rotate "
            f"(environments/{env.name}.yaml)"
        )


def update_kubernetes_secret(client: KubeClient, key: str, namespace: str = NAMESPACE) -> StepResult:
    path = f"/api/v1/namespaces/{namespace}/secrets/{MANAGED_API_KEY_SECRET}"
    for _ in range(3):  # a concurrent writer (pulumi up) changes resourceVersion: read again
        status, current = client.request("GET", path)
        if status == 404:
            raise KubeError(
                f"Secret {namespace}/{MANAGED_API_KEY_SECRET} does not exist: the environment was deployed without a "
                "managed key; set it with `pulumi config set --secret managedApiKey` and `pulumi up`",
                status,
            )
        if status >= 400:
            raise KubeError(f"could not read Secret {namespace}/{MANAGED_API_KEY_SECRET}: HTTP {status}", status)
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": current.get("type", "Opaque"),
            "metadata": {**current.get("metadata", {})},
            "data": {**(current.get("data") or {}), MANAGED_API_KEY_FIELD: base64.b64encode(key.encode()).decode()},
        }
        status, _ = client.request("PUT", path, body)
        if status == 409:
            continue
        if status >= 400:
            raise KubeError(f"could not replace Secret {namespace}/{MANAGED_API_KEY_SECRET}: HTTP {status}", status)
        return StepResult(
            "kubernetes",
            True,
            f"Secret {namespace}/{MANAGED_API_KEY_SECRET} updated: the gateway pods read it within about a minute "
            "(kubelet refresh) plus their reload interval, close the managed circuit and re-check the key",
        )
    raise KubeError(f"Secret {namespace}/{MANAGED_API_KEY_SECRET} kept changing under the update: run again")


def find_secrets_manager_secret(secretsmanager: Any, env_name: str) -> str:
    """The ARN of the environment's secret, found by its name prefix (the generated suffix varies)."""
    prefix = secret_prefix(env_name)
    found: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [prefix]}], "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        page = secretsmanager.list_secrets(**kwargs)
        found += [s for s in page.get("SecretList", []) if s.get("Name", "").startswith(prefix) and not s.get("DeletedDate")]
        token = page.get("NextToken")
        if not token:
            break
    if len(found) != 1:
        names = ", ".join(sorted(s["Name"] for s in found)) or "none"
        raise RotationRefused(
            f"expected one Secrets Manager secret named {prefix}<suffix> in this account and region, found {names}: "
            "check the AWS profile and --region (the environment's region is in environments/<env>.yaml)"
        )
    return found[0]["ARN"]


def update_secrets_manager(env_name: str, region: str, key: str, secretsmanager: Any = None) -> StepResult:
    """A new AWSCURRENT version of the environment's secret (boto3; AWS_ENDPOINT_URL points it at moto in tests)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = secretsmanager or boto3.client("secretsmanager", region_name=region)
    try:
        arn = find_secrets_manager_secret(client, env_name)
        version = client.put_secret_value(SecretId=arn, SecretString=key)["VersionId"]
    except RotationRefused as error:
        return StepResult("secrets-manager", False, str(error))
    except (BotoCoreError, ClientError) as error:
        # botocore messages name the operation and the error code, never the secret value.
        return StepResult("secrets-manager", False, f"{type(error).__name__}: {str(error)[:300]}")
    name = arn.rsplit(":", 1)[-1]
    return StepResult("secrets-manager", True, f"secret {name}: new version {version} (AWSCURRENT); the next deploy reads it")


def pulumi_command(env_name: str) -> list[str]:
    return ["pulumi", "config", "set", "--secret", STACK_CONFIG_KEY, "--stack", env_name]


def github_command(env_name: str) -> list[str]:
    return ["gh", "secret", "set", GITHUB_SECRET, "--env", env_name]


Runner = Callable[..., subprocess.CompletedProcess]


def run_with_key(command: list[str], key: str, step: str, how: str, runner: Runner = subprocess.run) -> StepResult:
    """Run `command` with the key on standard input, or say how to when its tool is missing."""
    if shutil.which(command[0]) is None:
        return StepResult(step, False, f"`{command[0]}` is not installed: run `{' '.join(command)} < KEY_FILE` {how}")
    done = runner(command, input=key, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        # Their stderr names the problem (not logged in, no such stack); it never holds the key.
        message = (done.stderr or done.stdout or "").strip().replace(key, "***")[:300]
        return StepResult(step, False, f"`{' '.join(command)}` failed: {message}; run it again {how}")
    return StepResult(step, True, f"`{' '.join(command)}` done")
