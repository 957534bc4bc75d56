"""`gpt-oss-platform values --env ENV`: the serving chart's values of an environment, as a
commented YAML file (what a GitOps repository commits), computed from its stack file.

Values only the deployed stack knows come from its outputs (`pulumi stack output`):
  gpt-oss-platform values --env prod \\
    --gateway-image "$(pulumi stack output gateway_image --stack prod)" \\
    --weights-bucket "$(pulumi stack output weights_bucket --stack prod)" \\
    --gcs-redis-address "$(pulumi stack output gcs_redis_address --stack prod)"
--gateway-image defaults to gateway.image (repository and digest) when the config has both;
--service-cidr defaults to cluster.network.service_cidr for a cluster this stack creates.
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
    parser.add_argument("--gateway-image", help="repository@sha256:digest (`pulumi stack output gateway_image`)")
    parser.add_argument(
        "--governor-image",
        help="repository@sha256:digest (`pulumi stack output governor_image`); without it the governor is left out",
    )
    parser.add_argument("--service-cidr", help="the cluster's Service CIDR (`pulumi stack output service_cidr`)")
    parser.add_argument("--weights-bucket", help="S3 bucket with staged weights (`pulumi stack output weights_bucket`)")
    parser.add_argument(
        "--gcs-redis-address", help="host:port of the managed GCS Redis (`pulumi stack output gcs_redis_address`)"
    )
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.chart_values import StackOutputs
    from infra.chart_values.values_file import render_values_file
    from infra.config import environment_from_stack_file

    env = environment_from_stack_file(args.env)
    image = args.gateway_image
    if image is None and env.gateway.image.repository and env.gateway.image.digest:
        image = f"{env.gateway.image.repository}@{env.gateway.image.digest}"
    if image is None:
        raise CliError(
            "--gateway-image is required: `pulumi stack output gateway_image`, or set gateway.image.repository and digest"
        )
    service_cidr = args.service_cidr or (env.cluster.effective_network.service_cidr if env.cluster.mode == "create" else None)
    if service_cidr is None:
        raise CliError("--service-cidr is required for an existing cluster: `pulumi stack output service_cidr`")
    governor_image = args.governor_image
    if governor_image is None and env.governor.image.repository and env.governor.image.digest:
        governor_image = f"{env.governor.image.repository}@{env.governor.image.digest}"
    outputs = StackOutputs(image, service_cidr, args.weights_bucket, args.gcs_redis_address, governor_image)
    try:
        text = render_values_file(env, args.stack or args.env, outputs)
    except ValueError as error:
        raise CliError(str(error)) from None
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return OK
