"""What each gateway pod applies of the drain switch, read from the pods themselves.

The ConfigMap says what on-call asked for; each pod's `/metrics` says what it applies
(`gateway_route_override{route}` 1 on the route in force) and whether its watch of the switch is
healthy (`gateway_route_override_watch_healthy`). They are read through the API server's pod proxy
(`GET /api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/metrics`, kubernetes.io "Proxies in
Kubernetes"), so `drain --status` needs no port-forward: the on-call role needs `get` on
`pods/proxy` in the namespace, besides `list` on `pods`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contracts import GATEWAY_METRICS_PORT, NAMESPACE
from infra.operate.kube import KubeClient, KubeError

GATEWAY_SELECTOR = "app.kubernetes.io/component=gateway"
_SAMPLE = re.compile(r"^(gateway_route_override(?:_watch_healthy)?)\{([^}]*)\}\s+([-+0-9.eE]+|NaN)")
_ROUTE = re.compile(r'route="([^"]*)"')


@dataclass(frozen=True)
class PodRoute:
    pod: str
    route: str | None  # None: unreadable
    watch_healthy: bool | None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"pod": self.pod, "route": self.route, "watch_healthy": self.watch_healthy, "problem": self.problem}


def parse_pod_metrics(pod: str, text: str) -> PodRoute:
    route = None
    healthy = None
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        name, labels, value = match.groups()
        if name == "gateway_route_override" and float(value) == 1:
            found = _ROUTE.search(labels)
            route = found.group(1) if found else None
        elif name == "gateway_route_override_watch_healthy":
            healthy = float(value) == 1
    if route is None:
        return PodRoute(pod, None, healthy, "its metrics carry no gateway_route_override at 1")
    return PodRoute(pod, route, healthy)


def pod_routes(client: KubeClient, namespace: str = NAMESPACE, port: int = GATEWAY_METRICS_PORT) -> list[PodRoute]:
    """Each running gateway pod's route and watch health (a pod that does not answer is reported, not skipped)."""
    status, data = client.request("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={GATEWAY_SELECTOR}")
    if status >= 400:
        raise KubeError(
            f"could not list the gateway pods in {namespace}: HTTP {status} {str(data.get('message') or '')[:200]}", status
        )
    out = []
    for item in data.get("items") or []:
        name = (item.get("metadata") or {}).get("name", "?")
        if (item.get("status") or {}).get("phase") != "Running":
            continue
        out.append(_read_pod(client, namespace, name, port))
    return sorted(out, key=lambda p: p.pod)


def _read_pod(client: KubeClient, namespace: str, pod: str, port: int) -> PodRoute:
    import httpx

    try:
        response = client.raw("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/metrics")
    except KubeError as error:
        return PodRoute(pod, None, None, str(error))
    if isinstance(response, httpx.Response) and response.status_code != 200:
        return PodRoute(pod, None, None, f"its metrics answered HTTP {response.status_code} through the pod proxy")
    return parse_pod_metrics(pod, response.text)


def disagreements(configmap_route: str, pods: list[PodRoute]) -> list[PodRoute]:
    """Pods that do not apply the ConfigMap's route, or cannot read it (watch unhealthy)."""
    return [p for p in pods if p.route != configmap_route or p.watch_healthy is False]
