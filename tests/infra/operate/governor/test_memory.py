"""The governor's memory record on its Lease: what it writes it reads back; anything else is a
named error, never a silently empty memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.cost.governor.policy import Memory
from infra.operate.governor.memory import MEMORY_ANNOTATION, MemoryRecordError, dumps, loads, unreadable

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def test_a_record_reads_back_as_it_was_written():
    memory = Memory(floor=3, last_change=NOW, changes=(NOW - timedelta(hours=2), NOW))
    assert loads(dumps(memory)) == memory
    assert loads(dumps(Memory(floor=2))) == Memory(floor=2)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("{not json", "is not JSON"),
        ('{"floor": 1}', "must be an object with floor, last_change and changes"),
        ('{"floor": -1, "last_change": null, "changes": []}', "floor must be a whole number >= 0, got -1"),
        ('{"floor": true, "last_change": null, "changes": []}', "floor must be a whole number >= 0, got True"),
        ('{"floor": 1, "last_change": "yesterday", "changes": []}', "last_change is not an ISO 8601 time: 'yesterday'"),
        ('{"floor": 1, "last_change": null, "changes": ["2026-12-07T06:00:00"]}', "changes[0] has no time zone"),
        ('{"floor": 1, "last_change": null, "changes": "2026-12-07T06:00:00+00:00"}', "changes must be a list of times"),
        ('{"floor": 1, "last_change": 5, "changes": []}', "last_change must be an ISO 8601 time, got 5"),
    ],
)
def test_a_record_this_code_did_not_write_is_a_named_error(text, names):
    with pytest.raises(MemoryRecordError) as caught:
        loads(text)
    assert MEMORY_ANNOTATION in str(caught.value) and names in str(caught.value)


def test_an_unreadable_record_counts_as_a_change_just_now():
    assert unreadable(2, NOW) == Memory(floor=2, last_change=NOW, changes=(NOW,))
