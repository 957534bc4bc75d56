"""`gpt-oss-platform bench {gateway,cancellation,hang,plan-time,first-run,replica} [options]`: the measurements the docs quote.

Each writes its results (JSON and a Markdown table naming the machine) under bench/results/ and
says which files it wrote; `gpt-oss-platform reference --write` then puts the tables in the docs.
Options after the benchmark's name go to it (`gpt-oss-platform bench gateway --help`).
`replica` is the one that runs in your cluster: it writes a Job that measures one serving replica
and reads its results back into a measured-throughput file (`bench replica --help`, docs/cost.md).
"""

from __future__ import annotations

import argparse

BENCHMARKS = {
    "gateway": "bench.gateway_bench",
    "cancellation": "bench.cancellation",
    "hang": "bench.hang",
    "plan-time": "bench.plan_time",
    "first-run": "bench.first_run",
    "replica": "cli.bench_replica",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark -> bench/results/", description=__doc__)
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS), help="what to measure")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of the benchmark itself")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import importlib

    return importlib.import_module(BENCHMARKS[args.benchmark]).main(args.options)
