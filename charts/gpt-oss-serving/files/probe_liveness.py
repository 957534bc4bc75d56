"""Liveness probe of a Ray worker pod: the raylet is alive and the engine makes progress.

Two ways a GPU worker can be dead while its processes run:
- the raylet died (KubeRay's own check: the dashboard agent's local_raylet_healthz);
- the vLLM engine hangs: requests wait or run, yet no token is produced. vLLM's /health, and so
  Ray Serve's replica health check, stays 200 then (vllm-project/vllm#39863, #36960).

The second is judged from the engine's own counters on this pod's Ray metrics endpoint (vLLM 0.26
metrics through Ray Serve LLM: ray_vllm_num_requests_{running,waiting} gauges, and the
ray_vllm_{prompt,generation}_tokens_total counters, which grow with every prefill chunk and every
decode step). "Hung" is: work was pending the whole time and the counters did not move for
--stall-seconds. A saturated but healthy engine keeps producing tokens, so it is never restarted;
an idle engine has nothing pending, so it is never restarted either. The last sample is kept in a
small state file between runs (the probe is a new process every period).

Readiness is deliberately not this check: a pod is Ready while its raylet and Serve proxy answer,
so saturation never takes replicas out of the Service together (docs/serving.md).

Standard library only: it runs as an exec probe inside the rayproject/ray-llm image.
Exit 0 when alive; 1 with a one-line reason on stderr otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PENDING = ("ray_vllm_num_requests_running", "ray_vllm_num_requests_waiting")
PROGRESS = ("ray_vllm_prompt_tokens_total", "ray_vllm_generation_tokens_total")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)(\s+\d+)?$")


def parse_metrics(text: str) -> dict[str, float]:
    """The sum over all series of each metric family in a Prometheus text exposition."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if match:
            try:
                value = float(match.group(3))
            except ValueError:
                continue
            totals[match.group(1)] = totals.get(match.group(1), 0.0) + value
    return totals


def raylet_alive(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(4096).decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return f"raylet health check failed: {getattr(error, 'reason', error)}"
    return None if "success" in body else f"raylet health check answered {body[:80]!r}"


def judge(metrics: dict[str, float] | None, state: dict | None, now: float, stall_seconds: float) -> tuple[str | None, dict]:
    """(reason the engine is hung or None, the state to keep for the next run)."""
    if metrics is None or not any(name in metrics for name in PROGRESS):
        # No engine metrics yet (the model is loading): nothing to judge.
        return None, {}
    pending = sum(metrics.get(name, 0.0) for name in PENDING)
    progress = sum(metrics.get(name, 0.0) for name in PROGRESS)
    if pending <= 0 or state is None or progress != state.get("progress"):
        return None, {"progress": progress, "since": now}
    stalled = now - float(state.get("since", now))
    if stalled >= stall_seconds:
        return f"engine hung: {pending:g} request(s) pending and no token produced for {stalled:.0f}s", state
    return None, state


def read_state(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def fetch_metrics(url: str, timeout: float) -> dict[str, float] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return parse_metrics(response.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError):
        return None  # the metrics agent restarts with the raylet; the raylet check covers it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raylet-url", default="http://127.0.0.1:52365/api/local_raylet_healthz")
    parser.add_argument("--metrics-url", default="http://127.0.0.1:8080/metrics")
    parser.add_argument("--state", type=Path, default=Path("/tmp/gpt-oss-liveness.json"))
    parser.add_argument("--stall-seconds", type=float, default=120.0, help="no progress this long with work pending = hung")
    parser.add_argument("--timeout", type=float, default=4.0, help="per HTTP call; keep below the probe's timeoutSeconds / 2")
    args = parser.parse_args(argv)
    reason = raylet_alive(args.raylet_url, args.timeout)
    if reason is None:
        reason, state = judge(
            fetch_metrics(args.metrics_url, args.timeout), read_state(args.state), time.time(), args.stall_seconds
        )
        try:
            args.state.write_text(json.dumps(state))
        except OSError as error:
            print(f"warning: cannot keep the probe state in {args.state}: {error}", file=sys.stderr)
    if reason:
        print(f"not alive: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
