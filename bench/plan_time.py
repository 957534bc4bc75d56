"""Measure the offline plan of all three environments, two ways:
- as `make plan ENV=<env>` runs it, one process per environment (imports paid three times);
- as `make plan ENV=all` runs it, one process for the three (imports paid once).

`gpt-oss-platform bench plan-time` writes bench/results/plan-time.json and plan-time.md with
the machine it ran on. Goal: all three environments together under 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import machine

REPO_ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "staging", "prod")
GOAL_SECONDS = 15.0


def time_plan(env: str, out: Path) -> float:
    """Wall time of one `gpt-oss-platform plan --env <env>` process (env may be a list)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cli", "plan", "--env", env, "--out", str(out)],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the median is reported")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    build = REPO_ROOT / "build" / "timing"
    samples: dict[str, list[float]] = {env: [] for env in ENVIRONMENTS}
    totals = []
    together = []
    for _ in range(args.runs):
        total = 0.0
        for env in ENVIRONMENTS:
            seconds = time_plan(env, build)
            samples[env].append(seconds)
            total += seconds
        totals.append(total)
        together.append(time_plan(",".join(ENVIRONMENTS), build))

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return round(ordered[len(ordered) // 2], 2)

    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "gpt-oss-platform plan --env <env> (one process per environment, sequential)",
        "machine": machine(),
        "runs": args.runs,
        "seconds_median": {env: median(values) for env, values in samples.items()},
        "total_seconds_median": median(totals),
        "one_process_seconds_median": median(together),
        "goal_seconds": GOAL_SECONDS,
    }
    result["meets_goal"] = result["total_seconds_median"] < GOAL_SECONDS
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "plan-time.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {env} | {result['seconds_median'][env]:.2f} |" for env in ENVIRONMENTS)
    (args.out / "plan-time.md").write_text(
        f"# Offline plan time\n\nMeasured {result['measured_at']} on {result['machine']['cpu']}, "
        f"{result['machine']['cores']} cores, Python {result['machine']['python']}; median of {args.runs} runs "
        f"of `{result['command']}`.\n\n| environment | seconds |\n|---|---|\n{rows}\n"
        f"| **all three, one process each** (`make plan ENV=<env>` x3) | **{result['total_seconds_median']:.2f}** (goal < {GOAL_SECONDS:.0f}) |\n"
        f"| all three in one process (`make plan ENV=all`) | {result['one_process_seconds_median']:.2f} |\n"
    )
    print(json.dumps(result, indent=2))
    print(f"wrote {args.out / 'plan-time.json'} and {args.out / 'plan-time.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
