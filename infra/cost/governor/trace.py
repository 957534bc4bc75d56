"""Hourly traffic: the governor's history and `cost simulate`'s input.

A trace file is a CSV with the header `hour,tokens,sovereign_tokens`: `hour` an ISO-8601
timestamp at the start of the hour (a timestamp without offset is read as UTC), `tokens` the
prompt + visible completion tokens of that hour (the unit of `--tokens-per-month`), and
`sovereign_tokens` the part of them that must never reach the managed API. Hours follow each
other one hour apart, without gaps (write an hour of 0 tokens for an idle hour).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.cost.errors import CostInputError

HEADER = ["hour", "tokens", "sovereign_tokens"]
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class HourSample:
    hour: datetime  # start of the hour, UTC
    tokens: float
    sovereign_tokens: float


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CostInputError(f"--traffic {path}: line {line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise CostInputError(f"--traffic {path}: line {line}: {column} must be a finite number >= 0 (got {text!r})")
    return value


def parse_hour(text: str) -> datetime:
    """An ISO-8601 timestamp on the hour, as UTC; ValueError names what is wrong."""
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    stamp = stamp.astimezone(UTC)
    if (stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0):
        raise ValueError(f"{text!r} is not on the hour (use e.g. 2026-03-02T09:00:00Z)")
    return stamp


def load_trace(path: Path) -> list[HourSample]:
    """The hours of a trace file, or CostInputError naming the line, the column and the fix."""
    try:
        text = path.read_text()
    except OSError as error:
        raise CostInputError(f"--traffic {path}: cannot read it ({error.strerror or error})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        got = ",".join(rows[0]) if rows else "an empty file"
        raise CostInputError(f"--traffic {path}: line 1: the header must be {','.join(HEADER)} (got {got!r})")
    samples: list[HourSample] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 3:
            raise CostInputError(f"--traffic {path}: line {line}: 3 columns expected ({','.join(HEADER)}), got {len(row)}")
        try:
            hour = parse_hour(row[0])
        except ValueError as error:
            raise CostInputError(f"--traffic {path}: line {line}: hour: {error}; hours are ISO-8601 timestamps") from None
        tokens = _number(path, line, "tokens", row[1])
        sovereign = _number(path, line, "sovereign_tokens", row[2])
        if sovereign > tokens:
            raise CostInputError(
                f"--traffic {path}: line {line}: sovereign_tokens {row[2].strip()} is above tokens {row[1].strip()}; "
                "sovereign tokens are a part of the hour's tokens"
            )
        if samples and hour != samples[-1].hour + HOUR:
            raise CostInputError(
                f"--traffic {path}: line {line}: hour {row[0].strip()} does not follow {samples[-1].hour.isoformat()} "
                "by one hour; write every hour, 0 tokens for an idle one"
            )
        samples.append(HourSample(hour, tokens, sovereign))
    if not samples:
        raise CostInputError(f"--traffic {path}: no hours after the header")
    return samples


def write_trace(path: Path, samples: Sequence[HourSample]) -> None:
    lines = [",".join(HEADER)]
    lines += [f"{s.hour.strftime('%Y-%m-%dT%H:%M:%SZ')},{s.tokens:.0f},{s.sovereign_tokens:.0f}" for s in samples]
    path.write_text("\n".join(lines) + "\n")
