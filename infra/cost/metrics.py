"""The gateway's cost counters, from a Prometheus server or from a saved snapshot.

The gateway (serving/gateway/metrics.py) counts per environment, model, `served_by`
(self-hosted | managed | none), team and client: requests (also by status code), prompt and
completion tokens and cost in USD (managed: list price; self-hosted: the amortised fleet). A
`Snapshot` is those counters' increase over a window, in one JSON document:

    {
      "format": "gpt-oss-platform/gateway-metrics-snapshot/v1",
      "captured_at": "2026-11-30T18:00:00+00:00",
      "window_seconds": 2592000,          # the span the counts cover
      "source": "prometheus http://127.0.0.1:9090, increase over 30d",
      "samples": [
        {"metric": "gateway_cost_usd_total",
         "labels": {"environment": "prod", "served_by": "managed", "team": "search", "client": "app", "model": "gpt-oss-120b"},
         "value": 12.5}
      ]
    }

A snapshot is taken from Prometheus (`from_prometheus`: `increase(...[window])` summed by the
labels above) or from one gateway pod's /metrics text (`snapshot_from_exposition`: counters
since the pod started, so the window is its uptime).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.cost.errors import CostInputError

SNAPSHOT_FORMAT = "gpt-oss-platform/gateway-metrics-snapshot/v1"
# Counter names as the gateway exports them (prometheus-client appends `_total`); a test checks
# them against serving/gateway/metrics.py's registry.
REQUESTS = "gateway_requests_total"
PROMPT_TOKENS = "gateway_prompt_tokens_total"
COMPLETION_TOKENS = "gateway_completion_tokens_total"
COST_USD = "gateway_cost_usd_total"
COUNTERS = (REQUESTS, PROMPT_TOKENS, COMPLETION_TOKENS, COST_USD)
# The labels a report groups by; `code` only exists on requests.
GROUP_LABELS = ("environment", "model", "served_by", "team", "client")
PROMETHEUS_TIMEOUT_S = 30
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    labels: dict[str, str]
    value: float = Field(ge=0)


class Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str
    captured_at: datetime
    window_seconds: float = Field(gt=0)
    source: str
    samples: list[Sample]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2) + "\n"


@dataclass(frozen=True)
class _Query:
    metric: str
    by: tuple[str, ...]


def window_seconds(window: str) -> float:
    match = re.fullmatch(r"(\d+)([mhdw])", window.strip())
    if not match:
        raise CostInputError(f"--window {window!r}: use a PromQL range like 30d, 7d or 12h")
    return int(match.group(1)) * _UNITS[match.group(2)]


def load_snapshot(path: Path) -> Snapshot:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CostInputError(f"--snapshot {path}: cannot read it as JSON ({error.__class__.__name__}: {error})") from None
    try:
        snapshot = Snapshot.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise CostInputError(
            f"--snapshot {path}: {where}: {first['msg']}; see docs/cost.md 'Metrics snapshot' for the format"
        ) from None
    if snapshot.format != SNAPSHOT_FORMAT:
        raise CostInputError(f"--snapshot {path}: format is {snapshot.format!r}, expected {SNAPSHOT_FORMAT!r}")
    return snapshot


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def snapshot_from_exposition(text: str, window_seconds: float, source: str, captured_at: datetime | None = None) -> Snapshot:
    """The gateway's cost counters from one /metrics page (Prometheus text format)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line.strip())
        if not match or match.group(1) not in COUNTERS:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(match.group(2) or "")}
        samples.append(Sample(metric=match.group(1), labels=labels, value=float(match.group(3))))
    return Snapshot(
        format=SNAPSHOT_FORMAT,
        captured_at=captured_at or datetime.now(UTC),
        window_seconds=window_seconds,
        source=source,
        samples=samples,
    )


def _query(base_url: str, promql: str) -> list[dict]:
    url = f"{base_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=PROMETHEUS_TIMEOUT_S) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise CostInputError(f"--prometheus {base_url}: the query API answered HTTP {error.code} for {promql!r}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise CostInputError(
            f"--prometheus {base_url}: cannot reach the query API ({error}); is the URL right and reachable?"
        ) from None
    except json.JSONDecodeError:
        raise CostInputError(
            f"--prometheus {base_url}: the answer is not JSON; give the Prometheus base URL, e.g. http://127.0.0.1:9090"
        ) from None
    if body.get("status") != "success":
        raise CostInputError(f"--prometheus {base_url}: query {promql!r} failed: {body.get('error', body.get('status'))}")
    return body["data"]["result"]


def from_prometheus(base_url: str, window: str) -> Snapshot:
    """The counters' increase over `window`, summed by the report's labels, from Prometheus's
    query API (https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries)."""
    if not base_url.startswith(("http://", "https://")):
        raise CostInputError(f"--prometheus {base_url!r}: give an http(s):// base URL, e.g. http://127.0.0.1:9090")
    seconds = window_seconds(window)
    samples = []
    for metric in COUNTERS:
        by = GROUP_LABELS + (("code",) if metric == REQUESTS else ())
        promql = f"sum by ({', '.join(by)}) (increase({metric}[{window}]))"
        for item in _query(base_url, promql):
            value = float(item["value"][1])
            samples.append(Sample(metric=metric, labels=dict(item["metric"]), value=max(value, 0.0)))
    return Snapshot(
        format=SNAPSHOT_FORMAT,
        captured_at=datetime.now(UTC),
        window_seconds=seconds,
        source=f"prometheus {base_url}, increase over {window}",
        samples=samples,
    )
