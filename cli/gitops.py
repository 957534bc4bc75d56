"""`gpt-oss-platform gitops render --env ENV --outputs FILE --out DIR`: the serving chart's manifests
for Argo CD or Flux, from the stack's REAL outputs (docs/environments.md, "GitOps").

  pulumi stack output --json --stack prod > prod-outputs.json
  gpt-oss-platform gitops render --env prod --outputs prod-outputs.json --out clusters/prod/gpt-oss

Refuses (exit 2, nothing written) when an output is missing, implausible or another stack's.
Never writes a Secret. The offline plan's manifests are a preview with invented names: never commit them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.errors import OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gitops",
        help="GitOps manifests from real stack outputs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from infra.paths import REPO_ROOT

    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    render = actions.add_parser("render", help="render the manifests of one environment")
    render.add_argument("--env", required=True, help="environment (stack) name")
    render.add_argument("--stack", help="Pulumi stack name (default: the environment name)")
    render.add_argument("--outputs", type=Path, required=True, help="JSON file of `pulumi stack output --json --stack ENV`")
    render.add_argument("--out", type=Path, required=True, help="folder your GitOps tool watches")
    render.add_argument("--root", type=Path, default=REPO_ROOT, help="repository holding the stack files (default: this one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.config import environment_from_stack_file
    from infra.environments.git import GitError, head_commit
    from infra.environments.gitops import load_outputs, render_gitops, write_rendered
    from infra.environments.pins import load_pins

    env = environment_from_stack_file(args.env, args.root)
    try:
        commit = head_commit(args.root)
    except GitError:
        commit = "(not a git checkout)"
    rendered = render_gitops(
        env,
        args.stack or args.env,
        load_outputs(args.outputs),
        str(args.outputs),
        load_pins(args.env, args.root).release_id,
        commit,
    )
    written = write_rendered(rendered, args.out)
    print(f"wrote {len(written)} manifests to {args.out}")
    if rendered.dropped_secrets:
        print(f"not rendered (Secrets never go to Git): {', '.join(rendered.dropped_secrets)}", file=sys.stderr)
    return OK
