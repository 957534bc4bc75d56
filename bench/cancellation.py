"""How fast a client's disconnect frees the upstream, in each phase of a request.

Measured: the time from the client closing its socket to the upstream seeing its own connection
closed.

`gpt-oss-platform bench cancellation [--repeat N] [--out DIR]` starts the fake upstreams
(tests/serving/fake_openai.py) and a real gateway (tests/serving/harness.py RunningGateway: the
gateway's own server on uvloop) on 127.0.0.1, then, for each phase, N times: sends a request over a
raw socket, resets the socket (SO_LINGER 0, like a killed client) before the first byte of a
stream, mid-stream in a 5 s gap between two events, or while waiting for a JSON answer held back
5 s, and records when the fake upstream saw its connection closed. The phases and the disconnect
are those of tests/serving/gateway/test_cancellation.py (tests/serving/cancellation.py), which
proves the behaviour; this measures its speed. Client, gateway and fake share one process (their
own threads), so each figure includes the thread hand-offs of that process. One disconnect per
phase runs first and is not counted. Writes bench/results/cancellation.json and cancellation.md
with the machine. The gateway runs with the test settings, its primary's timeouts above those
delays (GATEWAY_OVERRIDES), so only the cancellation can close the upstream early. Goal (issue):
under 100 ms in every case, so a phase meets it when its slowest disconnect does.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import machine
from tests.serving.cancellation import GATEWAY_OVERRIDES, PHASES, abandon_in_phase
from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import MANAGED_API_KEY, RunningGateway, settings_for_test, wait_until, write_secrets

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 100.0


def measure(repeat: int) -> dict[str, list[float]]:
    """Milliseconds from each client close to the upstream seeing its close, per phase name."""
    samples: dict[str, list[float]] = {}
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cancellation-")))
        primary = FakeOpenAI("self-hosted").start()
        stack.callback(primary.stop)
        managed = FakeOpenAI("managed", api_key=MANAGED_API_KEY, usage_null_in_chunks=True).start()
        stack.callback(managed.stop)
        settings = settings_for_test(primary.base_url, managed.base_url, *write_secrets(scratch), **GATEWAY_OVERRIDES)
        gateway = RunningGateway(settings)
        stack.callback(gateway.stop)
        gateway.start()
        wait_until(lambda: gateway.upstream("self-hosted").health.probes >= 1)

        def settled() -> bool:
            return gateway.upstream("self-hosted").health.in_flight == 0 and primary.running == 0

        for phase in PHASES:
            samples[phase.name] = []
            for attempt in range(repeat + 1):
                seconds = abandon_in_phase(gateway, primary, phase)
                if attempt:  # the first is a warm-up
                    samples[phase.name].append(round(seconds * 1000, 3))
                wait_until(settled, timeout=3)
        if managed.chat_requests():
            raise RuntimeError("a client that left was served by the managed upstream: the measurement is void")
    return samples


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarise(values: list[float]) -> dict[str, float | bool]:
    return {
        "median": round(statistics.median(values), 2),
        "p95": round(nearest_rank(values, 0.95), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "meets_goal": max(values) < GOAL_MS,
    }


def render_markdown(result: dict) -> str:
    """The table docs/gateway.md quotes (its `cancellation-bench` block)."""
    machine_ = result["machine"]
    rows = "\n".join(
        f"| {phase} | {s['median']:.1f} | {s['p95']:.1f} | {s['max']:.1f} | < {result['goal_ms']:g} ms | "
        f"{'yes' if s['meets_goal'] else 'no'} |"
        for phase, s in result["phases"].items()
    )
    return (
        f"# Cancellation\n\nMeasured {result['measured_at']} on {machine_['cpu']}, {machine_['cores']} cores, "
        f"Python {machine_['python']}; {result['repeats']} disconnects per phase (after one not counted) with "
        f"`{result['command']}`: milliseconds from the client resetting its socket to the fake upstream seeing "
        f"its own connection closed, with client, gateway and fake upstream in one process on 127.0.0.1. "
        f"A phase meets the goal when its slowest disconnect does.\n\n"
        f"| phase | median ms | p95 ms | max ms | goal | met? |\n|---|---|---|---|---|---|\n{rows}\n"
    )


def main(argv: list[str] | None = None) -> int:
    description = __doc__.splitlines()[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="gpt-oss-platform bench cancellation", description=description)
    parser.add_argument("--repeat", type=int, default=20, help="disconnects per phase; median, p95 and max are reported")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where the results go")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    samples = measure(args.repeat)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"gpt-oss-platform bench cancellation --repeat {args.repeat}",
        "machine": machine(),
        "repeats": args.repeat,
        "goal_ms": GOAL_MS,
        "phases": {phase: summarise(values) for phase, values in samples.items()},
        "samples_ms": samples,
    }
    result["meets_goal"] = all(s["meets_goal"] for s in result["phases"].values())
    args.out.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(result)
    (args.out / "cancellation.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "cancellation.md").write_text(markdown)
    print(markdown)
    print(f"wrote {args.out / 'cancellation.json'} and {args.out / 'cancellation.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
