"""The chart: a PNG of monthly cost against monthly tokens, and a clear error without matplotlib."""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.config import environment_from_stack_file
from infra.cost.chart import INSTALL_TARGET, MissingDependency, build_figure, profile_marks, render_chart, volume_range
from infra.cost.compare import Surroundings, compare, cost_at
from infra.cost.prices import priced_catalog
from infra.cost.profile import TrafficProfile


def _comparison(tokens: float = 300e6, **kwargs):
    return compare(
        environment_from_stack_file("dev"), TrafficProfile(tokens), priced_catalog(load_catalog()), api_model="o4-mini", **kwargs
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


def test_without_matplotlib_the_error_names_the_make_target_that_installs_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependency, match=f"run `{INSTALL_TARGET}` \\(or `uv sync --group ops`\\)"):
        render_chart(_comparison(), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_the_make_target_the_chart_names_exists_and_make_help_lists_it():
    makefile = (Path(__file__).resolve().parents[3] / "Makefile").read_text()
    target = INSTALL_TARGET.removeprefix("make ")
    assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), "the target exists"
    help_lines = [line for line in makefile.splitlines() if line.lstrip().startswith('@echo "make ')]
    assert any(f'"{INSTALL_TARGET} ' in line and "--chart" in line for line in help_lines), "make help lists it for --chart"


def test_the_chart_marks_the_profile_with_the_dollars_of_every_line():
    import matplotlib.pyplot as plt

    around = Surroundings(fixed_usd=261.82, gpu_disk_usd_per_node_hour=16.0 / 730, items={})
    c = _comparison(400e6, scope="environment", surroundings=around)
    fig = build_figure(c)
    try:
        (ax,) = fig.axes
        vertical = [line for line in ax.lines if list(line.get_xdata()) == [400e6, 400e6]]
        assert vertical and "your profile: 400M tokens/month" in vertical[0].get_label()
        texts = [t.get_text() for t in ax.texts]
        self_hosted, api, hybrid = cost_at(c, 400e6)
        assert f"API o4-mini: ${api:,.2f}/month" in texts and api == pytest.approx(770.00)
        assert f"self-hosted (the whole environment): ${self_hosted:,.2f}/month" in texts
        assert self_hosted == pytest.approx(587.504 + 261.82 + 16.0, abs=0.01)
        assert "self-hosted (GPU cost alone): $587.50/month" in texts
        assert f"hybrid: ${hybrid:,.2f}/month" in texts
        assert len(profile_marks(c)) == 4
        labels = [line.get_label() for line in ax.lines]
        assert any(label.startswith("Self-hosted, GPU cost alone") for label in labels), "the other scope is drawn too"
    finally:
        plt.close(fig)
