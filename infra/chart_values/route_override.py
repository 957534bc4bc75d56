"""The drain switch's objects in the chart: `routeOverride` values (templates/gateway-route-override.yaml).

The chart gives the gateway a service account and a Role that can read exactly one ConfigMap,
the override `gpt-oss-platform drain` writes. The chart never creates that ConfigMap: a Helm
upgrade (`pulumi up`) would reset an on-call engineer's drain to the chart's value, so an absent
object means automatic routing and only the CLI creates it. The names are the chart's defaults
(contracts.ROUTE_OVERRIDE_CONFIGMAP, contracts.GATEWAY_SERVICE_ACCOUNT; infra/chart_values/model/gateway.py).
"""

from __future__ import annotations

from infra.chart_values.model.gateway import RouteOverride


def route_override_values() -> RouteOverride:
    return RouteOverride(enabled=True)
