"""The next hours of traffic from the history: a weekly profile scaled to the recent level.

For each hour to come: the mean of the same hour of the week in the history (weekday and
time-of-day), or with less than a week of history the mean of the same hour of the day, or with
less than a day the last hour. The profile is then scaled by the recent level (the last
`LEVEL_HOURS` hours against what the profile said for them), a factor that fades out over the
horizon: a quiet holiday or a surge moves the next hours, not tomorrow's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from infra.cost.governor.trace import HOUR, HourSample

WEEK = timedelta(days=7)
DAY = timedelta(days=1)
LEVEL_HOURS = 3
LEVEL_BOUNDS = (0.25, 4.0)
LEVEL_HALF_LIFE_HOURS = 6.0


@dataclass(frozen=True)
class HourForecast:
    hour: datetime
    tokens: float
    sovereign_tokens: float


def _profile(by_hour: Mapping[datetime, HourSample], hour: datetime, last: HourSample) -> tuple[float, float]:
    for step, limit in ((WEEK, 8), (DAY, 7)):
        seen = [by_hour[hour - step * k] for k in range(1, limit + 1) if hour - step * k in by_hour]
        if seen:
            return sum(s.tokens for s in seen) / len(seen), sum(s.sovereign_tokens for s in seen) / len(seen)
    return last.tokens, last.sovereign_tokens


def forecast(history: Sequence[HourSample], start: datetime, hours: int) -> list[HourForecast]:
    """`hours` hours from `start` (the hour after the history's last); empty history: none."""
    if not history:
        return []
    by_hour = {s.hour: s for s in history}
    last = history[-1]
    recent = history[-LEVEL_HOURS:]
    expected = sum(_profile(by_hour, s.hour, s)[0] if len(history) > LEVEL_HOURS else s.tokens for s in recent)
    actual = sum(s.tokens for s in recent)
    level = min(max(actual / expected, LEVEL_BOUNDS[0]), LEVEL_BOUNDS[1]) if expected > 0 else 1.0
    out = []
    for k in range(hours):
        hour = start + HOUR * k
        tokens, sovereign = _profile(by_hour, hour, last)
        fade = 0.5 ** (k / LEVEL_HALF_LIFE_HOURS)
        scaled = tokens * level**fade
        out.append(HourForecast(hour, scaled, min(sovereign, scaled)))
    return out
