"""The chart: a PNG of monthly cost against monthly tokens, and a clear error without matplotlib."""

from __future__ import annotations

import struct
import sys

import pytest

from infra.catalog import load_catalog
from infra.config import environment_from_stack_file
from infra.cost.chart import MissingDependency, render_chart, volume_range
from infra.cost.compare import compare
from infra.cost.prices import priced_catalog
from infra.cost.profile import TrafficProfile


def _comparison(tokens: float = 300e6):
    return compare(
        environment_from_stack_file("dev"), TrafficProfile(tokens), priced_catalog(load_catalog()), api_model="o4-mini"
    )


def test_the_chart_is_a_png_spanning_the_profile_and_the_break_even(tmp_path):
    c = _comparison()
    path = render_chart(c, tmp_path / "dev.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1320, 780)
    low, high = volume_range(c)
    assert low < min(c.profile.tokens_per_month, c.break_even_tokens_per_month) < high


def test_without_matplotlib_the_error_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependency, match="uv sync --group ops"):
        render_chart(_comparison(), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
