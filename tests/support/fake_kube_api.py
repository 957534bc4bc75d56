"""A fake Kubernetes API server for ConfigMaps, over real HTTP on 127.0.0.1, speaking the watch protocol.

Enough of the API for the drain switch (serving/gateway/route_override.py watches it,
infra/operate/kube.py writes it): list and watch ConfigMaps of a namespace (newline-delimited JSON
watch events ADDED / MODIFIED / DELETED / BOOKMARK / ERROR, `resourceVersion`, `timeoutSeconds`,
410 Gone for a version that is too old), get / create / replace (with the optimistic-concurrency
409) / delete one ConfigMap, and SelfSubjectReview (who am I). It enforces what RBAC with
`resourceNames` would: list and watch are refused (403) unless the request carries the field
selector `metadata.name=<name>` (kubernetes.io, "Using RBAC Authorization").

Faults, switched at run time: `stall_watches` (watches stay open and send nothing), `fail_lists`
(500 on list), `gone_next_watch` (the next watch answers 410).
"""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "fake-kube-token-7d1e0c3b9a"
USER = "arn:aws:iam::123456789012:role/oncall/jdoe"


@dataclass
class FakeKubeApi:
    token: str = TOKEN
    username: str = USER
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    stall_watches: bool = False
    fail_lists: bool = False
    gone_next_watch: bool = False
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (namespace, pod) -> (labels, the URL its port's /metrics answers on, phase): `drain --status`.
    pods: dict[tuple[str, str], tuple[dict[str, str], str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port = 0
        self._version = 100
        self._closing = False
        self._history: list[tuple[int, str, dict[str, Any]]] = []  # (resourceVersion, namespace, event)
        self._watchers: list[tuple[str, asyncio.Queue]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control (any thread) ---------------------------------------------------------------------

    def start(self) -> FakeKubeApi:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-kube-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Kubernetes API did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        # End open watches first (cleanup waits for running handlers), and refuse new ones: a
        # client still running (the gateway) re-watches at once.
        self._closing = True
        for _, queue in list(self._watchers):
            self._loop.call_soon_threadsafe(queue.put_nowait, None)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def put(self, namespace: str, name: str, data: dict[str, str], notify: bool = True) -> None:
        """Create or replace an object as another client would (watchers see it unless `notify` is False)."""
        asyncio.run_coroutine_threadsafe(self._store(namespace, name, data, notify), self._loop).result(5)

    # -- on-call drills: malformed watch events (route_override.py must survive them) -------------

    def put_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Create a Secret (`data` in plain text; stored base64 as the API does)."""
        import base64

        self._version += 1
        self.secrets[(namespace, name)] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self._version)},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        import base64

        found = self.secrets.get((namespace, name))
        return base64.b64decode(found["data"][key]).decode() if found and key in found["data"] else None

    def _add_secret_routes(self, app: web.Application) -> None:
        _secret_routes(self, app)

    def send_raw_event(self, namespace: str, line: bytes) -> None:
        """Send `line` as is to every open watch of `namespace` (a malformed event: no `object`,
        `object: null`, not JSON), bypassing the name filter and the history."""
        self._loop.call_soon_threadsafe(self._send_raw, namespace, line)

    def _send_raw(self, namespace: str, line: bytes) -> None:
        for ns, queue in self._watchers:
            if ns == namespace:
                queue.put_nowait(_Raw(line))

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((namespace, name))
        return copy.deepcopy(found) if found else None

    def write_kubeconfig(self, path, namespace: str = "gpt-oss") -> None:
        """A kubeconfig that points at this server with its token (the drain CLI reads it)."""
        import yaml

        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": self.token}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
                    "current-context": "fake",
                }
            )
        )

    # -- server ----------------------------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/api/v1/namespaces/{ns}/configmaps", self._list)
        app.router.add_post("/api/v1/namespaces/{ns}/configmaps", self._create)
        app.router.add_get("/api/v1/namespaces/{ns}/configmaps/{name}", self._read)
        app.router.add_put("/api/v1/namespaces/{ns}/configmaps/{name}", self._replace)
        app.router.add_delete("/api/v1/namespaces/{ns}/configmaps/{name}", self._delete)
        app.router.add_post("/apis/authentication.k8s.io/v1/selfsubjectreviews", self._whoami)
        self._add_secret_routes(app)
        _pod_routes(self, app)
        self._runner = web.AppRunner(app, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    def _auth(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path, dict(request.query)))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized")
        return None

    async def _store(self, ns: str, name: str, data: dict[str, str], notify: bool = True) -> dict[str, Any]:
        self._version += 1
        kind = "MODIFIED" if (ns, name) in self.objects else "ADDED"
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": str(self._version)},
            "data": dict(data),
        }
        self.objects[(ns, name)] = obj
        if notify:
            self._notify(ns, {"type": kind, "object": copy.deepcopy(obj)})
        return obj

    def _notify(self, ns: str, event: dict[str, Any]) -> None:
        self._history.append((self._version, ns, copy.deepcopy(event)))
        for namespace, queue in self._watchers:
            if namespace == ns:
                queue.put_nowait(event)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        denied = self._auth(request)
        if denied:
            return denied
        ns = request.match_info["ns"]
        selector = request.query.get("fieldSelector", "")
        if not selector.startswith("metadata.name="):
            return _status(403, "configmaps is forbidden: list/watch needs fieldSelector metadata.name (resourceNames)")
        name = selector.removeprefix("metadata.name=")
        if request.query.get("watch") in ("1", "true"):
            return await self._watch(request, ns, name)
        if self.fail_lists:
            return _status(500, "etcd unavailable")
        items = [copy.deepcopy(self.objects[(ns, name)])] if (ns, name) in self.objects else []
        return web.json_response(
            {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": str(self._version)}, "items": items}
        )

    async def _watch(self, request: web.Request, ns: str, name: str) -> web.StreamResponse:
        if self._closing:
            return _status(503, "shutting down")
        if self.gone_next_watch:
            self.gone_next_watch = False
            return _status(410, "too old resource version")
        timeout = float(request.query.get("timeoutSeconds", "1800"))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        # Like the API server: a watch from resourceVersion R first gets every change after R.
        since = int(request.query.get("resourceVersion") or self._version)
        for version, namespace, event in self._history:
            if version > since and namespace == ns:
                queue.put_nowait(copy.deepcopy(event))
        entry = (ns, queue)
        self._watchers.append(entry)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while (left := deadline - loop.time()) > 0:
                try:
                    event = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    break
                if event is None:
                    break
                if self.stall_watches:
                    continue
                if isinstance(event, _Raw):
                    await response.write(event.line.rstrip(b"\n") + b"\n")
                    continue
                if event["object"].get("metadata", {}).get("name") == name:
                    await response.write(json.dumps(event).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._watchers.remove(entry)
        return response

    async def _read(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        found = self.objects.get((request.match_info["ns"], request.match_info["name"]))
        return web.json_response(found) if found else _status(404, "not found")

    async def _create(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        body = await request.json()
        ns, name = request.match_info["ns"], body["metadata"]["name"]
        if (ns, name) in self.objects:
            return _status(409, "already exists")
        return web.json_response(await self._store(ns, name, body.get("data") or {}), status=201)

    async def _replace(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        body = await request.json()
        ns, name = request.match_info["ns"], request.match_info["name"]
        current = self.objects.get((ns, name))
        if current is None:
            return _status(404, "not found")
        if body.get("metadata", {}).get("resourceVersion") != current["metadata"]["resourceVersion"]:
            return _status(409, "the object has been modified")
        return web.json_response(await self._store(ns, name, body.get("data") or {}))

    async def _delete(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        ns, name = request.match_info["ns"], request.match_info["name"]
        obj = self.objects.pop((ns, name), None)
        if obj is None:
            return _status(404, "not found")
        self._version += 1
        self._notify(ns, {"type": "DELETED", "object": obj})
        return web.json_response({"kind": "Status", "status": "Success"})

    async def _whoami(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        return web.json_response(
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "SelfSubjectReview",
                "status": {"userInfo": {"username": self.username, "groups": ["system:authenticated"]}},
            },
            status=201,
        )


@dataclass(frozen=True)
class _Raw:
    line: bytes


def _secret_routes(api: FakeKubeApi, app: web.Application) -> None:
    """Secrets: read, and replace with the optimistic-concurrency 409 (the key rotation,
    infra/operate/rotate_key.py). Kept apart from the ConfigMap watch machinery."""

    async def read(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        found = api.secrets.get((request.match_info["ns"], request.match_info["name"]))
        return web.json_response(found) if found else _status(404, "secrets not found")

    async def replace(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        body = await request.json()
        key = (request.match_info["ns"], request.match_info["name"])
        current = api.secrets.get(key)
        if current is None:
            return _status(404, "secrets not found")
        if body.get("metadata", {}).get("resourceVersion") != current["metadata"]["resourceVersion"]:
            return _status(409, "the object has been modified")
        api._version += 1
        obj = copy.deepcopy(current)
        obj["data"] = dict(body.get("data") or {})
        obj["metadata"]["resourceVersion"] = str(api._version)
        api.secrets[key] = obj
        return web.json_response(obj)

    app.router.add_get("/api/v1/namespaces/{ns}/secrets/{name}", read)
    app.router.add_put("/api/v1/namespaces/{ns}/secrets/{name}", replace)


def _pod_routes(api: FakeKubeApi, app: web.Application) -> None:
    """Pods: list (with an equality labelSelector) and the pod proxy to a port's /metrics, which
    forwards to a real server on 127.0.0.1 (a gateway started by the test)."""

    async def list_pods(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        ns = request.match_info["ns"]
        wanted = dict(t.split("=", 1) for t in request.query.get("labelSelector", "").split(",") if "=" in t)
        items = [
            {"metadata": {"name": name, "namespace": ns, "labels": labels}, "status": {"phase": phase}}
            for (namespace, name), (labels, _, phase) in sorted(api.pods.items())
            if namespace == ns and all(labels.get(k) == v for k, v in wanted.items())
        ]
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "items": items})

    async def proxy(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        name = request.match_info["pod"].split(":", 1)[0]
        found = api.pods.get((request.match_info["ns"], name))
        if found is None:
            return _status(404, "pods not found")
        import aiohttp

        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(found[1], timeout=aiohttp.ClientTimeout(total=5)) as answer,
            ):
                return web.Response(status=answer.status, body=await answer.read(), content_type="text/plain")
        except (aiohttp.ClientError, OSError, TimeoutError):
            return _status(503, "error trying to reach service: dial tcp: connection refused")

    app.router.add_get("/api/v1/namespaces/{ns}/pods", list_pods)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{pod}/proxy/{path:.*}", proxy)


def _status(code: int, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "status": "Failure", "message": message, "code": code}, status=code)
