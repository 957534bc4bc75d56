"""The sample traces `cost simulate` ships with (docs/traces/): generated, so the file in the
repository is the output of a command (`gpt-oss-platform cost sample-trace`), and a test proves it."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from infra.cost.governor.trace import HOUR, HourSample

# Monday 2 March 2026, 00:00 UTC: the week starts on a Monday so the weekend is its last two days.
START = datetime(2026, 3, 2, tzinfo=UTC)


def diurnal_week(
    peak_tokens_per_hour: float = 90e6,
    night_tokens_per_hour: float = 1.5e6,
    weekend_factor: float = 0.15,
    sovereign_share: float = 0.02,
) -> list[HourSample]:
    """A working week: a business-hours hump peaking at 14:00 UTC on weekdays, a quiet night,
    weekends at `weekend_factor` of the weekday hump; `sovereign_share` of the hump is sovereign
    (a team that must stay in-company works office hours)."""
    samples = []
    for h in range(7 * 24):
        hour = START + HOUR * h
        # A raised cosine over 06:00-22:00, 0 outside: one smooth hump a day.
        phase = (hour.hour - 6) / 16
        hump = 0.5 - 0.5 * math.cos(2 * math.pi * phase) if 0 <= phase <= 1 else 0.0
        factor = weekend_factor if hour.weekday() >= 5 else 1.0
        tokens = night_tokens_per_hour + peak_tokens_per_hour * factor * hump
        samples.append(HourSample(hour, round(tokens), round(peak_tokens_per_hour * factor * hump * sovereign_share)))
    return samples
