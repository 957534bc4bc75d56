"""The monthly spend ledger: caps per key and per team, and a new month starting at zero."""

import datetime as dt

from serving.gateway.auth import Client
from serving.gateway.spend import KEY, TEAM, SpendLedger


def client(name="app", team="search", cap=None, team_cap=None) -> Client:
    return Client(name, team, False, None, None, b"\0" * 32, None, cap, team_cap)


class Wall:
    def __init__(self, when: dt.datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def test_a_key_reaches_its_cap_and_only_that_key_is_refused():
    ledger = SpendLedger(Wall(dt.datetime(2026, 11, 30, tzinfo=dt.UTC)))
    capped, other = client(cap=1.0), client(name="other")
    ledger.add(capped, 0.6)
    assert ledger.over_cap(capped) is None
    ledger.add(capped, 0.4)
    assert ledger.over_cap(capped) == KEY
    ledger.add(other, 5.0)
    assert ledger.over_cap(other) is None


def test_a_teams_cap_adds_up_its_keys():
    ledger = SpendLedger(Wall(dt.datetime(2026, 11, 30, tzinfo=dt.UTC)))
    a, b = client("a", team_cap=1.0), client("b", team_cap=1.0)
    ledger.add(a, 0.7)
    ledger.add(b, 0.3)
    assert ledger.over_cap(a) == ledger.over_cap(b) == TEAM


def test_a_new_month_starts_at_zero():
    wall = Wall(dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC))
    ledger = SpendLedger(wall)
    capped = client(cap=1.0)
    ledger.add(capped, 2.0)
    assert ledger.over_cap(capped) == KEY
    wall.now = dt.datetime(2026, 12, 1, 0, 1, tzinfo=dt.UTC).timestamp()
    assert ledger.roll_over() and ledger.month == "2026-12"
    assert ledger.over_cap(capped) is None


def test_uncapped_keys_are_not_tracked():
    ledger = SpendLedger(Wall(dt.datetime(2026, 11, 30, tzinfo=dt.UTC)))
    ledger.track((client(), client("capped", cap=3.0), client("t", team="frugal", team_cap=9.0)))
    assert set(ledger.tallies) == {(KEY, "capped"), (TEAM, "frugal")}
