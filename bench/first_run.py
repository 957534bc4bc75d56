"""What a newcomer waits for: a clean clone's first `make plan ENV=dev` (and, with --tests, its
`make test`), timed, with the size of the environment it installed.

`gpt-oss-platform bench first-run [--runs N] [--cold-cache] [--tests]` clones this repository
(committed state) into a temporary folder next to it, so that ../shared/reference resolves as in
CI, runs the commands there and writes bench/results/first-run.json and first-run.md with the
machine. --cold-cache gives uv an empty cache, so the packages are downloaded as on a fresh
machine. Goals (issue #8): first plan under 25 s, its venv under 500 MB, `make test` under 2 min.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import machine

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"first_plan_s": 25.0, "venv_mb": 500.0, "test_s": 120.0}


def _size_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        # pytest's summary (the failing tests) is at the end of stdout, make's error at the end of stderr.
        raise RuntimeError(
            f"{' '.join(command)} failed in {cwd} (exit {done.returncode}):\n"
            f"--- stdout (end) ---\n{done.stdout[-4000:]}\n--- stderr (end) ---\n{done.stderr[-1500:]}"
        )
    return time.perf_counter() - start


def one_run(cold_cache: bool, tests: bool) -> dict[str, float]:
    import os

    # The clone is a sibling of this repository, so that ../shared/reference resolves as in CI; the
    # uv cache lives outside it.
    with (
        tempfile.TemporaryDirectory(dir=ROOT.parent, prefix="first-run-") as scratch,
        tempfile.TemporaryDirectory(prefix="first-run-uv-cache-") as uv_cache,
    ):
        clone = Path(scratch)
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
        env = dict(os.environ)
        if cold_cache:
            env["UV_CACHE_DIR"] = uv_cache
        result = {"first_plan_s": _timed(["make", "plan", "ENV=dev"], clone, env)}
        result["venv_mb"] = _size_mb(clone / ".venv")
        result["second_plan_s"] = _timed(["make", "plan", "ENV=dev"], clone, env)
        if tests:
            result["test_s"] = _timed(["make", "test"], clone, env)
        shutil.rmtree(clone / ".venv", ignore_errors=True)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gpt-oss-platform bench first-run", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--runs", type=int, default=3, help="repetitions; median and range are reported")
    parser.add_argument("--cold-cache", action="store_true", help="download every package (an empty uv cache)")
    parser.add_argument("--tests", action="store_true", help="also time `make test` in the clone")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    runs = [one_run(args.cold_cache, args.tests) for _ in range(args.runs)]
    keys = sorted(runs[0])
    summary = {
        key: {
            "median": sorted(r[key] for r in runs)[len(runs) // 2],
            "min": min(r[key] for r in runs),
            "max": max(r[key] for r in runs),
        }
        for key in keys
    }
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": args.runs,
        "cold_cache": args.cold_cache,
        "summary": summary,
        "goals": {k: v for k, v in GOALS.items() if k in summary},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "first-run.json").write_text(json.dumps(result, indent=2) + "\n")
    labels = {
        "first_plan_s": "first `make plan ENV=dev` of a clean clone (installs the deploy venv), s",
        "second_plan_s": "second `make plan ENV=dev`, s",
        "venv_mb": "size of `.venv` after the first plan, MB",
        "test_s": "`make test` (installs the test tools), s",
    }
    rows = "\n".join(
        f"| {labels[k]} | {summary[k]['median']:.1f} | {summary[k]['min']:.1f}-{summary[k]['max']:.1f} | "
        f"{('< ' + format(GOALS[k], 'g')) if k in GOALS else ''} |"
        for k in keys
    )
    machine_line = f"{result['machine']['cpu']}, {result['machine']['cores']} cores"
    cache = "empty uv cache (every package downloaded)" if args.cold_cache else "warm uv cache"
    (args.out / "first-run.md").write_text(
        f"# First run\n\nMeasured {result['measured_at']} on {machine_line}, {cache}; {args.runs} runs of "
        f"`gpt-oss-platform bench first-run{' --cold-cache' if args.cold_cache else ''}{' --tests' if args.tests else ''}`.\n\n"
        f"| what | median | range | goal |\n|---|---|---|---|\n{rows}\n"
    )
    print(f"wrote {args.out / 'first-run.json'} and {args.out / 'first-run.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
