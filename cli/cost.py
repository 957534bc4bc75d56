"""`gpt-oss-platform cost`: what self-hosting costs against the managed API, and what it did cost.

  cost compare --env ENV --tokens-per-month N   self-hosted vs API vs hybrid, GPU-only and whole
                                                environment, both break-evens, a pick; what-ifs
                                                with --model/--instance-type/--tensor-parallel
  cost report (--prometheus URL | --snapshot FILE)   the gateway's counters: cost by team and upstream
  cost throughput                               the throughput figure of every model x GPU x TP
  cost simulate --env ENV --traffic FILE        an hourly trace through the cost governor's policy
  cost sample-trace --out FILE                  write the sample diurnal week (docs/traces/)

Exit codes: 0 done; 1 a check failed (report: the month's forecast is over budget); 2 bad input.
See docs/cost.md.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from cli.errors import CHECK_FAILED, OK, CliError

_SUFFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_tokens(text: str) -> float:
    """`300M`, `2.6B`, `5e8` or `300000000` -> tokens."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a token count: {text!r} (use e.g. 300M, 2.6B or 300000000)")
    return float(match.group(1)) * _SUFFIXES[match.group(2).lower()]


def parse_ratio(text: str) -> float:
    """`3` or `3:1` -> 3.0 prompt tokens per completion token."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?::\s*([0-9]*\.?[0-9]+))?\s*", text)
    if not match or (match.group(2) is not None and float(match.group(2)) == 0):
        raise argparse.ArgumentTypeError(f"not an input:output ratio: {text!r} (use e.g. 3 or 3:1)")
    return float(match.group(1)) / float(match.group(2) or 1)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="self-hosted vs API cost, break-even, and the gateway's cost report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="cost_command", metavar="SUBCOMMAND", required=True)

    compare = commands.add_parser("compare", help="self-hosted vs API vs hybrid monthly cost of a traffic profile")
    compare.add_argument("--env", required=True, help="stack name (Pulumi.<env>.yaml)")
    compare.add_argument(
        "--tokens-per-month",
        required=True,
        type=parse_tokens,
        help="prompt + visible completion tokens a month, e.g. 300M or 2.6B",
    )
    compare.add_argument(
        "--input-output-ratio", type=parse_ratio, default=3.0, help="prompt tokens per completion token (default 3, i.e. 3:1)"
    )
    compare.add_argument(
        "--reasoning-share", type=float, default=0.0, help="share of billed output that is reasoning, 0 <= S < 1 (default 0)"
    )
    compare.add_argument(
        "--busy-hours-per-day",
        type=float,
        default=24.0,
        help="hours a day the traffic arrives in, evenly (default 24: always-on)",
    )
    compare.add_argument(
        "--api", metavar="MODEL", help="managed model to compare with (default: the environment's fallback model)"
    )
    compare.add_argument(
        "--scope",
        choices=("gpu", "environment"),
        default="environment",
        help="the scope of the verdict and the chart; both are always printed. environment (default): the GPU nodes plus "
        "control plane, system nodes, NAT and the rest of the plan, what self-hosting really costs; gpu: GPU nodes only",
    )
    compare.add_argument(
        "--model",
        metavar="MODEL",
        help="what-if: serve this model (gpt-oss-20b, gpt-oss-120b) instead of the environment's; nothing is edited",
    )
    compare.add_argument(
        "--instance-type",
        metavar="TYPE",
        help="what-if: GPU instance type of the serving pool (infra/catalog/instances.yaml, e.g. p5.4xlarge); "
        "the sizing picks the tensor-parallel size or says which types fit",
    )
    compare.add_argument(
        "--tensor-parallel",
        type=int,
        metavar="N",
        help="what-if: tensor-parallel size of a replica (1, 2, 4, 8); default: the sizing's (smallest that fits)",
    )
    compare.add_argument("--prices", type=Path, metavar="FILE", help="price overrides (YAML; docs/cost.md 'Overriding prices')")
    compare.add_argument(
        "--throughput", type=Path, metavar="FILE", help="measured throughput figures that override the catalog's (YAML)"
    )
    compare.add_argument(
        "--cold-start-minutes",
        type=float,
        default=None,
        help="minutes from zero replicas to the first answer (default 10, an estimate)",
    )
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    compare.add_argument(
        "--chart",
        type=Path,
        metavar="FILE.png",
        help="also write a PNG chart of monthly cost against monthly tokens, your volume marked with the dollars of each "
        "line (needs matplotlib: `make ops-venv` installs it)",
    )
    compare.set_defaults(run=run_compare)

    report = commands.add_parser("report", help="cost by environment, team and upstream from the gateway's metrics")
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--prometheus", metavar="URL", help="Prometheus base URL (its /api/v1/query is used), e.g. http://127.0.0.1:9090"
    )
    source.add_argument(
        "--snapshot", type=Path, metavar="FILE", help="a saved metrics snapshot (docs/cost.md 'Metrics snapshot')"
    )
    report.add_argument("--env", help="only this environment (default: every environment in the data)")
    report.add_argument("--window", default="30d", help="PromQL range of the report with --prometheus (default 30d)")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(run=run_report)

    throughput = commands.add_parser("throughput", help="the throughput figure of every model x GPU x TP, with basis and source")
    throughput.add_argument("--throughput", type=Path, metavar="FILE", help="measured figures to show in place of the catalog's")
    throughput.set_defaults(run=run_throughput)

    simulate = commands.add_parser(
        "simulate", help="replay an hourly trace through the cost governor: always-on, API only, governor, hindsight"
    )
    simulate.add_argument("--env", required=True, help="stack name (Pulumi.<env>.yaml)")
    simulate.add_argument(
        "--traffic", required=True, type=Path, metavar="FILE", help="CSV with header hour,tokens,sovereign_tokens (docs/cost.md)"
    )
    simulate.add_argument(
        "--input-output-ratio", type=parse_ratio, default=3.0, help="prompt tokens per completion token (default 3, i.e. 3:1)"
    )
    simulate.add_argument(
        "--reasoning-share", type=float, default=0.0, help="share of billed output that is reasoning, 0 <= S < 1 (default 0)"
    )
    simulate.add_argument("--prices", type=Path, metavar="FILE", help="price overrides (YAML; docs/cost.md 'Overriding prices')")
    simulate.add_argument(
        "--throughput", type=Path, metavar="FILE", help="measured throughput figures that override the catalog's (YAML)"
    )
    simulate.add_argument(
        "--cold-start-minutes", type=float, default=None, help="minutes from zero replicas to the first answer (default 10)"
    )
    simulate.add_argument("--json", action="store_true", help="print the simulation as JSON")
    simulate.add_argument("--chart", type=Path, metavar="FILE.png", help="also write a PNG of the week (needs `make ops-venv`)")
    simulate.set_defaults(run=run_simulate)

    sample = commands.add_parser("sample-trace", help="write the sample diurnal week trace that docs/cost.md simulates")
    sample.add_argument("--out", required=True, type=Path, metavar="FILE", help="CSV to write")
    sample.set_defaults(run=run_sample_trace)


def run_compare(args: argparse.Namespace) -> int:
    from datetime import date

    from infra.catalog import load_catalog
    from infra.config import environment_from_stack_file
    from infra.cost import capacity
    from infra.cost.chart import MissingDependency, render_chart
    from infra.cost.compare import compare, comparison_json
    from infra.cost.environment import surroundings
    from infra.cost.errors import CostInputError
    from infra.cost.prices import load_overrides, priced_catalog
    from infra.cost.profile import TrafficProfile
    from infra.cost.table import render_comparison
    from infra.cost.throughput import load_measured

    try:
        profile = TrafficProfile(args.tokens_per_month, args.input_output_ratio, args.reasoning_share, args.busy_hours_per_day)
        catalog = load_catalog()
        overrides = load_overrides(args.prices, catalog) if args.prices else None
        priced = priced_catalog(catalog, overrides)
        measured = load_measured(args.throughput) if args.throughput else None
        if args.chart is not None and args.chart.suffix.lower() != ".png":
            raise CostInputError(f"--chart {args.chart}: the chart is a PNG; name the file *.png")
        env = environment_from_stack_file(args.env)
        # Both scopes are always priced: the environment's surroundings come from the plan.
        around = surroundings(args.env, priced.catalog, date.today())
        cold = capacity.COLD_START_MINUTES if args.cold_start_minutes is None else args.cold_start_minutes
        comparison = compare(
            env,
            profile,
            priced,
            api_model=args.api,
            scope=args.scope,
            measured=measured,
            surroundings=around,
            cold_start_minutes=cold,
            model=args.model,
            instance_type=args.instance_type,
            tensor_parallel=args.tensor_parallel,
        )
    except CostInputError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(comparison_json(comparison), indent=2))
    else:
        print(render_comparison(comparison))
    if args.chart is not None:
        try:
            written = render_chart(comparison, args.chart)
        except MissingDependency as error:
            raise CliError(str(error)) from None
        if not args.json:
            print(f"Chart: {written}")
    return OK


def run_report(args: argparse.Namespace) -> int:
    from infra.cost.errors import CostInputError
    from infra.cost.metrics import from_prometheus, load_snapshot
    from infra.cost.report import build_report, render_report

    try:
        snapshot = load_snapshot(args.snapshot) if args.snapshot is not None else from_prometheus(args.prometheus, args.window)
        report = build_report(snapshot, environment=args.env)
    except CostInputError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_report(report))
    over = [e["environment"] for e in report["environments"] if e["forecast"]["over_budget"]]
    return CHECK_FAILED if over else OK


def run_throughput(args: argparse.Namespace) -> int:
    from infra.catalog import load_catalog
    from infra.cost.errors import CostInputError
    from infra.cost.throughput import load_measured, throughput_table

    try:
        measured = load_measured(args.throughput) if args.throughput else None
    except CostInputError as error:
        raise CliError(str(error)) from None
    print(throughput_table(load_catalog(), measured), end="")
    return OK


def run_simulate(args: argparse.Namespace) -> int:
    from infra.catalog import load_catalog
    from infra.config import environment_from_stack_file
    from infra.cost import capacity
    from infra.cost.chart import MissingDependency
    from infra.cost.errors import CostInputError
    from infra.cost.governor.build import cost_model
    from infra.cost.governor.report import render_simulation_table
    from infra.cost.governor.simulate import simulate
    from infra.cost.governor.trace import load_trace
    from infra.cost.prices import load_overrides, priced_catalog
    from infra.cost.throughput import load_measured

    try:
        if args.chart is not None and args.chart.suffix.lower() != ".png":
            raise CostInputError(f"--chart {args.chart}: the chart is a PNG; name the file *.png")
        catalog = load_catalog()
        priced = priced_catalog(catalog, load_overrides(args.prices, catalog) if args.prices else None)
        measured = load_measured(args.throughput) if args.throughput else None
        trace = load_trace(args.traffic)
        env = environment_from_stack_file(args.env)
        cold = capacity.COLD_START_MINUTES if args.cold_start_minutes is None else args.cold_start_minutes
        model = cost_model(
            env,
            priced,
            measured=measured,
            input_output_ratio=args.input_output_ratio,
            reasoning_share=args.reasoning_share,
            cold_start_minutes=cold,
        )
        result = simulate(model, env.governor, trace)
    except CostInputError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(render_simulation_table(result))
    if args.chart is not None:
        from infra.cost.governor.chart import render_simulation

        try:
            written = render_simulation(result, args.chart)
        except MissingDependency as error:
            raise CliError(str(error)) from None
        if not args.json:
            print(f"Chart: {written}")
    return OK


def run_sample_trace(args: argparse.Namespace) -> int:
    from infra.cost.governor.sample import diurnal_week
    from infra.cost.governor.trace import write_trace

    try:
        write_trace(args.out, diurnal_week())
    except OSError as error:
        raise CliError(f"--out {args.out}: cannot write it ({error.strerror or error})") from None
    print(f"wrote {args.out}")
    return OK
