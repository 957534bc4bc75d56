"""`gpt-oss-platform upstream {status,fetch,lock}`: the pinned upstream charts (and the CRDs they carry) the
offline plan renders and validates against (infra/upstream).

  status         where each pinned chart and CRD is found (exit 1 when one is missing or, with
                 --verify, differs from lock.json)
  fetch          download them into .cache/upstream/ from each project's Git repository at the
                 pinned tag, every file checked against lock.json (--if-missing: only when absent)
  lock --from D  rewrite lock.json from a reference copy (maintainers, when a pin moves)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.errors import CHECK_FAILED, OK, CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upstream",
        help="pinned upstream charts and CRDs (status, fetch, lock)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="where each pinned chart and CRD is found")
    status.add_argument("--verify", action="store_true", help="also check every file against lock.json")
    fetch = actions.add_parser("fetch", help="download and verify into .cache/upstream/")
    fetch.add_argument("--if-missing", action="store_true", help="do nothing when every chart and CRD is found")
    lock = actions.add_parser("lock", help="rewrite lock.json from a reference copy")
    lock.add_argument("--from", dest="source", type=Path, required=True, help="folder holding charts/ and crds/")
    parser.set_defaults(run=run)


def _missing() -> list[str]:
    from infra import upstream

    missing = []
    for name in upstream.load_lock().charts:
        try:
            upstream.chart_dir(name)
        except upstream.UpstreamMissing:
            missing.append(f"chart {name}")
    return missing


def run(args: argparse.Namespace) -> int:
    from infra import upstream

    if args.action == "lock":
        from infra.upstream.lock import write_lock

        if not (args.source / "charts").is_dir():
            raise CliError(f"--from {args.source}: no charts/ folder there")
        print(f"wrote {write_lock(args.source)}")
        return OK
    if args.action == "fetch":
        from infra.upstream.fetch import FetchError, fetch

        if args.if_missing and not _missing():
            return OK
        try:
            for line in fetch():
                print(f"fetched {line}")
        except FetchError as error:
            print(f"error: {error}; nothing was written to {upstream.CACHE_DIR}", file=sys.stderr)
            return CHECK_FAILED
        return OK
    status = OK
    for name, locked in sorted(upstream.load_lock().charts.items()):
        try:
            folder = upstream.chart_dir(name)
        except upstream.UpstreamMissing as error:
            print(f"MISSING {name} {locked.version}: {error}")
            status = CHECK_FAILED
            continue
        missing = upstream.missing_subcharts(name, folder)
        problems = upstream.verify_chart(name, folder) if args.verify else []
        note = f" (without subcharts {', '.join(missing)}: rendered without them)" if missing else ""
        print(f"{'DIFFERS' if problems else 'ok'} {name} {locked.version} at {folder}{note}")
        for problem in problems[:5]:
            print(f"  {problem}")
        status = max(status, CHECK_FAILED if problems else OK)
    return status
