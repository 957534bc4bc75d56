"""`gpt-oss-platform preflight --env ENV`: read-only checks of the real AWS account before the first
`pulumi up` (docs/deploy.md "Fresh account"). Uses the default AWS credentials (boto3) in the
environment's region and changes nothing. Exit 0 when every check passes or is skipped, 1 when
one fails (each failure prints the exact fix), 2 on bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

from cli.errors import BAD_INPUT, CHECK_FAILED, OK, CliError

CI_ROLE_ENV = "GPT_OSS_CI_ROLE_ARN"
EGRESS_LOOKUP_URL = "https://checkip.amazonaws.com"  # answers with the caller's public address


def _checks_text() -> str:
    from infra.preflight import checks

    lines = ["checks (in this order):"]
    for name, (description, _) in checks().items():
        lines.append(textwrap.fill(description, width=96, initial_indent=f"  {name:<26}", subsequent_indent=" " * 28))
    return "\n".join(lines)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="read-only checks of the AWS account before the first `pulumi up`",
        description=__doc__,
        epilog=_checks_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="stack name (Pulumi.<env>.yaml)")
    from infra.paths import REPO_ROOT

    parser.add_argument("--stacks", type=Path, default=REPO_ROOT, help="folder holding Pulumi.<env>.yaml (default: repo root)")
    parser.add_argument(
        "--egress-ip", help=f"the public address `pulumi up` will come from (default: looked up at {EGRESS_LOOKUP_URL})"
    )
    parser.add_argument(
        "--ci-role-arn", help=f"the IAM role the deploy workflow assumes (default: ${CI_ROLE_ENV}); checked to be cluster admin"
    )
    parser.add_argument("--only", help="comma-separated check names to run (default: all)")
    parser.set_defaults(run=run)


def lookup_egress_ip(url: str = EGRESS_LOOKUP_URL, timeout: float = 5.0) -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read().decode().strip() or None
    except OSError:
        return None


def run(args: argparse.Namespace) -> int:
    from infra.config import environment_from_stack_file
    from infra.preflight import Context, checks, run_preflight

    only = [n.strip() for n in args.only.split(",")] if args.only else None
    unknown = sorted(set(only or []) - set(checks()))
    if unknown:
        raise CliError(f"--only: unknown check(s) {', '.join(unknown)}; known: {', '.join(checks())}", BAD_INPUT)
    env = environment_from_stack_file(args.env, args.stacks)
    import boto3

    session = boto3.Session(region_name=env.region)
    egress = args.egress_ip
    if egress is None and (only is None or "api-egress" in only) and env.cluster.api_access.mode == "public":
        egress = lookup_egress_ip()
    context = Context(env=env, session=session, egress_ip=egress, ci_role_arn=args.ci_role_arn or os.environ.get(CI_ROLE_ENV))
    try:
        results = run_preflight(context, only)
    except Exception as error:
        from infra.preflight import aws_error_code

        code = aws_error_code(error)
        if code or type(error).__name__ in ("NoCredentialsError", "EndpointConnectionError", "NoRegionError"):
            raise CliError(f"cannot reach AWS: {code or type(error).__name__}: {error}", CHECK_FAILED) from None
        raise
    for result in results:
        print(result.render())
    failed = [r for r in results if r.status == "fail"]
    print(f"\npreflight {env.name}: {len(results) - len(failed)} passed or skipped, {len(failed)} failed")
    if failed:
        print(f"PREFLIGHT FAILED ({env.name}): fix the {len(failed)} item(s) above before `pulumi up`", file=sys.stderr)
        return CHECK_FAILED
    return OK
