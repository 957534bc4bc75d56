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

For the cost governor (infra/operate/governor): coordination.k8s.io/v1 Leases (get, create,
replace with the optimistic-concurrency 409), core/v1 Events (create) and ray.io/v1 RayServices
(get, JSON merge patch, 409 when the patch carries a stale resourceVersion), kept in `custom`
under (group, resource, namespace, name); `add_custom` seeds one. With `rbac_rules` set (the
rules of a rendered Role), every request that no rule allows is refused with 403, as the API
server's RBAC authorizer would (kubernetes.io, "Using RBAC Authorization"): a test that passes
proves the Role is enough.

For the executed runbooks (tests/runbooks/test_runbook_execution.py) and a real kubectl: the
discovery documents (/api, /apis, /api/v1, /apis/<group>/<version>), get / list / describe of any
object of RESOURCES loaded with `load` (404 for a name it does not hold), pod logs (`tailLines`
honoured), `kubectl delete` of a core object (recorded in `deleted`), and HTTPS with a throwaway
certificate (`tls=True`: kubectl sends its bearer token only over TLS).

Writes of the executed runbooks (`_write_routes`): `kubectl cordon` (merge or strategic merge
PATCH of a core object, recorded in `patched`), `kubectl drain` (pods of every namespace by
`spec.nodeName`, DaemonSets read for their pods, the policy/v1 Eviction subresource, recorded in
`evicted`) and `kubectl patch --type merge` of a cluster-scoped custom object (Karpenter NodePools).
An eviction is refused (429) where a PodDisruptionBudget would refuse it (`_disruption_refusal`). The service proxy
(`service_proxies`): GETs to `services/<name>:<port>/proxy/<path>` go to a real server (Prometheus).

`kubectl exec` (`_exec_routes`): the pods/exec subresource over WebSocket, the
`v5.channel.k8s.io` protocol kubectl 1.3x speaks; what runs "in the container" is `exec_handler`'s
business (tests/support/container_exec.py).
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from support.ports import free_port

TOKEN = "fake-kube-token-7d1e0c3b9a"


