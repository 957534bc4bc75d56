"""Monthly spend per key and per team, against the caps in the clients file.

Spend is the gateway's own cost figure of each request (cost.py: list price for the managed API,
the amortised fleet for the self-hosted model), added when the request ends. A request is
refused with 429 `spend_cap_reached` when the key's or its team's spend this calendar month (UTC)
has reached its cap; the request that crosses a cap is still served (its cost is known only at
its end), so a cap can be exceeded by what the requests in flight at that moment cost.

Totals are this pod's alone until the shared store (shared_store.py) adds what the other pods
spent, every sync interval; without a store they are per pod and restart at zero with the pod.
Only keys and teams that have a cap are tracked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from serving.gateway.auth import Client

# The gauge `gateway_spend_cap_ratio` reports spend / cap, for an alert near the cap (docs/gateway.md).
KEY, TEAM = "key", "team"


def utc_month(wall: Callable[[], float]) -> str:
    return dt.datetime.fromtimestamp(wall(), dt.UTC).strftime("%Y-%m")


@dataclass(slots=True)
class Tally:
    """One key's or team's month: `known` is the shared total last read (this pod's synced spend
    included), `pending` what this pod spent since."""

    cap: float
    known: float = 0.0
    pending: float = 0.0
    synced: bool = False

    @property
    def spent(self) -> float:
        return self.known + self.pending


class SpendLedger:
    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self.month = utc_month(wall)
        self.tallies: dict[tuple[str, str], Tally] = {}

    def _tally(self, scope: str, name: str, cap: float) -> Tally:
        tally = self.tallies.get((scope, name))
        if tally is None:
            tally = self.tallies[(scope, name)] = Tally(cap)
        elif tally.cap != cap:
            tally.cap = cap  # the clients file changed the cap; the spend stays
        return tally

    def track(self, clients: tuple[Client, ...]) -> None:
        """Tally every capped key and team of the clients file, so that the shared store reads their
        month's spend before their first request reaches this pod."""
        for client in clients:
            if client.monthly_usd_cap is not None:
                self._tally(KEY, client.name, client.monthly_usd_cap)
            if client.team_monthly_usd_cap is not None:
                self._tally(TEAM, client.team, client.team_monthly_usd_cap)

    def over_cap(self, client: Client) -> str | None:
        """KEY or TEAM when that cap is reached this month, else None."""
        key_cap, team_cap = client.monthly_usd_cap, client.team_monthly_usd_cap
        if key_cap is not None and self._tally(KEY, client.name, key_cap).spent >= key_cap:
            return KEY
        if team_cap is not None and self._tally(TEAM, client.team, team_cap).spent >= team_cap:
            return TEAM
        return None

    def add(self, client: Client, usd: float) -> None:
        if usd <= 0:
            return
        if client.monthly_usd_cap is not None:
            self._tally(KEY, client.name, client.monthly_usd_cap).pending += usd
        if client.team_monthly_usd_cap is not None:
            self._tally(TEAM, client.team, client.team_monthly_usd_cap).pending += usd

    def roll_over(self) -> bool:
        """Start a new month when the calendar says so (called by the sync loop)."""
        month = utc_month(self._wall)
        if month == self.month:
            return False
        self.month = month
        for tally in self.tallies.values():
            tally.known = tally.pending = 0.0
            tally.synced = False
        return True

    def unsynced(self) -> list[tuple[str, str]]:
        return [key for key, tally in self.tallies.items() if not tally.synced]
