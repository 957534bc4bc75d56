"""One step of the governor: lead or stand by, read, decide with the shared policy, report, act.

Every decision is logged as one JSON line with its inputs and dollar effect, exported as metrics
and written as an Event on the RayService. In `enforce` mode an applied decision patches the
RayService's `min_replicas` and, for a managed node group, the pool's `minSize`. The memory of
past changes (dwell time, changes a day) is kept on the Lease (memory.py): a pod reads it when it
becomes the leader, and the leader records a change there before it makes it, so a failover or a
restart neither forgets a change nor resets the daily count. A change recorded and then not made
(the patch failed) only blocks changes for the dwell time: it errs on the side of one change
fewer, never of a blocked sovereign raise (which skips the dwell time and the daily limit).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from infra.cost.governor.model import HourlyCost, hourly_cost_from_dict
from infra.cost.governor.policy import Decision, Guards, Memory, decide, remember
from infra.cost.governor.trace import HourSample
from infra.operate.governor import memory as memory_record
from infra.operate.governor import prometheus
from infra.operate.governor.cluster import Cluster, set_nodegroup_floor
from infra.operate.governor.settings import ControllerSettings

log = logging.getLogger("infra.operate.governor")


class GovernorMetrics:
    def __init__(self, environment: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r, labels = self.registry, ("environment",)
        self.environment = environment
        self.leader = Gauge("gpt_oss_governor_leader", "1 on the pod that holds the Lease.", labels, registry=r)
        self.floor = Gauge("gpt_oss_governor_floor_replicas", "Serving floor in effect (min_replicas).", labels, registry=r)
        self.target = Gauge("gpt_oss_governor_target_replicas", "Floor the policy wants now.", labels, registry=r)
        self.saving = Gauge(
            "gpt_oss_governor_expected_monthly_saving_usd",
            "What following the plan saves against holding the floor, as a monthly rate.",
            labels,
            registry=r,
        )
        self.enforce_blocked = Gauge(
            "gpt_oss_governor_enforce_blocked",
            "1 while enforce mode wants a change that a guardrail blocks (reason label).",
            ("environment", "reason"),
            registry=r,
        )
        self.planned_api_share = Gauge(
            "gpt_oss_governor_planned_api_share",
            "Share of the next hour's forecast tokens the plan sends to the managed API.",
            labels,
            registry=r,
        )
        self.decisions = Counter(
            "gpt_oss_governor_decisions",
            "Decisions by action and whether they were applied.",
            ("environment", "action", "applied"),
            registry=r,
        )
        self.errors = Counter("gpt_oss_governor_errors", "Steps that failed, by stage.", ("environment", "stage"), registry=r)


@dataclass
class Controller:
    settings: ControllerSettings
    cluster: Cluster
    identity: str
    eks: Any | None = None  # a boto3 EKS client, for a managed node group in enforce mode
    history: Callable[[datetime], list[HourSample]] | None = None
    metrics: GovernorMetrics = field(init=False)
    model: HourlyCost = field(init=False)
    # The memory of past changes: read from the Lease when this pod becomes the leader.
    memory: Memory | None = field(default=None, init=False)
    # Whether `memory` is what the Lease recorded since this pod last became the leader; it stays
    # False until a read succeeds, so a step that fails before it reads again.
    memory_read: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.metrics = GovernorMetrics(self.settings.environment)
        self.model = hourly_cost_from_dict(self.settings.cost_model)
        if self.history is None:
            self.history = lambda now: prometheus.hourly_history(self.settings.prometheus, now)

    def step(self, now: datetime) -> Decision | None:
        env = self.settings.environment
        leader = self.cluster.try_lead(self.identity, now)
        self.metrics.leader.labels(env).set(1 if leader else 0)
        if not leader:
            self.memory, self.memory_read = None, False
            return None
        state = self.cluster.rayservice()
        if not self.memory_read:  # what earlier leaders (or this pod before a restart) recorded
            self.memory = self._recorded_memory(state.floor, now)
            self.memory_read = True
        guards = Guards(
            upgrade_in_progress=state.upgrade_in_progress,
            promotion_in_progress=state.promotion_in_progress,
            route_override=self.cluster.route_override(),
        )
        memory = self.memory or Memory(floor=state.floor)
        if memory.floor != state.floor:  # changed by someone else (a Helm upgrade): that is the floor now
            memory = Memory(floor=state.floor, last_change=memory.last_change, changes=memory.changes)
        assert self.history is not None
        history = self.history(now)
        decision = decide(self.model, self.settings.policy, history, prometheus.hour_start(now), memory, guards)
        self._report(decision, now)
        after = remember(memory, decision)
        if decision.applied:
            # Recorded first: a change is never made without its record (the next leader's dwell
            # time and daily count see it). A failed write fails the step before anything moves.
            self.cluster.write_memory(self.identity, after)
            self.cluster.set_floor(state, decision.floor)
            t = self.settings.target
            if t.provisioner == "managed_node_group" and self.eks is not None:
                set_nodegroup_floor(self.eks, t, decision.floor_nodes)
        self.memory = after
        return decision

    def _recorded_memory(self, floor: int, now: datetime) -> Memory | None:
        try:
            return self.cluster.read_memory()
        except memory_record.MemoryRecordError as error:
            log.warning(json.dumps({"event": "governor_memory_unreadable", "error": str(error)}))
            self.metrics.errors.labels(self.settings.environment, "memory_record").inc()
            return memory_record.unreadable(floor, now)

    def _report(self, decision: Decision, now: datetime) -> None:
        env, m = self.settings.environment, self.metrics
        m.floor.labels(env).set(decision.floor)
        m.target.labels(env).set(decision.target_floor)
        m.saving.labels(env).set(decision.expected_monthly_saving_usd)
        m.decisions.labels(env, decision.action, str(decision.applied).lower()).inc()
        m.enforce_blocked.clear()
        if decision.mode == "enforce" and decision.blocked_by:
            m.enforce_blocked.labels(env, decision.blocked_by).set(1)
        forecast = decision.inputs.get("forecast_tokens_next_hour", 0.0)
        capacity = decision.target_floor * self.model.replica_tokens_per_hour
        m.planned_api_share.labels(env).set(max(0.0, forecast - capacity) / forecast if forecast > 0 else 0.0)
        record = decision.as_dict()
        log.info(json.dumps({"event": "governor_decision", **record}, sort_keys=True))
        verb = "applied" if decision.applied else ("blocked" if decision.blocked_by else decision.mode)
        message = (
            f"{verb}: floor {decision.current_floor} -> {decision.target_floor} ({decision.reason}); "
            f"expected saving ${decision.expected_monthly_saving_usd:,.2f}/month"
            + (f"; blocked by {decision.blocked_by}" if decision.blocked_by else "")
        )
        if decision.action != "hold" or decision.blocked_by:
            self.cluster.event(decision, message, now)
