"""A small client of the Kubernetes API for the operator commands: read a kubeconfig, make requests.

Not a general client: what `drain` and `smoke` need (ConfigMaps, SelfSubjectReview), with the
kubeconfig forms EKS uses (`aws eks update-kubeconfig` writes an `exec` user that runs
`aws eks get-token`) plus bearer tokens and client certificates. The `kubernetes` Python client
does not resolve next to this project's other pins (its python-dateutil requirement excludes
botocore's), and kubectl would be a binary every runbook reader and test must have.
Kubeconfig format: kubernetes.io, "Organizing Cluster Access Using kubeconfig Files";
exec credentials: kubernetes.io, "client-go credential plugins" (ExecCredential `status.token`).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class KubeError(Exception):
    """A request failed or the kubeconfig is unusable; the message never holds a token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class KubeTarget:
    """Where and how to reach one cluster: the API server and the credentials of a context."""

    context: str
    cluster: str
    server: str
    namespace: str | None
    verify: bool | str
    token: str | None
    cert: tuple[str, str] | None


def kubeconfig_path(explicit: str | None = None) -> Path:
    """--kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path.home() / ".kube" / "config"


def load_target(path: Path, context: str | None = None) -> KubeTarget:
    """The context `context` (default: current-context) of the kubeconfig at `path`, resolved."""
    if not path.is_file():
        raise KubeError(
            f"no kubeconfig at {path}; create one with `aws eks update-kubeconfig --name <cluster> --region <region>`"
        )
    config = yaml.safe_load(path.read_text()) or {}
    name = context or config.get("current-context")
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    if not name or name not in contexts:
        raise KubeError(f"kubeconfig {path} has no context {name!r}; contexts: {', '.join(sorted(contexts)) or 'none'}")
    ctx = contexts[name]
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    cluster = clusters.get(ctx.get("cluster"))
    if cluster is None or not cluster.get("server"):
        raise KubeError(f"context {name!r} names cluster {ctx.get('cluster')!r}, which has no server in {path}")
    user = users.get(ctx.get("user"), {})
    return KubeTarget(
        context=name,
        cluster=str(ctx.get("cluster")),
        server=cluster["server"].rstrip("/"),
        namespace=ctx.get("namespace"),
        verify=_verify(cluster, path.parent),
        token=_token(user, path.parent),
        cert=_client_cert(user, path.parent),
    )


def _verify(cluster: dict[str, Any], base: Path) -> bool | str:
    if cluster.get("insecure-skip-tls-verify"):
        return False
    if cluster.get("certificate-authority-data"):
        return _temp_file(base64.b64decode(cluster["certificate-authority-data"]))
    if cluster.get("certificate-authority"):
        return str(base / cluster["certificate-authority"])
    return True


def _token(user: dict[str, Any], base: Path) -> str | None:
    if user.get("token"):
        return str(user["token"])
    if user.get("tokenFile"):
        return (base / user["tokenFile"]).read_text().strip()
    if user.get("exec"):
        return _exec_token(user["exec"])
    return None


def _exec_token(spec: dict[str, Any]) -> str:
    command = [spec["command"], *(spec.get("args") or [])]
    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []}}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    except FileNotFoundError:
        raise KubeError(f"the kubeconfig runs `{spec['command']}` for a token, and it is not installed") from None
    if done.returncode != 0:
        # stderr of `aws eks get-token` names the problem (expired SSO session...), never a token.
        raise KubeError(f"`{' '.join(command[:3])} ...` failed: {done.stderr.strip()[:300]}")
    try:
        return json.loads(done.stdout)["status"]["token"]
    except (ValueError, KeyError, TypeError):
        raise KubeError(f"`{spec['command']}` did not print an ExecCredential with status.token") from None


def _client_cert(user: dict[str, Any], base: Path) -> tuple[str, str] | None:
    if user.get("client-certificate-data") and user.get("client-key-data"):
        return (
            _temp_file(base64.b64decode(user["client-certificate-data"])),
            _temp_file(base64.b64decode(user["client-key-data"])),
        )
    if user.get("client-certificate") and user.get("client-key"):
        return str(base / user["client-certificate"]), str(base / user["client-key"])
    return None


def _temp_file(data: bytes) -> str:
    # Kept after closing (delete=False): the TLS context reads it by name.
    with tempfile.NamedTemporaryFile(prefix="gpt-oss-kube-", delete=False) as handle:
        handle.write(data)
    return handle.name


class KubeClient:
    """Requests against one API server (httpx, from the `ops` group)."""

    def __init__(self, target: KubeTarget, timeout_s: float = 15.0) -> None:
        import httpx

        headers = {"Accept": "application/json"}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        self.target = target
        self._http = httpx.Client(
            base_url=target.server, headers=headers, verify=target.verify, cert=target.cert, timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        import httpx

        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise KubeError(f"cannot reach the Kubernetes API at {self.target.server}: {type(error).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        return response.status_code, data if isinstance(data, dict) else {}

    def raw(self, method: str, path: str) -> Any:
        """The httpx response itself (non-JSON bodies: a pod's /metrics through the pod proxy)."""
        import httpx

        try:
            return self._http.request(method, path, headers={"Accept": "*/*"})
        except httpx.HTTPError as error:
            raise KubeError(f"cannot reach the Kubernetes API at {self.target.server}: {type(error).__name__}") from None

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        status, data = self.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        if status == 404:
            return None
        _check(status, data, f"read ConfigMap {namespace}/{name}")
        return data

    def create_configmap(self, namespace: str, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", obj)

    def replace_configmap(self, namespace: str, name: str, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.request("PUT", f"/api/v1/namespaces/{namespace}/configmaps/{name}", obj)

    def whoami(self) -> str | None:
        """The authenticated user (SelfSubjectReview, GA in Kubernetes 1.28), or None when refused."""
        status, data = self.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        if status not in (200, 201):
            return None
        return ((data.get("status") or {}).get("userInfo") or {}).get("username")


def _check(status: int, data: dict[str, Any], what: str) -> None:
    if status >= 400:
        raise KubeError(f"could not {what}: HTTP {status} {str(data.get('message') or '')[:300]}", status)
