"""What environments a folder holds, and which of them a change touches."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from infra.config.errors import ConfigError
from infra.config.load import stack_names
from infra.config.overlays import overlay_names, resolve
from infra.config.tiers import load_tiers
from infra.environments.git import changed_files, export_paths
from infra.environments.pins import load_pins

# Files that only shape one environment each; a change anywhere else (program, chart, catalog,
# lock file) can change every environment's plan.
ENVIRONMENT_FILES = ("environments/", "Pulumi.")
# A GitHub-hosted runner's egress is any address of GitHub's large, changing ranges
# (https://api.github.com/meta, "actions"): it reaches a cluster API only when the endpoint is
# open to the internet. Every other endpoint needs a runner whose egress is allowed: a
# self-hosted runner in the environment's VPC (or behind a NAT address in `public_cidrs`),
# registered with the label `gpt-oss-<env>` (docs/environments.md, "Runners").
HOSTED_RUNNER = "ubuntu-24.04"
OPEN_TO_THE_INTERNET = {"0.0.0.0/0"}
# Tiers whose CI plans run `plan --strict` (placeholders refused before they reach AWS).
STRICT_TIERS = ("staging", "prod")
# Never part of what is deployed: a change here alone touches no environment.
NEUTRAL_PREFIXES = ("docs/", "README.md", "runbooks/", "tests/", "bench/", ".github/", "environments/provenance/")


def promotion_order(root: Path) -> list[str]:
    """Environments with an overlay, by tier rank, then name."""
    tiers = load_tiers()
    ranked = []
    for name in overlay_names(root):
        try:
            tier = resolve(name, root).get("tier")
        except ConfigError:
            tier = None
        rank = tiers.tiers[tier].rank if tier in tiers.tiers else len(tiers.tiers)
        ranked.append((rank, name))
    return [name for _, name in sorted(ranked)]


def runner_for(env: str, resolved: dict) -> str | list[str]:
    """The `runs-on` of a CI job that reaches `env`'s Kubernetes API (`pulumi up`, `preview
    --refresh`, kubectl): GitHub-hosted only when the endpoint is public and open to every
    address; otherwise a self-hosted runner labelled `gpt-oss-<env>` that the endpoint admits."""
    access = (resolved.get("cluster") or {}).get("api_access") or {}
    cidrs = set(access.get("public_cidrs") or [])
    if access.get("mode", "public") == "public" and cidrs & OPEN_TO_THE_INTERNET:
        return HOSTED_RUNNER
    return ["self-hosted", f"gpt-oss-{env}"]


def overview(root: Path) -> list[dict[str, Any]]:
    """One row per environment: name, tier, region, cluster, model, release, the CI runner that
    reaches its cluster and whether its CI plan is strict; or the problem."""
    rows = []
    for name in promotion_order(root) + [n for n in stack_names(root) if n not in overlay_names(root)]:
        row: dict[str, Any] = {"name": name}
        try:
            env = resolve(name, root)
            pins = load_pins(name, root)
        except ConfigError as error:
            row["problem"] = error.problems[0].render()
        else:
            row |= {
                "tier": env.get("tier"),
                "region": env.get("region"),
                "cluster": (env.get("cluster") or {}).get("name"),
                "model": (env.get("model") or {}).get("name"),
                "release": pins.release_id,
                "runner": runner_for(name, env),
                "strict": env.get("tier") in STRICT_TIERS,
            }
        rows.append(row)
    return rows


def _state(name: str, root: Path) -> Any:
    try:
        return resolve(name, root), load_pins(name, root).as_data()
    except ConfigError as error:
        return [p.render() for p in error.problems]


def affected(repo: Path, base: str) -> dict[str, Any]:
    """Environments whose resolved config or pins differ between `base` and the working tree;
    every environment when a file outside environments/ and the stack files changed and could
    change every plan (the program, the chart, the catalog, the lock file)."""
    files = changed_files(repo, base)
    shared = sorted(f for f in files if not f.startswith(ENVIRONMENT_FILES) and not f.startswith(NEUTRAL_PREFIXES))
    names = overlay_names(repo)
    if shared:
        return {"environments": promotion_order(repo), "reason": f"shared files changed: {', '.join(shared[:5])}"}
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp)
        export_paths(repo, base, ["environments", *[f"Pulumi.{n}.yaml" for n in names]], before)
        touched = [n for n in promotion_order(repo) if _state(n, repo) != _state(n, before)]
    return {"environments": touched, "reason": "resolved config or release pins changed" if touched else "no environment changed"}


def promoted(repo: Path, base: str) -> dict[str, Any]:
    """Environments a push between `base` and HEAD promoted: a new provenance record under
    environments/provenance/<env>/ whose pins are the environment's pins at HEAD. The deploy
    workflow applies staging and prod only for these (a pins change without a promotion
    record, or a record whose pins were edited afterwards, applies nothing)."""
    from infra.environments.git import git
    from infra.environments.records import PROVENANCE_DIR, PromotionRecord

    added = git(repo, "diff", "--name-only", "--diff-filter=A", base, "HEAD", "--", str(PROVENANCE_DIR)).splitlines()
    found: dict[str, str] = {}
    refused: list[str] = []
    for path in sorted(added):
        record = PromotionRecord.model_validate_json(git(repo, "show", f"HEAD:{path}"))
        with tempfile.TemporaryDirectory() as tmp:
            export_paths(repo, "HEAD", [f"environments/pins/{record.target}.yaml"], Path(tmp))
            current = load_pins(record.target, Path(tmp))
        if current == record.pins:
            found[record.target] = record.release
        else:
            refused.append(f"{record.target}: pins at HEAD ({current.release_id}) are not the promoted release {record.release}")
    return {"environments": [n for n in promotion_order(repo) if n in found], "releases": found, "refused": refused}
