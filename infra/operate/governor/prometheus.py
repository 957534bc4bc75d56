"""The governor's history from the gateway's own counters, through the Prometheus HTTP API
(https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries).

The gateway (serving/gateway/metrics.py) counts `gateway_prompt_tokens` and
`gateway_completion_tokens` (exposed with the `_total` suffix) by environment, model, served_by,
team and client. An hour's tokens are the increase of both over that hour, evaluated at the
hour's end (`query_range` with a 1 h step). Sovereign tokens are those of the teams the
environment names (`governor.sovereign_teams`): the counters carry no per-request sovereign
label. Hours before the first sample are not history (the gateway did not exist); hours after
it without a sample are idle hours (0 tokens).
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from infra.cost.governor.trace import HOUR, HourSample
from infra.operate.governor.settings import PrometheusSettings

# Queried one by one and added here: increase() drops the metric name, so one selector over both
# would give two series with the same labels, which Prometheus refuses (422).
COUNTERS = ("gateway_prompt_tokens_total", "gateway_completion_tokens_total")


class PrometheusError(RuntimeError):
    """Prometheus did not answer a query (the message names the URL and the query, never a secret)."""


def _selector(settings: PrometheusSettings, extra: str = "", counter: str = COUNTERS[0]) -> str:
    environment = settings.environment.replace("\\", "\\\\").replace('"', '\\"')
    return f'{counter}{{environment="{environment}"{extra}}}'


def tokens_query(settings: PrometheusSettings, extra: str = "") -> str:
    """The hour's tokens (prompt + completion), summed in PromQL over the two counters' sums."""
    return " + ".join(f"sum(increase({_selector(settings, extra, c)}[1h]))" for c in COUNTERS)


def sovereign_query(settings: PrometheusSettings) -> str | None:
    if not settings.sovereign_teams:
        return None
    teams = "|".join(re.escape(t) for t in settings.sovereign_teams).replace("\\", "\\\\")
    return tokens_query(settings, ',team=~"' + teams + '"')


def api_share_query(settings: PrometheusSettings) -> str:
    """The share of the last hour's tokens the managed API served."""
    managed = tokens_query(settings, ',served_by="managed"')
    return f"({managed}) / ({tokens_query(settings)})"


def concurrency_query(settings: PrometheusSettings) -> str:
    environment = settings.environment.replace('"', '\\"')
    return f'sum(gateway_upstream_in_flight{{environment="{environment}"}})'


def _get(settings: PrometheusSettings, path: str, params: dict[str, str]) -> list[dict]:
    url = f"{settings.url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=settings.timeout_s) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise PrometheusError(f"{settings.url}{path} {params.get('query')!r}: {error}") from None
    if body.get("status") != "success":
        raise PrometheusError(f"{settings.url}{path} {params.get('query')!r}: {body.get('errorType')}: {body.get('error')}")
    return body["data"]["result"]


def _hourly(settings: PrometheusSettings, query: str, start: datetime, end: datetime) -> dict[datetime, float]:
    result = _get(
        settings,
        "/api/v1/query_range",
        {"query": query, "start": f"{start.timestamp():.0f}", "end": f"{end.timestamp():.0f}", "step": "3600"},
    )
    values: dict[datetime, float] = {}
    for series in result:
        for stamp, value in series["values"]:
            number = float(value)
            if math.isfinite(number):
                hour = datetime.fromtimestamp(float(stamp), UTC) - HOUR
                values[hour] = values.get(hour, 0.0) + number
    return values


def hour_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hourly_history(settings: PrometheusSettings, now: datetime) -> list[HourSample]:
    """Every complete hour of the last `history_days` before `now`'s hour, from the first with data."""
    current = hour_start(now)
    first_end = current - timedelta(days=settings.history_days) + HOUR
    tokens = _hourly(settings, tokens_query(settings), first_end, current)
    query = sovereign_query(settings)
    sovereign = _hourly(settings, query, first_end, current) if query else {}
    if not tokens:
        return []
    hour, samples = min(tokens), []
    while hour < current:
        total = max(0.0, tokens.get(hour, 0.0))
        samples.append(HourSample(hour, total, min(total, max(0.0, sovereign.get(hour, 0.0)))))
        hour += HOUR
    return samples


def instant(settings: PrometheusSettings, query: str, now: datetime) -> float | None:
    """One number (the sum of the vector), None when the query has no sample."""
    result = _get(settings, "/api/v1/query", {"query": query, "time": f"{now.timestamp():.0f}"})
    numbers = [float(s["value"][1]) for s in result if math.isfinite(float(s["value"][1]))]
    return sum(numbers) if numbers else None
