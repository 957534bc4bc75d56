"""Measure the offline plan of all three environments, two ways:
- as `make plan ENV=all` runs it: the imports paid once, then one forked process per environment,
  as many at a time as there are cores (cli/plan.py). This is the goal's figure: all three
  environments together under 15 s on 2 cores.
- as `make plan ENV=<env>` runs it three times, one after the other (imports paid three times).

`gpt-oss-platform bench plan-time` writes bench/results/plan-time.json and plan-time.md with
the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
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
    # As `make plan` runs it: bytecode written and reused (the Makefile lifts PYTHONDONTWRITEBYTECODE).
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cli", "plan", "--env", env, "--out", str(out)],
        cwd=REPO_ROOT,
        env=environ,
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
    # One run not counted: the first run after an install writes the bytecode (bench first-run
    # measures that cold start).
    time_plan(",".join(ENVIRONMENTS), build)
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

    def spread(values: list[float]) -> dict[str, float]:
        return {"median": median(values), "min": round(min(values), 2), "max": round(max(values), 2)}

    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "gpt-oss-platform plan --env dev,staging,prod (and --env <env> for each)",
        "machine": machine(),
        "runs": args.runs,
        "seconds": {env: spread(values) for env, values in samples.items()},
        "total_seconds": spread(totals),
        "all_seconds": spread(together),
        "samples": {**samples, "total": totals, "all": together},
        "goal_seconds": GOAL_SECONDS,
    }
    result["meets_goal"] = result["all_seconds"]["median"] < GOAL_SECONDS
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "plan-time.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "plan-time.md").write_text(render_markdown(result))
    print(json.dumps(result, indent=2))
    print(f"wrote {args.out / 'plan-time.json'} and {args.out / 'plan-time.md'}", file=sys.stderr)
    return 0


def _cell(figure: dict[str, float]) -> str:
    return f"{figure['median']:.2f} | {figure['min']:.2f} - {figure['max']:.2f}"


def render_markdown(result: dict) -> str:
    """The table the docs quote (docs/offline-plan.md `plan-time` block): median and range of the runs."""
    machine_ = result["machine"]
    rows = "\n".join(f"| `make plan ENV={env}` | {_cell(result['seconds'][env])} |" for env in ENVIRONMENTS)
    together, total = result["all_seconds"], result["total_seconds"]
    return (
        f"# Offline plan time\n\nMeasured {result['measured_at']} on {machine_['cpu']}, {machine_['cores']} cores, "
        f"Python {machine_['python']}; {result['runs']} runs of `{result['command']}` after one warm-up run "
        f"(bytecode written): median, and the range from the fastest to the slowest run.\n\n"
        f"| what | median seconds | range |\n|---|---|---|\n"
        f"| **all three together** (`make plan ENV=all`: imports once, one forked process per environment) "
        f"| **{together['median']:.2f}** (goal < {result['goal_seconds']:.0f}) | {together['min']:.2f} - {together['max']:.2f} |\n"
        f"{rows}\n"
        f"| the three above, one after the other | {_cell(total)} |\n"
    )


if __name__ == "__main__":
    sys.exit(main())
