"""A real Prometheus server (Debian's, tools/promtool/fetch.sh) loaded with synthetic samples.

The samples are written as OpenMetrics text, turned into TSDB blocks by
`promtool tsdb create-blocks-from openmetrics` (https://prometheus.io/docs/prometheus/latest/storage/#backfilling-from-openmetrics-format),
and served by `prometheus` on 127.0.0.1 on a free port, stopped after the test.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.ports import free_port as _free_port
from support.tools import REPO_ROOT, require_tool

BIN = REPO_ROOT / "tools" / "promtool" / "bin"
INSTALL = "tools/promtool/fetch.sh (or make tools)"


@dataclass(frozen=True)
class Series:
    """One counter: its name (with `_total`), labels, and (unix seconds, cumulative value) samples."""

    name: str
    labels: dict[str, str]
    samples: Sequence[tuple[float, float]]


def openmetrics(series: Sequence[Series]) -> str:
    lines, families = [], {}
    for s in series:
        families.setdefault(s.name.removesuffix("_total"), []).append(s)
    for family, members in families.items():
        lines.append(f"# TYPE {family} counter")
        for s in members:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            lines += [f"{s.name}{{{labels}}} {value!r} {stamp:.0f}" for stamp, value in s.samples]
    return "\n".join(lines) + "\n# EOF\n"


@contextmanager
def prometheus_with(series: Sequence[Series], workdir: Path, text: str | None = None) -> Iterator[str]:
    """A Prometheus whose TSDB holds `series` (or the OpenMetrics `text`, for gauges and
    histograms); yields its base URL."""
    promtool = require_tool(BIN / "promtool", INSTALL)
    server = require_tool(BIN / "prometheus", INSTALL)
    source, data = workdir / "samples.om", workdir / "data"
    source.write_text(openmetrics(series) if text is None else text)
    subprocess.run(
        [str(promtool), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = _free_port()
    process = subprocess.Popen(
        [
            str(server),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=3650d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {(workdir / 'prometheus.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def query(url: str, promql: str, at: float) -> list[dict]:
    params = urllib.parse.urlencode({"query": promql, "time": f"{at:.0f}"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=10) as answer:
        return json.loads(answer.read())["data"]["result"]
