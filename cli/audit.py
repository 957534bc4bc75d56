"""`gpt-oss-platform audit tags --env ENV`: the environment's resources in the real AWS account,
checked against its cost tags, and its budget against the config.

Finds what node groups and Karpenter launched (instances, volumes, primary network interfaces)
as well as what the stack created; reports every missing required tag, a key in the wrong case
(`Environment` for `environment`), another value, and a budget that is missing or does not
filter on the environment's tag. Uses the default AWS credentials (or --profile); read-only.
Exit codes: 0 clean; 1 gaps found; 2 bad input or the account could not be read. See docs/cost.md.
"""

from __future__ import annotations

import argparse
import json

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="audit the real AWS account (tags, budget)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    tags = commands.add_parser("tags", help="missing or wrongly spelled cost tags and the budget of an environment")
    tags.add_argument("--env", required=True, help="stack name (Pulumi.<env>.yaml)")
    tags.add_argument("--profile", help="AWS profile (default: the default credential chain)")
    tags.add_argument("--json", action="store_true", help="print the findings as JSON")
    tags.set_defaults(run=run_tags)


def run_tags(args: argparse.Namespace) -> int:
    from infra.audit.audit import audit_environment, session_for
    from infra.audit.errors import AuditError
    from infra.audit.report import render_audit
    from infra.config import environment_from_stack_file

    env = environment_from_stack_file(args.env)
    try:
        result = audit_environment(env, session_for(env.region, args.profile))
    except AuditError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(render_audit(result))
    return OK if result.clean else CHECK_FAILED
