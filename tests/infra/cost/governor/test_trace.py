"""Trace files: the format `cost simulate --traffic` reads, and every bad line named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.cost.errors import CostInputError
from infra.cost.governor.sample import diurnal_week
from infra.cost.governor.trace import load_trace, write_trace


def write(tmp_path, text: str):
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


def test_a_trace_reads_hours_as_utc_and_numbers_as_tokens(tmp_path):
    path = write(tmp_path, "hour,tokens,sovereign_tokens\n2026-03-02T09:00:00+01:00,100,10\n2026-03-02T09:00:00Z,5e6,0\n")
    first, second = load_trace(path)
    assert first.hour == datetime(2026, 3, 2, 8, tzinfo=UTC) and (first.tokens, first.sovereign_tokens) == (100, 10)
    assert second.hour == datetime(2026, 3, 2, 9, tzinfo=UTC) and second.tokens == 5e6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "line 1: the header must be hour,tokens,sovereign_tokens (got 'an empty file')"),
        ("hour,tokens\n", "line 1: the header must be hour,tokens,sovereign_tokens (got 'hour,tokens')"),
        ("hour,tokens,sovereign_tokens\n", "no hours after the header"),
        ("hour,tokens,sovereign_tokens\n2026-03-02T00:00:00Z,1\n", "line 2: 3 columns expected"),
        ("hour,tokens,sovereign_tokens\nyesterday,1,0\n", "line 2: hour:"),
        ("hour,tokens,sovereign_tokens\n2026-03-02T00:30:00Z,1,0\n", "is not on the hour"),
        ("hour,tokens,sovereign_tokens\n2026-03-02T00:00:00Z,lots,0\n", "line 2: tokens 'lots' is not a number"),
        ("hour,tokens,sovereign_tokens\n2026-03-02T00:00:00Z,-1,0\n", "tokens must be a finite number >= 0 (got '-1')"),
        ("hour,tokens,sovereign_tokens\n2026-03-02T00:00:00Z,nan,0\n", "tokens must be a finite number >= 0"),
        ("hour,tokens,sovereign_tokens\n2026-03-02T00:00:00Z,5,6\n", "sovereign_tokens 6 is above tokens 5"),
        (
            "hour,tokens,sovereign_tokens\n2026-03-02T00:00:00Z,1,0\n2026-03-02T02:00:00Z,1,0\n",
            "line 3: hour 2026-03-02T02:00:00Z does not follow 2026-03-02T00:00:00+00:00 by one hour",
        ),
    ],
)
def test_each_bad_trace_is_refused_with_the_line_and_the_fix(tmp_path, text, expected):
    with pytest.raises(CostInputError) as caught:
        load_trace(write(tmp_path, text))
    assert expected in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CostInputError, match="cannot read it"):
        load_trace(tmp_path / "absent.csv")


def test_the_shipped_sample_week_is_what_the_sample_command_writes(tmp_path):
    written = tmp_path / "week.csv"
    write_trace(written, diurnal_week())
    from infra.paths import REPO_ROOT

    assert (REPO_ROOT / "docs/traces/diurnal-week.csv").read_text() == written.read_text()
    assert len(load_trace(written)) == 168
