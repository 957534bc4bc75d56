"""`gpt-oss-platform bench replica`: measure one serving replica, then feed the figure back.

  bench replica --env ENV [--out DIR] [--shapes 3to1,sharegpt,long]
      writes DIR/replica-bench.yaml (a Job running `vllm bench serve` on the environment's Ray
      image against the Serve proxy, and the NetworkPolicy that admits it) and DIR/README.md
  bench replica --collect RESULTS --env ENV --out measured.yaml
      RESULTS: the Job's log (`kubectl logs job/gpt-oss-replica-bench > bench.log`) or a directory
      of result JSON files; writes the measured-throughput file that `cost compare --throughput`,
      `cost simulate --throughput` and `governor.measured_throughput` read

Nothing here talks to the cluster. See docs/cost.md "Measure your own replica".
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from cli.errors import OK, CliError

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig

MANIFEST_FILE = "replica-bench.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpt-oss-platform bench replica", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", required=True, help="stack name (Pulumi.<env>.yaml)")
    parser.add_argument(
        "--out",
        type=Path,
        help="render: directory for the Job and README (default build/bench-replica/<env>); collect: the measured file to write",
    )
    parser.add_argument(
        "--shapes", default="3to1,sharegpt,long", help="render: comma-separated shapes (default 3to1,sharegpt,long)"
    )
    parser.add_argument("--image-repository", metavar="REPO", help="render: pull the Ray image from REPO (same tag/digest)")
    parser.add_argument("--sharegpt-url", metavar="URL", help="render: where the Job downloads ShareGPT from")
    parser.add_argument("--collect", type=Path, metavar="RESULTS", help="collect: the Job's log or a directory of results")
    parser.add_argument("--machine", help="collect: what it ran on (default: the instance type, pool and vLLM version)")
    parser.add_argument("--measured-on", type=date.fromisoformat, help="collect: the date of the run, YYYY-MM-DD (default today)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from infra.config import environment_from_stack_file

    env = environment_from_stack_file(args.env)
    return _collect(args, env) if args.collect is not None else _render(args, env)


def _render(args: argparse.Namespace, env: EnvironmentConfig) -> int:
    from infra.bench_replica.job import manifests_yaml, readme
    from infra.bench_replica.plan import SHAREGPT_URL, BenchPlanError, plan_for
    from infra.paths import BUILD_DIR

    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    try:
        plan = plan_for(env, shapes, image_repository=args.image_repository, sharegpt_url=args.sharegpt_url or SHAREGPT_URL)
    except BenchPlanError as error:
        raise CliError(str(error)) from None
    out = args.out or BUILD_DIR / "bench-replica" / env.name
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MANIFEST_FILE).write_text(manifests_yaml(env, plan))
        (out / "README.md").write_text(readme(env, plan, MANIFEST_FILE))
    except OSError as error:
        raise CliError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    pinned = "by digest" if plan.image_pinned else "BY TAG (no Ray image digest in the release pins yet)"
    print(f"wrote {out / MANIFEST_FILE} and {out / 'README.md'}")
    print(f"image {plan.image}, pulled {pinned}; {len(plan.runs)} runs: shapes {', '.join(s.name for s in plan.shapes)}")
    print(f"concurrency {', '.join(map(str, plan.sweep))}; first-byte timeout {plan.first_byte_timeout_s:g} s")
    print(f"next: hold {env.name} at one replica, then `kubectl apply -f {out / MANIFEST_FILE}` ({out / 'README.md'})")
    return OK


def _collect(args: argparse.Namespace, env: EnvironmentConfig) -> int:
    from infra.bench_replica.collect import CollectError, collect, measured_yaml, read_results
    from infra.bench_replica.plan import first_byte_timeout_s

    if args.out is None:
        raise CliError("--collect needs --out FILE: where to write the measured-throughput file (e.g. measured.yaml)")
    try:
        levels = read_results(args.collect)
        measured = collect(env, levels, first_byte_timeout_s(env), args.measured_on or date.today(), args.machine)
    except CollectError as error:
        raise CliError(str(error)) from None
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(measured_yaml(measured, env))
    except OSError as error:
        raise CliError(f"--out {args.out}: cannot write it ({error.strerror or error})") from None
    for entry in measured.measured:
        print(
            f"{entry.shape}: {entry.output_tokens_per_s:,.0f} output tok/s at concurrency {entry.concurrency} "
            f"(p99 TTFT {entry.p99_ttft_ms:,.0f} ms < {entry.first_byte_timeout_s:g} s), input:output "
            f"{entry.input_output_ratio:.2f}:1"
        )
    print(f"wrote {args.out}; use it with `cost compare --env {env.name} --throughput {args.out}`")
    return OK
