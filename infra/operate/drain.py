"""The drain switch, from the operator's side: read and set the route override of an environment.

The gateway side is serving/gateway/route_override.py; they share only the names in `contracts`
(the ConfigMap, its keys and the route values). Setting it writes who, why and when into the
object, so `drain --status`, the gateway's log line and the Kubernetes audit log all say it.
Rules, checked before anything is sent:
- `--reason` is required (the next engineer needs it at 3 a.m.);
- `managed` needs `fallback.allowed: true` (there is no managed upstream otherwise);
- sovereign traffic is never drained to the managed API: the gateway enforces it, this only says so.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from contracts import (
    NAMESPACE,
    ROUTE_AUTO,
    ROUTE_OVERRIDE_CONFIGMAP,
    ROUTE_OVERRIDE_REASON_KEY,
    ROUTE_OVERRIDE_ROUTE_KEY,
    ROUTE_OVERRIDE_SET_AT_KEY,
    ROUTE_OVERRIDE_SET_BY_KEY,
    UPSTREAM_MANAGED,
    UPSTREAM_SELF_HOSTED,
)

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig
    from infra.operate.kube import KubeClient

ROUTES = (ROUTE_AUTO, UPSTREAM_MANAGED, UPSTREAM_SELF_HOSTED)
MAX_REASON = 200


class DrainRefused(ValueError):
    """Bad input for this environment: nothing was sent."""


@dataclass(frozen=True)
class RouteState:
    route: str
    set_by: str = ""
    reason: str = ""
    set_at: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def check_request(env: EnvironmentConfig, route: str, reason: str) -> None:
    """Refuse a drain this environment cannot take, naming the flag or config key and the fix."""
    if route not in ROUTES:
        raise DrainRefused(f"--route {route!r} is not one of {', '.join(ROUTES)}")
    if not reason.strip():
        raise DrainRefused("--reason is empty: say why (it is stored with the override and logged by every gateway pod)")
    if len(reason) > MAX_REASON:
        raise DrainRefused(f"--reason is {len(reason)} characters; keep it under {MAX_REASON} (link a ticket for more)")
    if route == UPSTREAM_MANAGED and not env.fallback.allowed:
        raise DrainRefused(
            f"--route managed: environment {env.name} has fallback.allowed false, so its gateway has no managed "
            "upstream to drain to; use --route self-hosted or enable fallback in environments/"
            f"{env.name}.yaml (and set the managedApiKey secret) first"
        )


def state_of(obj: dict | None) -> RouteState:
    data = (obj or {}).get("data") or {}
    return RouteState(
        route=data.get(ROUTE_OVERRIDE_ROUTE_KEY, ROUTE_AUTO),
        set_by=data.get(ROUTE_OVERRIDE_SET_BY_KEY, ""),
        reason=data.get(ROUTE_OVERRIDE_REASON_KEY, ""),
        set_at=data.get(ROUTE_OVERRIDE_SET_AT_KEY, ""),
    )


def read_route(client: KubeClient, namespace: str = NAMESPACE) -> RouteState:
    """The override in force (an absent object is `auto`)."""
    return state_of(client.get_configmap(namespace, ROUTE_OVERRIDE_CONFIGMAP))


def set_route(
    client: KubeClient,
    route: str,
    reason: str,
    who: str | None,
    *,
    labels: dict[str, str],
    namespace: str = NAMESPACE,
    now: datetime | None = None,
) -> tuple[RouteState, RouteState]:
    """Write the override; (previous, new). `who` defaults to the Kubernetes user (SelfSubjectReview)."""
    from infra.operate.kube import KubeError

    set_by = who or client.whoami() or "unknown (pass --who)"
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = {
        ROUTE_OVERRIDE_ROUTE_KEY: route,
        ROUTE_OVERRIDE_SET_BY_KEY: set_by,
        ROUTE_OVERRIDE_REASON_KEY: reason.strip(),
        ROUTE_OVERRIDE_SET_AT_KEY: stamp,
    }
    # Optimistic concurrency: replace with the version read, retry on a conflict (two engineers
    # at once); a handful of tries, never a loop without end.
    for _ in range(3):
        current = client.get_configmap(namespace, ROUTE_OVERRIDE_CONFIGMAP)
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": ROUTE_OVERRIDE_CONFIGMAP, "namespace": namespace, "labels": dict(labels)},
            "data": data,
        }
        if current is None:
            status, body = client.create_configmap(namespace, obj)
        else:
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            status, body = client.replace_configmap(namespace, ROUTE_OVERRIDE_CONFIGMAP, obj)
        if status in (200, 201):
            return state_of(current), state_of(body)
        if status != 409:
            raise KubeError(
                f"could not write ConfigMap {namespace}/{ROUTE_OVERRIDE_CONFIGMAP}: HTTP {status} {str(body.get('message') or '')[:300]}",
                status,
            )
        time.sleep(0.2)
    raise KubeError(f"ConfigMap {namespace}/{ROUTE_OVERRIDE_CONFIGMAP} kept changing under us (3 conflicts); try again", 409)


def check_cluster(env: EnvironmentConfig, cluster_entry: str, explicit_context: bool) -> None:
    """Refuse to drain one environment through another's kubeconfig context.

    `aws eks update-kubeconfig` names the cluster entry after the cluster's ARN
    (`arn:aws:eks:<region>:<account>:cluster/<name>`); other tools use the bare name.
    """
    name = env.cluster.name
    if cluster_entry == name or cluster_entry.endswith(f":cluster/{name}"):
        return
    hint = "" if explicit_context else " (the kubeconfig's current context)"
    raise DrainRefused(
        f"the kubeconfig context{hint} points at cluster {cluster_entry!r}, not {name!r} of environment {env.name}; run "
        f"`aws eks update-kubeconfig --name {name} --region {env.region}` or pass --context"
    )
