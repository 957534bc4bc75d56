"""The drain switch's objects in the chart: `routeOverride` values (templates/gateway-route-override.yaml).

The chart gives the gateway a service account and a Role that can read exactly one ConfigMap,
the override `gpt-oss-platform drain` writes. The chart never creates that ConfigMap: a Helm
upgrade (`pulumi up`) would reset an on-call engineer's drain to the chart's value, so an absent
object means automatic routing and only the CLI creates it.
"""

from __future__ import annotations

from typing import Any

from contracts import GATEWAY_SERVICE_ACCOUNT, ROUTE_OVERRIDE_CONFIGMAP


def route_override_values() -> dict[str, Any]:
    return {
        "enabled": True,
        "configMapName": ROUTE_OVERRIDE_CONFIGMAP,
        "serviceAccountName": GATEWAY_SERVICE_ACCOUNT,
    }
