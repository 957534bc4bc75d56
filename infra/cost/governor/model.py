"""What one hour of traffic costs at a given serving floor: the governor's cost model.

Built from `cost compare`'s own pieces (infra/cost/compare.py `pool_shape`, `api_usd_per_token`):
the same replica sizing, planned replica throughput, node price and API blend. Units: `tokens`
are prompt + visible completion tokens (the unit of `--tokens-per-month`); a replica serves
`replica_output_tokens_per_s x 3600 / output_per_token` of them an hour.

Within an hour at floor `f` after floor `p`:
- the replicas kept from the previous hour (`min(p, f)`) serve the whole hour; replicas added this
  hour start cold: they serve only after `cold_start_minutes` (node, image, weights), their share
  of that time goes to the API;
- sovereign tokens are served first by the GPUs and never by the API: what the capacity cannot
  take is *unserved* (refused); with `fallback.allowed` false every token is treated so;
- nodes are billed for the hour (`nodes_for(f)`), nodes removed this hour for the scale-down tail
  (capacity.SCALE_DOWN_TAIL_MINUTES) too.
The floor is all the replicas the model counts: Ray Serve's own autoscaling above the floor is
not credited, so the figures are an upper bound for the self-hosted side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.cost import capacity
from infra.cost.capacity import PoolShape


@dataclass(frozen=True)
class HourOutcome:
    gpu_usd: float
    api_usd: float
    api_tokens: float
    sovereign_unserved: float  # with fallback.allowed false: every token the GPUs could not take

    @property
    def total_usd(self) -> float:
        return self.gpu_usd + self.api_usd


@dataclass(frozen=True)
class HourlyCost:
    """The cost of an hour at a floor, for one environment; see the module docstring."""

    shape: PoolShape
    api_usd_per_token: float
    output_per_token: float
    fallback_allowed: bool
    hours_per_month: float
    min_floor: int  # the tier's serving.min_replicas guardrail, the configured sovereign floor
    max_floor: int  # what the pool holds (serving.max_replicas, max_nodes x replicas per node)
    configured_floor: int  # serving.min_replicas: the floor as configured
    api_model: str
    instance_type: str
    throughput_basis: str

    @property
    def replica_tokens_per_hour(self) -> float:
        return self.shape.replica_output_tokens_per_s * 3600 / self.output_per_token

    def replicas_for(self, tokens: float) -> int:
        """Replicas whose full hour serves `tokens` (0 for no traffic)."""
        if tokens <= 0:
            return 0
        return _ceil(tokens / self.replica_tokens_per_hour)

    def hour(self, previous: int, floor: int, tokens: float, sovereign: float) -> HourOutcome:
        """One hour at `floor` replicas after an hour at `previous`."""
        if not self.fallback_allowed:
            sovereign = tokens
        sovereign = min(sovereign, tokens)
        per_replica = self.replica_tokens_per_hour
        cold = min(1.0, self.shape.cold_start_minutes / 60)
        kept = min(previous, floor)
        added = max(0, floor - previous)
        served_capacity = kept * per_replica + added * per_replica * (1 - cold)
        sovereign_served = min(sovereign, served_capacity)
        other = tokens - sovereign
        other_served = min(other, served_capacity - sovereign_served)
        to_api = other - other_served
        nodes = self.shape.nodes_for(floor)
        removed = max(0, self.shape.nodes_for(previous) - nodes)
        node_hours = nodes + removed * capacity.SCALE_DOWN_TAIL_MINUTES / 60
        return HourOutcome(
            gpu_usd=node_hours * self.shape.usd_per_node_hour,
            api_usd=to_api * self.api_usd_per_token,
            api_tokens=to_api,
            sovereign_unserved=sovereign - sovereign_served,
        )


def hourly_cost_from_dict(data: dict[str, Any]) -> HourlyCost:
    """The model back from `hourly_cost_dict` (the controller's settings file carries it)."""
    shape = PoolShape(**data["shape"])
    return HourlyCost(shape=shape, **{k: v for k, v in data.items() if k != "shape"})


def hourly_cost_dict(model: HourlyCost) -> dict[str, Any]:
    """The model as plain data: the plan computes it, the chart ships it to the controller."""
    from dataclasses import asdict

    return asdict(model)


def ceil_replicas(x: float) -> int:
    return _ceil(x)


def _ceil(x: float) -> int:
    # 1e-9 absorbs float noise: 2.0000000001 replicas is 2.
    whole = int(x)
    return whole if x - whole <= 1e-9 else whole + 1
