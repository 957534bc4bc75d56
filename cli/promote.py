"""`gpt-oss-platform promote --from A --to B`: move A's release to B through the gates, as a commit
on a new branch ready for a pull request (docs/environments.md, "Promotion").

Gates: stage-order (no skipped stage unless --force --reason), pins (image digests where the
target tier requires them), checkout, smoke (A passed its smoke test on exactly this release),
soak (A's tier soak time has passed), plan (B's offline plan with the release passes). Reads the
repository at HEAD; leaves the checkout as it is. `--rollback` promotes B's previous release.

Exit 0: committed on branch promote/<B>-<release>; 1: refused, each failed gate named; 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="gated promotion of a release to the next environment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from infra.paths import BUILD_DIR, REPO_ROOT

    parser.add_argument(
        "--from", dest="source", metavar="ENV", help="environment holding the release (required unless --rollback)"
    )
    parser.add_argument("--to", dest="target", required=True, metavar="ENV", help="environment to promote to")
    parser.add_argument("--rollback", action="store_true", help="promote the target's previous release instead")
    parser.add_argument("--force", action="store_true", help="allow skipping a stage (needs --reason; recorded)")
    parser.add_argument("--reason", help="why the stage order is overridden")
    parser.add_argument(
        "--records", type=Path, default=BUILD_DIR / "records", help="smoke records folder (default: build/records)"
    )
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="git repository to promote in (default: this one)")
    parser.add_argument("--json", action="store_true", help="machine-readable outcome")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.environments.git import GitError
    from infra.environments.promote import Promotion, promote
    from infra.environments.records import read_provenance

    source = args.source
    if source is None:
        if not args.rollback:
            raise CliError("--from is required (only --rollback defaults it: the source of the target's last promotion)")
        history = read_provenance(args.repo, args.target)
        if not history:
            raise CliError(f"--rollback: {args.target} has no promotion recorded; give --from")
        source = history[-1].source
    request = Promotion(
        source=source,
        target=args.target,
        repo=args.repo,
        records=args.records,
        now=datetime.now(UTC),
        force=args.force,
        reason=args.reason,
        rollback=args.rollback,
    )
    try:
        outcome = promote(request)
    except GitError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "ok": outcome.ok,
                    "release": outcome.release,
                    "branch": outcome.branch,
                    "commit": outcome.commit,
                    "provenance": outcome.provenance,
                    "gates": [g.model_dump() for g in outcome.gates],
                },
                indent=2,
            )
        )
    else:
        for gate in outcome.gates:
            print(f"{'ok    ' if gate.passed else 'FAILED'} {gate.name}: {gate.detail}")
    if not outcome.ok:
        names = ", ".join(g.name for g in outcome.failed)
        print(f"promotion of {source} -> {args.target} refused by gate(s): {names}", file=sys.stderr)
        return CHECK_FAILED
    assert outcome.commit is not None, "an ok promotion has its commit (PromotionOutcome.ok)"
    if not args.json:
        print(f"\ncommitted {outcome.commit[:12]} on branch {outcome.branch} (your checkout is unchanged)")
        print(f"next: git push origin {outcome.branch} and open a pull request; its merge applies {args.target}")
    return OK
