"""Replicas for a traffic profile -> nodes -> node-hours, with and without the pool's bounds.

The capacity of one replica is its saturation output rate (infra/cost/throughput.py) times the
catalog's planning utilisation. Traffic spreads evenly over the busy hours of each day. The
pool keeps `min_replicas` running all month; replicas above that run during the busy hours
(plus a cold start and a scale-down tail each day when the pool goes idle between busy
periods). Output tokens are what a replica's capacity is counted in: decoding is what
saturates a replica, and the published figures are output rates at ShareGPT's prompt mix.

Two answers for one profile:
- `unbounded`: as many replicas as the traffic needs (the "self-hosted" option);
- `bounded`: at most what the environment's pool holds; the rest overflows to the managed API,
  and so does the traffic of the cold start when the pool scales to zero between busy periods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.cost.profile import TrafficProfile

# A pool scaled to zero needs a node (about 2-4 min for a GPU instance to join), the image and
# the weights (minutes for 14-65 GB) before its first answer; the gateway serves that time from
# the managed API. An estimate, not a measurement: measure yours and pass --cold-start-minutes.
COLD_START_MINUTES = 10.0
# After the last request the replicas stay until Ray Serve's downscale delay (600 s default,
# the gateway's SCALE_TO_ZERO_IDLE_S) and the node until cluster-autoscaler's
# --scale-down-unneeded-time (10 min default; Karpenter's consolidateAfter plays the same part).
SCALE_DOWN_TAIL_MINUTES = 20.0


@dataclass(frozen=True)
class PoolShape:
    """What the capacity model needs of one environment's serving pool."""

    replicas_per_node: int
    usd_per_node_hour: float
    replica_output_tokens_per_s: float  # planned (saturation x planning utilisation)
    min_replicas: int
    max_replicas: int  # what the pool can hold: min(serving.max_replicas, max_nodes x replicas/node)
    cold_start_minutes: float = COLD_START_MINUTES

    def nodes_for(self, replicas: int) -> int:
        return math.ceil(replicas / self.replicas_per_node) if replicas > 0 else 0


@dataclass(frozen=True)
class CapacityPlan:
    replicas_needed: int  # for the whole traffic, ignoring the pool's bounds
    floor_replicas: int
    busy_replicas: int  # running during the busy hours
    floor_nodes: int
    busy_nodes: int
    floor_node_hours: float
    burst_node_hours: float
    burst_hours_per_node: float
    self_hosted_share: float  # of the traffic, served by the GPUs
    overflow_share: float  # of the traffic, above the pool's capacity -> API
    cold_share: float  # of the traffic, during cold starts -> API
    gpu_usd: float

    @property
    def node_hours(self) -> float:
        return self.floor_node_hours + self.burst_node_hours

    @property
    def api_share(self) -> float:
        return self.overflow_share + self.cold_share


def busy_hours_per_month(profile: TrafficProfile, hours_per_month: float) -> float:
    return hours_per_month * profile.busy_hours_per_day / 24


def demand_output_tokens_per_s(profile: TrafficProfile, hours_per_month: float) -> float:
    """Billed output tokens per second during the busy hours."""
    if profile.tokens_per_month == 0:
        return 0.0
    return profile.billed_output_tokens / (busy_hours_per_month(profile, hours_per_month) * 3600)


def _burst_hours(profile: TrafficProfile, shape: PoolShape, hours_per_month: float) -> float:
    if profile.always_on:
        return hours_per_month
    days = hours_per_month / 24
    overhead = (shape.cold_start_minutes + SCALE_DOWN_TAIL_MINUTES) / 60
    return min(hours_per_month, days * (profile.busy_hours_per_day + overhead))


def plan(profile: TrafficProfile, shape: PoolShape, hours_per_month: float, *, bounded: bool) -> CapacityPlan:
    """Replicas, nodes, node-hours and who serves the traffic, for one month of `profile`."""
    demand = demand_output_tokens_per_s(profile, hours_per_month)
    needed = math.ceil(demand / shape.replica_output_tokens_per_s - 1e-9) if demand > 0 else 0
    floor = shape.min_replicas
    busy = max(needed, floor, 1 if demand > 0 else 0)
    if bounded:
        busy = min(busy, max(shape.max_replicas, floor))
    served = min(1.0, busy * shape.replica_output_tokens_per_s / demand) if demand > 0 else 0.0
    overflow = 1.0 - served if demand > 0 else 0.0
    cold = 0.0
    if bounded and demand > 0 and floor == 0 and not profile.always_on:
        # Each busy period starts on a cold pool; its first minutes go to the API.
        cold = min(1.0, shape.cold_start_minutes / 60 / profile.busy_hours_per_day) * served
        served -= cold
    if not bounded:
        served, overflow = (1.0 if demand > 0 else 0.0), 0.0
    floor_nodes = shape.nodes_for(floor)
    busy_nodes = max(shape.nodes_for(busy), floor_nodes)
    burst_hours = _burst_hours(profile, shape, hours_per_month)
    floor_hours = floor_nodes * hours_per_month
    burst_node_hours = (busy_nodes - floor_nodes) * burst_hours
    return CapacityPlan(
        replicas_needed=needed,
        floor_replicas=floor,
        busy_replicas=busy,
        floor_nodes=floor_nodes,
        busy_nodes=busy_nodes,
        floor_node_hours=floor_hours,
        burst_node_hours=burst_node_hours,
        burst_hours_per_node=burst_hours if busy_nodes > floor_nodes else 0.0,
        self_hosted_share=served,
        overflow_share=overflow,
        cold_share=cold,
        gpu_usd=(floor_hours + burst_node_hours) * shape.usd_per_node_hour,
    )


def tokens_per_month_for_nodes(nodes: int, profile: TrafficProfile, shape: PoolShape, hours_per_month: float) -> float:
    """The most traffic (`tokens_per_month` units) `nodes` busy nodes serve in `profile`'s busy hours."""
    output_per_month = (
        nodes
        * shape.replicas_per_node
        * shape.replica_output_tokens_per_s
        * busy_hours_per_month(profile, hours_per_month)
        * 3600
    )
    return output_per_month / profile.output_per_token