@dataclass(frozen=True)
class ExecResult:
    """What a command run in a container left: its output streams and exit code, or
    `not_found`: the program is not in the image (the runtime refuses to start it)."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    not_found: str | None = None


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
    custom: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    rbac_rules: list[dict[str, Any]] | None = None
    denied: list[tuple[str, str, str, str]] = field(default_factory=list)
    # Read-only objects for the executed runbooks (tests/runbooks/test_runbook_execution.py):
    # core/v1 ones under (resource, namespace or "", name); API-group ones go to `custom`.
    core: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # (namespace, pod, container) -> the log text `kubectl logs` reads.
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # Serve HTTPS with a throwaway self-signed certificate: kubectl sends a bearer token only over
    # TLS (client-go drops it on plain http), so the executed runbooks need it.
    tls: bool = False
    # (resource, namespace, name) of each core object deleted through the API.
    deleted: list[tuple[str, str, str]] = field(default_factory=list)
    # (namespace, pod) of each pod evicted through the Eviction subresource (`kubectl drain`).
    evicted: list[tuple[str, str]] = field(default_factory=list)
    # (group, resource, namespace or "", name) of each object patched through the API
    # (`kubectl cordon`, `kubectl patch`), in order.
    patched: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (namespace, "<service>:<port>") -> the base URL the service proxy forwards to (a real
    # Prometheus started by the test): `kubectl get --raw .../services/<svc>:<port>/proxy/<path>`.
    service_proxies: dict[tuple[str, str], str] = field(default_factory=dict)
    # Full RBAC for one identity (the on-call group): {"roles": {namespace: [rules]}, "cluster":
    # [rules]} from rendered Roles and a ClusterRole; see `_authorize_policy`. None: not enforced.
    rbac_policy: dict[str, Any] | None = None
    # `kubectl exec`: (namespace, pod object, container name, argv) -> ExecResult; None: every
    # exec answers the runtime's "executable file not found". Each exec is recorded in `execs`.
    exec_handler: Callable[[str, dict[str, Any], str, list[str]], ExecResult] | None = None
    execs: list[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=list)
    refused_evictions: list[tuple[str, str, str]] = field(default_factory=list)  # (namespace, pod, budget)
    forwards: list[tuple[str, str]] = field(default_factory=list)  # (namespace, pod) of each authorized port-forward

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
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # -- control (any thread) ---------------------------------------------------------------------

    def start(self) -> FakeKubeApi:
        self._ca_pem, self._ssl = _self_signed() if self.tls else (b"", None)
        self.port = free_port()
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

    def write_kubeconfig(self, path, namespace: str = "gpt-oss", cluster_name: str = "fake") -> None:
        """A kubeconfig that points at this server with its token (the drain CLI reads it).
        `cluster_name`: the entry's name, e.g. the ARN `aws eks update-kubeconfig` gives it (the
        CLI checks it names the environment's cluster)."""
        import base64

        import yaml

        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self._ca_pem).decode()
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": cluster_name, "cluster": cluster}],
                    "users": [{"name": "fake", "user": {"token": self.token}}],
                    "contexts": [{"name": "fake", "context": {"cluster": cluster_name, "user": "fake", "namespace": namespace}}],
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
        _write_routes(self, app)
        _exec_routes(self, app)
        _read_only_routes(self, app)
        app.router.add_get("/apis/{group}/v1/namespaces/{ns}/{resource}/{name}", self._custom_get)
        app.router.add_put("/apis/{group}/v1/namespaces/{ns}/{resource}/{name}", self._custom_replace)
        app.router.add_patch("/apis/{group}/v1/namespaces/{ns}/{resource}/{name}", self._custom_patch)
        app.router.add_post("/apis/{group}/v1/namespaces/{ns}/{resource}", self._custom_create)
        app.router.add_post("/api/v1/namespaces/{ns}/events", self._event_create)
        self._runner = web.AppRunner(app, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl).start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    def _auth(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path, dict(request.query)))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized")
        return self._authorize(request)

    def _authorize(self, request: web.Request) -> web.Response | None:
        """RBAC's decision for the request, when `rbac_rules` is set (namespaced resources only)."""
        if self.rbac_policy is not None:
            return self._authorize_policy(request)
        if self.rbac_rules is None:
            return None
        parts = request.path.strip("/").split("/")
        # /api/v1/namespaces/ns/res[/name] or /apis/group/v1/namespaces/ns/res[/name]
        group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
        if len(rest) < 3 or rest[0] != "namespaces":
            return None
        resource, name = rest[2], (rest[3] if len(rest) > 3 else "")
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}[request.method]
        if request.method == "GET" and not name:
            verb = "watch" if _wants_watch(request) else "list"
            name = request.query.get("fieldSelector", "").removeprefix("metadata.name=")
        for rule in self.rbac_rules:
            if (
                group in rule.get("apiGroups", [])
                and resource in rule.get("resources", [])
                and verb in rule.get("verbs", [])
                and (not rule.get("resourceNames") or name in rule["resourceNames"])
            ):
                return None
        self.denied.append((verb, group, resource, name))
        return _status(403, f'{resource}.{group or "core"} "{name}" is forbidden: cannot {verb}')

    def _authorize_policy(self, request: web.Request) -> web.Response | None:
        """RBAC as the API server decides it for `rbac_policy` (kubernetes.io, "Using RBAC
        Authorization"; the request attributes as k8s.io/apiserver's RequestInfoFactory reads the
        path): resource, subresource (`pods/log`, `pods/eviction`, `services/proxy`), name (for a
        proxy, the `<name>:<port>` path segment; for list/watch, a `metadata.name` field
        selector), namespace, verb. A ClusterRole rule applies in every namespace, a Role rule in
        its own. Discovery and SelfSubjectReview are open to every authenticated user (the
        system:discovery and system:basic-user bindings)."""
        parts = request.path.strip("/").split("/")
        if parts[0] == "api":
            group, rest = "", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, rest = parts[1], parts[3:]
        else:
            return None
        if not rest or (group == "authentication.k8s.io" and rest == ["selfsubjectreviews"]):
            return None
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource, name, sub = rest[0], (rest[1] if len(rest) > 1 else ""), (rest[2] if len(rest) > 2 else "")
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}[request.method]
        if request.method == "GET" and not name:
            verb = "watch" if _wants_watch(request) else "list"
            selector = request.query.get("fieldSelector", "")
            name = selector.removeprefix("metadata.name=") if selector.startswith("metadata.name=") else ""
        if request.method == "POST" and not sub:
            name = ""  # a create names no existing object
        if sub in ("exec", "attach", "portforward"):
            # A WebSocket upgrade is a GET, authorized as `create` like SPDY's POST (feature gate
            # AuthorizePodWebsocketUpgradeCreatePermission, beta and on since 1.35:
            # kubernetes/website content/en/docs/reference/command-line-tools-reference/
            # feature-gates/AuthorizePodWebsocketUpgradeCreatePermission.md).
            verb = "create"
        full = f"{resource}/{sub}" if sub else resource
        rules = list(self.rbac_policy.get("cluster", []))
        if namespace:
            rules += self.rbac_policy.get("roles", {}).get(namespace, [])
        for rule in rules:
            if (
                group in rule.get("apiGroups", [])
                and full in rule.get("resources", [])
                and verb in rule.get("verbs", [])
                and (not rule.get("resourceNames") or name in rule["resourceNames"])
            ):
                return None
        self.denied.append((verb, group, full, f"{namespace}/{name}"))
        return _status(403, f'{full}.{group or "core"} "{name}" is forbidden: cannot {verb} in namespace "{namespace}"')

    # -- the governor's objects ------------------------------------------------------------------------

    def add_custom(self, group: str, resource: str, obj: dict[str, Any]) -> None:
        self._version += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._version)
        obj["metadata"].setdefault("generation", 1)
        self.custom[(group, resource, obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj

    def get_custom(self, group: str, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.custom.get((group, resource, namespace, name))
        return copy.deepcopy(found) if found else None

    def _key(self, request: web.Request, name: str | None = None) -> tuple[str, str, str, str]:
        m = request.match_info
        return (m["group"], m["resource"], m["ns"], name or m["name"])

    async def _custom_get(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        found = self.custom.get(self._key(request))
        return web.json_response(found) if found else _status(404, "not found")

    async def _custom_create(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        body = await request.json()
        key = self._key(request, body["metadata"]["name"])
        if key in self.custom:
            return _status(409, "already exists")
        body["metadata"]["namespace"] = key[2]
        self.add_custom(key[0], key[1], body)
        return web.json_response(self.custom[key], status=201)

    async def _custom_replace(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        body = await request.json()
        key = self._key(request)
        current = self.custom.get(key)
        if current is None:
            return _status(404, "not found")
        if body.get("metadata", {}).get("resourceVersion") != current["metadata"]["resourceVersion"]:
            return _status(409, "the object has been modified")
        self.add_custom(key[0], key[1], body)
        return web.json_response(self.custom[key])

    async def _custom_patch(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        if request.content_type != "application/merge-patch+json":
            return _status(415, f"unsupported patch type {request.content_type}")
        body = await request.json()
        key = self._key(request)
        current = self.custom.get(key)
        if current is None:
            return _status(404, "not found")
        wanted = body.get("metadata", {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            return _status(409, "the object has been modified")
        merged = _merge_patch(copy.deepcopy(current), body)
        if merged.get("spec") != current.get("spec"):
            merged["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        self.add_custom(key[0], key[1], merged)
        return web.json_response(self.custom[key])

    async def _event_create(self, request: web.Request) -> web.Response:
        denied = self._auth(request)
        if denied:
            return denied
        body = await request.json()
        self._version += 1
        name = body["metadata"].get("name") or f"{body['metadata'].get('generateName', 'event-')}{self._version}"
        body["metadata"].update(name=name, namespace=request.match_info["ns"], resourceVersion=str(self._version))
        self.custom[("", "events", request.match_info["ns"], name)] = body
        return web.json_response(body, status=201)

    def events(self, namespace: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for (g, r, ns, _), o in sorted(self.custom.items()) if (g, r, ns) == ("", "events", namespace)]

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
        if _wants_watch(request):
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

    async def _quiet_watch(self, request: web.Request) -> web.StreamResponse:
        """A watch of the runbooks' objects (`kubectl get -w`), authorized like any watch: held open
        with no events until its `timeoutSeconds` or the server stops (nothing changes them while
        a runbook step runs)."""
        if self._closing:
            return _status(503, "shutting down")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        entry = ("\0quiet", queue)  # no namespace: stop() ends it, no ConfigMap event reaches it
        self._watchers.append(entry)
        try:
            await asyncio.wait_for(queue.get(), float(request.query.get("timeoutSeconds", "1800")))
        except (TimeoutError, ConnectionResetError, asyncio.CancelledError):
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

    async def list_pods(request: web.Request) -> web.StreamResponse:
        denied = api._auth(request)
        if denied:
            return denied
        if _wants_watch(request):
            return await api._quiet_watch(request)
        ns = request.match_info["ns"]
        wanted = dict(t.split("=", 1) for t in request.query.get("labelSelector", "").split(",") if "=" in t)
        items = [
            {"metadata": {"name": name, "namespace": ns, "labels": labels}, "status": {"phase": phase}}
            for (namespace, name), (labels, _, phase) in sorted(api.pods.items())
            if namespace == ns and all(labels.get(k) == v for k, v in wanted.items())
        ]
        # Full Pod objects loaded with `load` (the executed runbooks), with the same selector.
        items += [
            obj
            for (resource, namespace, _), obj in sorted(api.core.items())
            if resource == "pods" and namespace == ns and _matches(obj, request.query)
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


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge_patch(target.get(key), value)
    return target


def _wants_watch(request: web.Request) -> bool:
    """A list request with `watch=true` (or `1`) is a watch (k8s.io/apiserver's RequestInfo)."""
    return request.query.get("watch") in ("1", "true")


def _status(code: int, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "status": "Failure", "message": message, "code": code}, status=code)


# -- read-only cluster for the executed runbooks -------------------------------------------------------
#
# A real kubectl (1.3x) needs discovery before any verb: GET /api and /apis (APIVersions,
# APIGroupList; it falls back to these when the server does not answer the aggregated
# apidiscovery.k8s.io/v2 form), then /api/v1 and /apis/<group>/<version> (APIResourceList), whose
# `namespaced`, `kind`, `shortNames` and `verbs` map `kubectl get deploy` to a URL
# (kubernetes.io, "Kubernetes API Concepts", "Discovery API"). Objects are answered as stored
# (JSON, not the server-side Table: kubectl prints NAME/AGE for those), 404 for a name that is
# not stored, which is what makes a runbook with a wrong name fail.

# (group, version, resource, kind, namespaced, short names)
RESOURCES: list[tuple[str, str, str, str, bool, list[str]]] = [
    ("", "v1", "pods", "Pod", True, ["po"]),
    ("", "v1", "nodes", "Node", False, ["no"]),
    ("", "v1", "events", "Event", True, ["ev"]),
    ("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    ("", "v1", "secrets", "Secret", True, []),
    ("", "v1", "services", "Service", True, ["svc"]),
    ("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    ("", "v1", "namespaces", "Namespace", False, ["ns"]),
    ("apps", "v1", "deployments", "Deployment", True, ["deploy"]),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"]),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"]),
    ("ray.io", "v1", "rayservices", "RayService", True, []),
    ("ray.io", "v1", "rayclusters", "RayCluster", True, []),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, []),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"]),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"]),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, []),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, []),
    ("karpenter.sh", "v1", "nodeclaims", "NodeClaim", False, []),
    ("karpenter.sh", "v1", "nodepools", "NodePool", False, []),
    ("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", True, []),
    ("monitoring.coreos.com", "v1", "podmonitors", "PodMonitor", True, []),
    ("monitoring.coreos.com", "v1", "prometheusrules", "PrometheusRule", True, []),
]
_BY_KIND = {(g, kind): (v, r) for g, v, r, kind, _, _ in RESOURCES}


def load(api: FakeKubeApi, obj: dict[str, Any]) -> None:
    """Store one object (any kind of RESOURCES) so that kubectl can get, list and describe it."""
    group, _, _version = obj["apiVersion"].rpartition("/")
    found = _BY_KIND.get((group, obj["kind"]))
    if found is None:
        raise ValueError(f"fake Kubernetes API: kind {obj['apiVersion']} {obj['kind']} is not in RESOURCES")
    _, resource = found
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
    meta.setdefault("uid", f"uid-{resource}-{meta['name']}")
    if group:
        obj.setdefault("metadata", {}).setdefault("namespace", meta.get("namespace", ""))
        api.add_custom(group, resource, obj)
    elif resource == "configmaps":
        api.objects[(meta["namespace"], meta["name"])] = obj
    elif resource == "secrets":
        api.secrets[(meta["namespace"], meta["name"])] = obj
    else:
        api.core[(resource, meta.get("namespace", ""), meta["name"])] = obj


def _matches(obj: dict[str, Any], query: Any) -> bool:
    """Equality label selectors (`a=b,c`) and field selectors on metadata.name / spec.nodeName /
    involvedObject.name, the ones kubectl and describe send."""
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, query.get("labelSelector", "").split(",")):
        key, eq, value = term.partition("=")
        if (eq and labels.get(key) != value) or (not eq and key not in labels):
            return False
    for term in filter(None, query.get("fieldSelector", "").split(",")):
        path, _, value = term.partition("=")
        current: Any = obj
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if value and (current or "") != value:
            return False
    return True


def _read_only_routes(api: FakeKubeApi, app: web.Application) -> None:
    def resources(group: str, version: str) -> list[dict[str, Any]]:
        out = []
        for g, v, r, kind, namespaced, short in RESOURCES:
            if (g, v) == (group, version):
                out.append(
                    {
                        "name": r,
                        "singularName": kind.lower(),
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                        "shortNames": short,
                    }
                )
                if r == "pods":
                    out.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
                    # kubectl drain evicts when discovery lists this subresource with its group and
                    # version (k8s.io/kubectl/pkg/drain CheckEvictionSupport), else it deletes.
                    out.append(
                        {
                            "name": "pods/eviction",
                            "singularName": "",
                            "namespaced": True,
                            "group": "policy",
                            "version": "v1",
                            "kind": "Eviction",
                            "verbs": ["create"],
                        }
                    )
        return out

    async def core_versions(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            }
        )

    async def groups(request: web.Request) -> web.Response:
        listed: dict[str, list[str]] = {}
        for g, v, *_ in RESOURCES:
            if g and v not in listed.setdefault(g, []):
                listed[g].append(v)
        return web.json_response(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in listed.items()
                ],
            }
        )

    async def core_resources(request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIResourceList", "groupVersion": "v1", "resources": resources("", "v1")})

    async def group_resources(request: web.Request) -> web.Response:
        g, v = request.match_info["group"], request.match_info["version"]
        found = resources(g, v)
        if not found:
            return _status(404, "the server could not find the requested resource")
        return web.json_response({"kind": "APIResourceList", "groupVersion": f"{g}/{v}", "resources": found})

    def kind_of(group: str, resource: str) -> tuple[str, str]:
        for g, v, r, kind, _, _ in RESOURCES:
            if (g, r) == (group, resource):
                return (f"{g}/{v}" if g else v), kind
        return "v1", "Unknown"

    def listing(group: str, resource: str, items: list[dict[str, Any]]) -> web.Response:
        api_version, kind = kind_of(group, resource)
        return web.json_response(
            {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {"resourceVersion": str(api._version)}, "items": items}
        )

    async def core_list(request: web.Request) -> web.StreamResponse:
        denied = api._auth(request)
        if denied:
            return denied
        if _wants_watch(request):
            return await api._quiet_watch(request)
        ns, resource = request.match_info.get("ns", ""), request.match_info["resource"]
        items = [
            obj
            for (r, namespace, _), obj in sorted(api.core.items())
            if r == resource and (namespace == ns or "ns" not in request.match_info) and _matches(obj, request.query)
        ]
        return listing("", resource, items)

    async def core_get(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        found = api.core.get((m["resource"], m.get("ns", ""), m["name"]))
        if found is None:
            return _status(404, f'{m["resource"]} "{m["name"]}" not found')
        return web.json_response(found)

    async def pod_log(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        pod = api.core.get(("pods", m["ns"], m["name"]))
        if pod is None:
            return _status(404, f'pods "{m["name"]}" not found')
        names = [c["name"] for c in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])]
        container = request.query.get("container") or names[0]
        if container not in names:
            return _status(400, f"container {container} is not valid for pod {m['name']}")
        text = api.logs.get((m["ns"], m["name"], container), "")
        tail = int(request.query.get("tailLines", "-1"))
        if tail >= 0:
            text = "".join(text.splitlines(keepends=True)[-tail:]) if tail else ""
        return web.Response(text=text, content_type="text/plain")

    async def group_list(request: web.Request) -> web.StreamResponse:
        denied = api._auth(request)
        if denied:
            return denied
        if _wants_watch(request):
            return await api._quiet_watch(request)
        m = request.match_info
        items = [
            obj
            for (g, r, namespace, _), obj in sorted(api.custom.items())
            if (g, r) == (m["group"], m["resource"]) and namespace == m.get("ns", namespace) and _matches(obj, request.query)
        ]
        return listing(m["group"], m["resource"], items)

    async def group_get(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        found = api.custom.get((m["group"], m["resource"], m["ns"], m["name"]))
        return web.json_response(found) if found else _status(404, f'{m["resource"]}.{m["group"]} "{m["name"]}" not found')

    async def core_delete(request: web.Request) -> web.Response:
        """Delete one core object (the runbooks' `kubectl delete pod`): the drill then plays the
        controller that recreates it."""
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        found = api.core.pop((m["resource"], m.get("ns", ""), m["name"]), None)
        if found is None:
            return _status(404, f'{m["resource"]} "{m["name"]}" not found')
        api.deleted.append((m["resource"], m.get("ns", ""), m["name"]))
        return web.json_response(found)

    app.router.add_delete("/api/v1/namespaces/{ns}/{resource}/{name}", core_delete)
    app.router.add_get("/api", core_versions)
    app.router.add_get("/apis", groups)
    app.router.add_get("/api/v1", core_resources)
    app.router.add_get("/apis/{group}/{version}", group_resources)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", pod_log)
    app.router.add_get("/api/v1/namespaces/{ns}/{resource}", core_list)
    app.router.add_get("/api/v1/namespaces/{ns}/{resource}/{name}", core_get)
    app.router.add_get("/api/v1/{resource}", core_list)
    app.router.add_get("/api/v1/{resource}/{name}", core_get)
    app.router.add_get("/apis/{group}/{version}/namespaces/{ns}/{resource}", group_list)
    app.router.add_get("/apis/{group}/{version}/namespaces/{ns}/{resource}/{name}", group_get)
    app.router.add_get("/apis/{group}/{version}/{resource}", group_list)


# -- writes of the executed runbooks ------------------------------------------------------------------
#
# What `kubectl cordon`, `kubectl drain` and `kubectl patch` send (k8s.io/kubectl/pkg/drain,
# pkg/cmd/patch): cordon GETs the node and PATCHes `{"spec":{"unschedulable":true}}` as a strategic
# merge patch; drain cordons, lists the node's pods of every namespace by the field selector
# `spec.nodeName=<node>`, GETs the DaemonSet of each DaemonSet-owned pod (ignored with
# --ignore-daemonsets), POSTs a policy/v1 Eviction to `pods/<name>/eviction` for the others, then
# GETs each until it is gone; `patch --type merge` sends an RFC 7396 merge patch. A strategic merge
# patch of the maps these commands change is a merge patch; lists (which it merges by key) are
# refused with 415 rather than guessed.


def _write_routes(api: FakeKubeApi, app: web.Application) -> None:
    async def patched_body(request: web.Request) -> tuple[dict[str, Any] | None, web.Response | None]:
        if request.content_type not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            return None, _status(415, f"unsupported patch type {request.content_type}")
        body = await request.json()
        if request.content_type == "application/strategic-merge-patch+json" and _has_list(body):
            return None, _status(415, "the fake merges strategic patches of maps only")
        return body, None

    async def core_patch(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        ns = m.get("ns", "")
        key = (m["resource"], ns, m["name"])
        current = api.core.get(key)
        if current is None:
            return _status(404, f'{m["resource"]} "{m["name"]}" not found')
        body, refused = await patched_body(request)
        if refused:
            return refused
        api._version += 1
        merged = _merge_patch(copy.deepcopy(current), body)
        merged["metadata"]["resourceVersion"] = str(api._version)
        api.core[key] = merged
        api.patched.append(("", m["resource"], ns, m["name"]))
        return web.json_response(merged)

    async def cluster_custom_get(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        found = api.custom.get((m["group"], m["resource"], "", m["name"]))
        return web.json_response(found) if found else _status(404, f'{m["resource"]}.{m["group"]} "{m["name"]}" not found')

    async def cluster_custom_patch(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        key = (m["group"], m["resource"], "", m["name"])
        current = api.custom.get(key)
        if current is None:
            return _status(404, f'{m["resource"]}.{m["group"]} "{m["name"]}" not found')
        body, refused = await patched_body(request)
        if refused:
            return refused
        merged = _merge_patch(copy.deepcopy(current), body)
        api.add_custom(m["group"], m["resource"], merged)
        api.patched.append(key)
        return web.json_response(api.custom[key])

    async def evict(request: web.Request) -> web.Response:
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        body = await request.json()
        if body.get("kind") != "Eviction" or body.get("metadata", {}).get("name") != m["name"]:
            return _status(400, f"an Eviction for pod {m['name']} expected, got {body.get('kind')}")
        pod = api.core.get(("pods", m["ns"], m["name"]))
        if pod is None:
            return _status(404, f'pods "{m["name"]}" not found')
        refused = _disruption_refusal(api, pod)
        if refused:
            return refused
        api.core.pop(("pods", m["ns"], m["name"]))
        api.evicted.append((m["ns"], m["name"]))
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}, status=201)

    async def service_proxy(request: web.Request) -> web.Response:
        """GET through the service proxy, path and query string as they came (the API server
        forwards both to the service's endpoint)."""
        denied = api._auth(request)
        if denied:
            return denied
        m = request.match_info
        base = api.service_proxies.get((m["ns"], m["svc"]))
        if base is None:
            return _status(404, f'services "{m["svc"]}" not found')
        import aiohttp

        target = f"{base}/{m['path']}" + (f"?{request.query_string}" if request.query_string else "")
        async with aiohttp.ClientSession() as session, session.get(target, timeout=aiohttp.ClientTimeout(total=10)) as answer:
            return web.Response(status=answer.status, body=await answer.read(), content_type=answer.content_type)

    app.router.add_get("/api/v1/namespaces/{ns}/services/{svc}/proxy/{path:.*}", service_proxy)
    app.router.add_patch("/api/v1/namespaces/{ns}/{resource}/{name}", core_patch)
    app.router.add_patch("/api/v1/{resource}/{name}", core_patch)
    app.router.add_post("/api/v1/namespaces/{ns}/pods/{name}/eviction", evict)
    app.router.add_get("/apis/{group}/{version}/{resource}/{name}", cluster_custom_get)
    app.router.add_patch("/apis/{group}/{version}/{resource}/{name}", cluster_custom_patch)


# -- kubectl exec over WebSocket -----------------------------------------------------------------------
#
# kubectl 1.3x execs over WebSocket, offering only the `v5.channel.k8s.io` subprotocol
# (k8s.io/client-go tools/remotecommand/websocket.go, NewWebSocketExecutor: "Only supports V5
# protocol"; it falls back to SPDY only when the upgrade itself fails). The request is
# GET /api/v1/namespaces/NS/pods/POD/exec?command=ARG&command=ARG&container=C&stdout=true&stderr=true.
# Every message is binary; its first byte names the channel (k8s.io/apimachinery
# pkg/util/remotecommand/constants.go and websocket.go's streamType2streamID): 0 stdin, 1 stdout,
# 2 stderr, 3 error, 4 resize; v5 adds 255, the CLOSE signal for one stream. The error channel
# carries one metav1.Status: Success, or Failure with reason `NonZeroExitCode` and a cause of type
# (JSON `reason`) `ExitCode` whose message is the code, which kubectl turns into its own exit
# code (client-go tools/remotecommand/v4.go, errorDecoderV4); any other Failure is printed as an
# error, exit 1. The streams end when the server closes the connection. Before the upgrade the
# API answers as for any request: 403 from RBAC (`create` on `pods/exec`), 404 for an unknown pod,
# 400 for a container the pod does not have (pkg/registry/core/pod/strategy.go, "container %s is
# not valid for pod %s") or none named in a pod of several.

EXEC_PROTOCOL = "v5.channel.k8s.io"
STDOUT, STDERR, ERROR = 1, 2, 3


def _exec_routes(api: FakeKubeApi, app: web.Application) -> None:
    async def exec_(request: web.Request) -> web.StreamResponse:
        denied = api._auth(request)
        if denied:
            return denied
        ns, name = request.match_info["ns"], request.match_info["name"]
        pod = api.core.get(("pods", ns, name))
        if pod is None:
            return _status(404, f'pods "{name}" not found')
        names = [c["name"] for c in pod["spec"].get("containers", [])]
        container = request.query.get("container", "")
        if not container and len(names) > 1:
            return _status(400, f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")
        container = container or names[0]
        if container not in names:
            return _status(400, f"container {container} is not valid for pod {name}")
        argv = request.query.getall("command", [])
        if not argv:
            return _status(400, "you must specify at least 1 command")
        ws = web.WebSocketResponse(protocols=(EXEC_PROTOCOL,))
        if not ws.can_prepare(request).ok:
            return _status(400, "Upgrade request required")
        await ws.prepare(request)
        api.execs.append((ns, name, container, tuple(argv)))
        if api.exec_handler is None:
            result = ExecResult(not_found=argv[0])
        else:
            handler = api.exec_handler
            try:
                result = await asyncio.get_running_loop().run_in_executor(None, lambda: handler(ns, pod, container, argv))
            except Exception as error:  # a broken stand-in: say so on stderr rather than drop the stream
                result = ExecResult(stderr=f"exec_handler failed: {error!r}\n".encode(), exit_code=125)
        if ws.ws_protocol == EXEC_PROTOCOL:
            for channel, data in ((STDOUT, result.stdout), (STDERR, result.stderr)):
                for start in range(0, len(data), 32768):
                    await ws.send_bytes(bytes([channel]) + data[start : start + 32768])
            await ws.send_bytes(bytes([ERROR]) + json.dumps(_exec_status(container, argv, result)).encode())
        await ws.close()
        return ws

    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/exec", exec_)
    app.router.add_post("/api/v1/namespaces/{ns}/pods/{name}/exec", exec_)

    async def portforward(request: web.Request) -> web.StreamResponse:
        # Authorized like the real API server (`create` on pods/portforward), then refused: the
        # port-forward stream (SPDY/3.1, tunnelled over a WebSocket by kubectl 1.37) is not emulated.
        denied = api._auth(request)
        if denied:
            return denied
        ns, name = request.match_info["ns"], request.match_info["name"]
        if api.core.get(("pods", ns, name)) is None:
            return _status(404, f'pods "{name}" not found')
        api.forwards.append((ns, name))
        return _status(501, "the fake API authorizes port-forward but does not carry its stream")

    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/portforward", portforward)
    app.router.add_post("/api/v1/namespaces/{ns}/pods/{name}/portforward", portforward)


# The workload kinds whose scale the disruption controller reads from its listers; any other
# controller is asked for its /scale subresource (kubernetes pkg/controller/disruption/disruption.go
# `finders`). None of the custom resources the fake holds has one (KubeRay's CRDs: status only).
_SCALED_CONTROLLERS = {"ReplicaSet", "Deployment", "StatefulSet", "ReplicationController"}


def _is_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions", []))


def _disruption_refusal(api: FakeKubeApi, pod: dict[str, Any]) -> web.Response | None:
    """The eviction API's answer under the PodDisruptionBudgets selecting `pod`, with the status
    the disruption controller would have computed (disruption.go `getExpectedPodCount`,
    `countHealthyPods`, `failSafe`): an integer `minAvailable` counts the ready pods it selects;
    `maxUnavailable` or a percentage needs the scale of the pods' controller, and a controller with
    none fails the sync, which allows 0 disruptions. `unhealthyPodEvictionPolicy: AlwaysAllow`
    lets a pod that is not ready go whatever the budget. A refusal is 429, which `kubectl drain`
    retries every 5 s until its --timeout (k8s.io/kubectl/pkg/drain)."""
    ns = pod["metadata"]["namespace"]
    for (group, resource, namespace, name), budget in sorted(api.custom.items()):
        if (group, resource, namespace) != ("policy", "poddisruptionbudgets", ns):
            continue
        spec = budget.get("spec", {})
        wanted = (spec.get("selector") or {}).get("matchLabels") or {}

        def selects(obj: dict[str, Any], wanted: dict[str, str] = wanted) -> bool:
            labels = obj["metadata"].get("labels") or {}
            return all(labels.get(k) == v for k, v in wanted.items())

        if not selects(pod):
            continue
        if not _is_ready(pod) and spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
            continue
        selected = [o for (r, n, _), o in api.core.items() if (r, n) == ("pods", ns) and selects(o)]
        healthy = sum(1 for o in selected if _is_ready(o))
        minimum = spec.get("minAvailable")
        if isinstance(minimum, int):
            allowed = healthy - minimum
        else:
            owners = [next((r for r in o["metadata"].get("ownerReferences", []) if r.get("controller")), None) for o in selected]
            unscaled = [r["kind"] for r in owners if r is not None and r["kind"] not in _SCALED_CONTROLLERS]
            # failSafe for a controller without scale ("<resource> does not implement the scale subresource").
            allowed = 0 if unscaled else healthy - (len(selected) - int(spec.get("maxUnavailable", 0)))
        if allowed <= 0:
            api.refused_evictions.append((ns, pod["metadata"]["name"], name))
            return web.json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                    "reason": "TooManyRequests",
                    "details": {
                        "causes": [{"reason": "DisruptionBudget", "message": f"The disruption budget {name} does not allow it"}]
                    },
                    "code": 429,
                },
                status=429,
            )
    return None


def _exec_status(container: str, argv: list[str], result: ExecResult) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    if result.not_found is not None:
        # What containerd and runc answer for a program missing from the image.
        message = (
            "Internal error occurred: error executing command in container: failed to exec in container: "
            f'failed to start exec in "{container}": OCI runtime exec failed: exec failed: unable to start '
            f'container process: exec: "{result.not_found}": executable file not found in $PATH: unknown'
        )
        return {**base, "status": "Failure", "message": message, "reason": "InternalError", "code": 500}
    if result.exit_code == 0:
        return {**base, "status": "Success"}
    return {
        **base,
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {argv}, exit code {result.exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(result.exit_code)}]},
    }


def _has_list(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_list(v) for v in value.values())
    return isinstance(value, list)


def _self_signed() -> tuple[bytes, Any]:
    """A certificate for 127.0.0.1 signed by itself, and a server SSL context that serves it."""
    import datetime
    import ipaddress
    import ssl
    import tempfile
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-api")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=6))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cert.pem").write_bytes(cert_pem)
        (Path(tmp) / "key.pem").write_bytes(key_pem)
        context.load_cert_chain(Path(tmp) / "cert.pem", Path(tmp) / "key.pem")
    return cert_pem, context
