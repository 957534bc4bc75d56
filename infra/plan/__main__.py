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
    parser.add_argument(
        "--env", required=True, help="stack name (Pulumi.<env>.yaml), a comma-separated list, or `all` for every stack file"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build", help="output root (default: build/)")
    parser.add_argument("--stacks", type=Path, default=REPO_ROOT, help="folder holding Pulumi.<env>.yaml (default: repo root)")
    args = parser.parse_args(argv)
    names = args.env.split(",")
    if names == ["all"]:
        names = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in args.stacks.glob("Pulumi.*.yaml"))
    status = 0
    for index, name in enumerate(names):
        if index:
            print("\n" + "=" * 100 + "\n")
        status = max(status, plan_one(name.strip(), args.out, args.stacks))
    return status


def plan_one(env: str, out: Path, stacks: Path) -> int:
    try:
        plan = build_plan(env, out, stacks)
    except ConfigError as error:
        print(f"error: {error}\nNothing was registered.", file=sys.stderr)
        return 2
    try:
        shown = plan.out_dir.relative_to(Path.cwd())
    except ValueError:
        shown = plan.out_dir
    print(render_report(plan.data, str(shown), plan.manifest_count))
    if not plan.ok:
        print(f"\nPLAN FAILED ({env}): tag coverage below 100% or a mandatory policy is violated.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
