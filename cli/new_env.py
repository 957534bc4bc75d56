"""`gpt-oss-platform new-env NAME --from ENV`: scaffold environments/NAME.yaml from ENV's overlay,
its release pins (a copy of ENV's) and Pulumi.NAME.yaml.

The keys every environment must have its own of are not copied: give them with --cluster-name,
--vpc-cidr and --cost-center (refused, nothing written, when one clashes with another environment),
or set them in the new overlay afterwards; the file lists what is still to set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.errors import OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new-env",
        help="scaffold a new environment from an existing one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from infra.paths import REPO_ROOT

    parser.add_argument("name", metavar="NAME", help="new environment (and stack) name")
    parser.add_argument("--from", dest="source", required=True, metavar="ENV", help="environment to copy")
    parser.add_argument("--cluster-name", help="EKS cluster name of the new environment")
    parser.add_argument("--vpc-cidr", help="VPC CIDR of the new environment (/16 to /20, overlapping no other)")
    parser.add_argument("--cost-center", help="cost-center tag of the new environment")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository holding environments/ (default: this one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.environments.scaffold import scaffold

    made = scaffold(args.name, args.source, args.root, args.cluster_name, args.vpc_cidr, args.cost_center)
    for path in (made.overlay, made.pins, made.stack_file):
        print(f"wrote {path.relative_to(args.root.resolve()) if path.is_absolute() else path}")
    if made.still_to_set:
        print(f"Still to set in {made.overlay.name}:")
        for line in made.still_to_set:
            print(f"  {line}")
        print(f"then: gpt-oss-platform envs render --env {made.name} && gpt-oss-platform plan --env {made.name}")
    else:
        print(f"next: gpt-oss-platform plan --env {made.name}")
    return OK
