"""`gpt-oss-platform promote --from A --to B`: move A's release to B through the gates, as a commit
on a new branch ready for a pull request (docs/environments.md, "Promotion").

Gates: stage-order (no skipped stage unless --force --reason), pins (image digests where the
target tier requires them), checkout, smoke (A passed its smoke test on exactly this release),
soak (A's tier soak time has passed), plan (B's offline plan with the release passes). Reads the
repository at HEAD; leaves the checkout as it is. `--rollback` promotes B's previous release
(the documented rollback: its merge deploys like a promotion). `--force` skips a stage only:
smoke and soak still apply, and the provenance record keeps who forced it and why.
Smoke records are trusted only when bound to the CI run that wrote them and signed with the
records key ($GPT_OSS_RECORDS_KEY; docs/environments.md, "Smoke records").
`--dry-run` runs every gate and shows the pin diff and the cost delta; nothing is committed.

Exit 0: committed on branch promote/<B>-<release> (dry run: every gate passed); 1: refused, each
failed gate named; 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import os
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
    parser.add_argument("--dry-run", action="store_true", help="run the gates, show pins and cost; commit nothing")
    parser.add_argument("--print-source", action="store_true", help="print the environment the release comes from and exit (CI)")
    parser.add_argument("--json", action="store_true", help="machine-readable outcome")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.environments.git import GitError
    from infra.environments.promote import Promotion, promote
    from infra.environments.records import RECORDS_KEY_ENV, ci_binding_from_env, read_provenance

    source = args.source
    if source is None:
        if not args.rollback:
            raise CliError("--from is required (only --rollback defaults it: the source of the target's last promotion)")
        history = read_provenance(args.repo, args.target)
        if not history:
            raise CliError(f"--rollback: {args.target} has no promotion recorded; give --from")
        source = history[-1].source
    if args.print_source:
        print(source)
        return OK
    key = os.environ.get(RECORDS_KEY_ENV, "")
    request = Promotion(
        source=source,
        target=args.target,
        repo=args.repo,
        records=args.records,
        now=datetime.now(UTC),
        force=args.force,
        reason=args.reason,
        rollback=args.rollback,
        dry_run=args.dry_run,
        records_key=key.encode() if key else None,
        ci=ci_binding_from_env(os.environ),
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
                    "dry_run": outcome.dry_run,
                    "gates": [g.model_dump() for g in outcome.gates],
                    "pins": outcome.pins,
                    "monthly_cost_usd": outcome.summary.get("monthly_cost_usd"),
                },
                indent=2,
            )
        )
    else:
        for gate in outcome.gates:
            print(f"{'ok    ' if gate.passed else 'FAILED'} {gate.name}: {gate.detail}")
        if args.dry_run:
            _print_dry_run(outcome)
    if not outcome.ok:
        names = ", ".join(g.name for g in outcome.failed)
        print(f"promotion of {source} -> {args.target} refused by gate(s): {names}", file=sys.stderr)
        return CHECK_FAILED
    if outcome.dry_run:
        if not args.json:
            print("\ndry run: every gate passes; nothing committed (run again without --dry-run to commit)")
        return OK
    assert outcome.commit is not None, "an ok promotion has its commit (PromotionOutcome.ok)"
    if not args.json:
        print(f"\ncommitted {outcome.commit[:12]} on branch {outcome.branch} (your checkout is unchanged)")
        print(f"next: git push origin {outcome.branch} and open a pull request; its merge applies {args.target}")
    return OK


def _print_dry_run(outcome) -> None:
    print("\nPins:")
    for row in outcome.pins or []:
        print(f"  {row['pin']}: {row['a'] or '(none)'} -> {row['b'] or '(none)'}")
    if not outcome.pins:
        print("  unchanged")
    money = outcome.summary.get("monthly_cost_usd")
    if money:
        print(
            f"Monthly cost: floor ${money['floor']['a']:,.2f} -> ${money['floor']['b']:,.2f} ({money['floor']['delta']:+,.2f}), "
            f"max ${money['max']['a']:,.2f} -> ${money['max']['b']:,.2f} ({money['max']['delta']:+,.2f})"
        )
    else:
        print("Monthly cost: not computed (the plan runs only when the gates before it pass)")
