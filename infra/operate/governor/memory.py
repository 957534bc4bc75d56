"""The governor's memory as it is kept in the cluster: one annotation on its Lease.

The dwell time and the changes-per-day limit (infra/cost/governor/policy.py `Memory`) are only
guardrails if they outlive the pod that made the changes: a new leader that starts with an empty
memory could change the floor again right after a failover, and a pod that crash-loops would
reset the daily count on every restart. So the leader writes its memory to the Lease it already
holds and renews (no new object, no new RBAC verb: `update` of that one Lease) before it acts, and
a pod that becomes leader reads it first.

The value is JSON, one annotation, so it is read and written whole:
`{"floor": 2, "last_change": "2026-12-07T06:00:00+00:00", "changes": ["2026-12-07T06:00:00+00:00"]}`.
"""

from __future__ import annotations

import json
from datetime import datetime

from infra.cost.governor.policy import Memory

MEMORY_ANNOTATION = "gpt-oss.platform/governor-memory"


class MemoryRecordError(ValueError):
    """The annotation is not a memory this code wrote (names the annotation and the value)."""


def dumps(memory: Memory) -> str:
    return json.dumps(
        {
            "floor": memory.floor,
            "last_change": memory.last_change.isoformat() if memory.last_change else None,
            "changes": [c.isoformat() for c in memory.changes],
        },
        sort_keys=True,
    )


def _moment(value: object, where: str, text: str) -> datetime:
    if not isinstance(value, str):
        raise MemoryRecordError(f"annotation {MEMORY_ANNOTATION}: {where} must be an ISO 8601 time, got {value!r} in {text!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MemoryRecordError(f"annotation {MEMORY_ANNOTATION}: {where} is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise MemoryRecordError(f"annotation {MEMORY_ANNOTATION}: {where} has no time zone: {value!r}")
    return moment


def loads(text: str) -> Memory:
    """The memory in the annotation's value, or MemoryRecordError naming what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise MemoryRecordError(f"annotation {MEMORY_ANNOTATION} is not JSON ({error}): {text!r}") from None
    if not isinstance(raw, dict) or set(raw) != {"floor", "last_change", "changes"}:
        raise MemoryRecordError(
            f"annotation {MEMORY_ANNOTATION} must be an object with floor, last_change and changes, got {text!r}"
        )
    floor = raw["floor"]
    if not isinstance(floor, int) or isinstance(floor, bool) or floor < 0:
        raise MemoryRecordError(f"annotation {MEMORY_ANNOTATION}: floor must be a whole number >= 0, got {floor!r}")
    changes = raw["changes"]
    if not isinstance(changes, list):
        raise MemoryRecordError(f"annotation {MEMORY_ANNOTATION}: changes must be a list of times, got {changes!r}")
    last = raw["last_change"]
    return Memory(
        floor=floor,
        last_change=None if last is None else _moment(last, "last_change", text),
        changes=tuple(_moment(c, f"changes[{i}]", text) for i, c in enumerate(changes)),
    )


def unreadable(floor: int, now: datetime) -> Memory:
    """What a leader assumes when the record cannot be read: a change just now. That blocks
    changes for the dwell time (a raise to the sovereign floor excepted, as always) and then heals
    itself with the next write, instead of forgetting the record and flapping."""
    return Memory(floor=floor, last_change=now, changes=(now,))
