"""`python -m infra.plan --env dev`: print the offline plan and write build/<env>/.

Exit status: 0 when tag coverage is 100% and no mandatory policy is violated; 1 otherwise;
2 when the configuration is invalid (nothing was registered).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.config import ConfigError
from infra.plan.build import REPO_ROOT, build_plan
from infra.plan.report import render_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.plan", description=__doc__)
    parser.add_argument("--env", required=True, help="stack name: dev, staging, prod (Pulumi.<env>.yaml)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build", help="output root (default: build/)")
    args = parser.parse_args(argv)
    try:
        plan = build_plan(args.env, args.out)
    except ConfigError as error:
        print(f"error: {error}\nNothing was registered.", file=sys.stderr)
        return 2
    try:
        shown = plan.out_dir.relative_to(Path.cwd())
    except ValueError:
        shown = plan.out_dir
    print(render_report(plan.data, str(shown), plan.manifest_count))
    if not plan.ok:
        print("\nPLAN FAILED: tag coverage below 100% or a mandatory policy is violated.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
