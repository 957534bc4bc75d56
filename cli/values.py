"""`gpt-oss-platform values --env ENV`: the serving chart's values of an environment, as a
commented YAML file (what a GitOps repository commits), computed from its stack file.

Environments that read weights from S3 or run a managed GCS Redis need the stack's outputs:
  gpt-oss-platform values --env prod \\
    --weights-bucket "$(pulumi stack output weights_bucket --stack prod)" \\
    --gcs-redis-address "$(pulumi stack output gcs_redis_address --stack prod)"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.errors import OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "values",
        help="chart values of an environment (GitOps path)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="stack name: Pulumi.<env>.yaml")
    parser.add_argument("--stack", help="Pulumi stack name (default: the environment name)")
    parser.add_argument("--weights-bucket", help="S3 bucket with staged weights (`pulumi stack output weights_bucket`)")
    parser.add_argument(
        "--gcs-redis-address", help="host:port of the managed GCS Redis (`pulumi stack output gcs_redis_address`)"
    )
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.chart_values.values_file import render_values_file
    from infra.config import environment_from_stack_file

    env = environment_from_stack_file(args.env)
    try:
        text = render_values_file(env, args.stack or args.env, args.weights_bucket, args.gcs_redis_address)
    except ValueError as error:
        raise CliError(str(error)) from None
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return OK
