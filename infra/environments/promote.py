"""Gated promotion of a release from one environment to the next (docs/environments.md, "Promotion").

A release is an environment's pins (infra/environments/pins.py). `promote(source, target)` reads
the repository as it is at HEAD (never the working tree), runs the gates, and only when every
gate passes writes the target's pins, its re-rendered stack file and a provenance record on a new
branch, in one commit made with git plumbing: the user's checkout is not touched.

Gates, in order (all cheap ones are reported together; the offline plan runs when they pass):
- stage-order  the target is the source's tier or the next one (never a skipped stage) unless
               `force` with a `reason` (recorded);
- pins         a tier with `require_image_digests` gets no release without a gateway image digest
               and a Ray image digest;
- checkout     the release's Ray image and chart version are this checkout's (the plan and the
               apply run this checkout's program and chart);
- smoke        the source's latest trusted smoke record for exactly this release passed: bound to
               the CI run that wrote it, its signature verified with the records key and its
               commit in this repository's history (records.py, "Binding"); `--force` never
               skips it;
- soak         it has been passing in the source, with no failed record since, for the source
               tier's `soak_hours`;
- plan         the target's offline plan with the release passes: config and tier guardrails,
               100% tag coverage, no mandatory policy violation.
Rollback is promoting the target's previous release (from its last provenance record) with
the same gates: the source must hold a passing, soaked smoke record for that release.
A dry run judges every gate, the plan included, and returns the pin diff and the cost delta
without committing anything.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.config.errors import ConfigError, problem
from infra.config.load import environment_from_stack_file
from infra.config.overlays import has_overlay, resolve
from infra.config.stack_files import stack_file
from infra.config.tiers import load_tiers
from infra.environments import git as gitops
from infra.environments.checkout import checkout_mismatches
from infra.environments.diff import pins_diff, resources_diff
from infra.environments.pin_updates import apply_pins
from infra.environments.pins import ReleasePins, load_pins, pins_path
from infra.environments.records import (
    CiBinding,
    GateResult,
    PromotionRecord,
    SmokeRecord,
    binding_problem,
    read_provenance,
    read_smoke_records,
    write_provenance,
)
from infra.environments.snapshot import take_snapshot

# What a promotion reads from the repository at HEAD.
TRACKED = ["environments", "Pulumi.*.yaml"]


@dataclass
class Promotion:
    source: str
    target: str
    repo: Path
    records: Path
    now: datetime
    force: bool = False
    reason: str | None = None
    rollback: bool = False
    dry_run: bool = False
    records_key: bytes | None = None
    ci: CiBinding | None = None


@dataclass
class Outcome:
    gates: list[GateResult]
    release: str | None
    branch: str | None = None
    commit: str | None = None
    provenance: str | None = None
    message: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    pins: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def passed(self) -> bool:
        """Every gate passed (a dry run's verdict)."""
        return bool(self.gates) and all(g.passed for g in self.gates)

    @property
    def ok(self) -> bool:
        return self.passed and (self.dry_run or self.commit is not None)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]


def _inputs(request: Promotion, tree: Path) -> None:
    """Bad input (nothing is judged): ConfigError naming every problem."""
    found = []
    for flag, name in (("--from", request.source), ("--to", request.target)):
        if not has_overlay(name, tree):
            found.append(problem(flag, f"no environment {name!r} at HEAD (environments/{name}.yaml)", name))
    if request.source == request.target:
        found.append(problem("--to", "is the source; promotion moves a release to another environment", request.target))
    if request.force and not (request.reason or "").strip():
        found.append(problem("--reason", "required with --force: say why a stage is skipped (it is recorded)"))
    if found:
        raise ConfigError(found, "promote")


def _tier(env: str, tree: Path) -> str:
    return str(resolve(env, tree).get("tier"))


def stage_gate(source_tier: str, target_tier: str, request: Promotion) -> GateResult:
    tiers = load_tiers()
    order = " -> ".join(tiers.ordered())
    step = tiers.tiers[target_tier].rank - tiers.tiers[source_tier].rank
    path = f"{request.source} ({source_tier}) -> {request.target} ({target_tier})"
    if step in (0, 1):
        return GateResult(name="stage-order", passed=True, detail=path)
    what = "skips a stage" if step > 1 else "goes backwards"
    if request.force:
        return GateResult(name="stage-order", passed=True, detail=f"{path} {what}; forced: {request.reason}")
    return GateResult(
        name="stage-order",
        passed=False,
        detail=f'{path} {what}; promotions go {order} one stage at a time (--force --reason "..." to override, recorded)',
    )


def pins_gate(pins: ReleasePins, target_tier: str) -> GateResult:
    if not load_tiers().tiers[target_tier].require_image_digests:
        return GateResult(name="pins", passed=True, detail="complete for the target tier")
    missing = []
    if pins.gateway_image.digest is None:
        missing.append(
            f"gateway image {pins.gateway_image.repository}:{pins.gateway_image.tag} has no digest "
            "(CI records it after the build: `gpt-oss-platform pins set --gateway-digest`)"
        )
    if pins.ray_image.digest is None:
        missing.append(
            f"Ray image {pins.ray_image.repository}:{pins.ray_image.tag} has no digest "
            "(`gpt-oss-platform pins set --env <source> --ray-digest sha256:...` from `crane digest` of the tag)"
        )
    if missing:
        return GateResult(
            name="pins",
            passed=False,
            detail=f"the {target_tier} tier deploys images by digest only: " + "; ".join(missing),
        )
    return GateResult(name="pins", passed=True, detail="complete for the target tier: every image pinned by digest")


def checkout_gate(pins: ReleasePins) -> GateResult:
    mismatches = checkout_mismatches(pins)
    if mismatches:
        return GateResult(
            name="checkout", passed=False, detail="; ".join(mismatches) + ": promote from a checkout that deploys this release"
        )
    return GateResult(name="checkout", passed=True, detail="Ray image and chart are this checkout's")


def _matching(records: list[SmokeRecord], pins: ReleasePins) -> list[SmokeRecord]:
    return [r for r in records if r.pins == pins]


def trusted_records(
    source: str, pins: ReleasePins, records_dir: Path, key: bytes | None, repo: Path
) -> tuple[list[SmokeRecord], list[str], int]:
    """The source's records for exactly this release that the gates may trust (bound, signed,
    from a commit of this repository), one line per record or file refused, and how many
    readable records are of other releases."""
    records, refused = read_smoke_records(records_dir, source)
    trusted = []
    for record in _matching(records, pins):
        why = binding_problem(record, key)
        if why is None and record.ci is not None and not gitops.is_ancestor(repo, record.ci.commit, "HEAD"):
            why = f"commit {record.ci.commit[:12]} of CI run {record.ci.run_id} is not in this repository's history"
        if why is None:
            trusted.append(record)
        else:
            refused.append(f"record of {record.finished_at.isoformat()}: {why}")
    return trusted, refused, len(records) - len(_matching(records, pins))


def smoke_gate(
    source: str, pins: ReleasePins, records_dir: Path, key: bytes | None = None, repo: Path | None = None
) -> tuple[GateResult, SmokeRecord | None]:
    mine, unreadable, others = trusted_records(source, pins, records_dir, key, repo or Path("."))
    ignored = f"; refused records: {'; '.join(unreadable)}" if unreadable else ""
    where = records_dir / source / "smoke"
    if not mine:
        return GateResult(
            name="smoke",
            passed=False,
            detail=f"{source} holds no smoke record for release {pins.release_id} in {where} "
            f"({others} record(s) of other releases){ignored}; deploy {source} through deploy.yml, whose smoke test writes a signed record",
        ), None
    latest = mine[-1]
    if not latest.passed:
        failed = ", ".join(c.name for c in latest.checks if not c.passed)
        return GateResult(
            name="smoke",
            passed=False,
            detail=f"{source}'s latest smoke record for {pins.release_id} ({latest.finished_at.isoformat()}) failed: {failed}{ignored}",
        ), latest
    return GateResult(name="smoke", passed=True, detail=f"{source} passed at {latest.finished_at.isoformat()}{ignored}"), latest


def soak_gate(
    source: str,
    source_tier: str,
    pins: ReleasePins,
    records_dir: Path,
    now: datetime,
    key: bytes | None = None,
    repo: Path | None = None,
) -> GateResult:
    hours = load_tiers().tiers[source_tier].soak_hours
    mine = trusted_records(source, pins, records_dir, key, repo or Path("."))[0]
    # Passing since: the first passing record after the last failing one for this release.
    since = None
    for record in mine:
        if not record.passed:
            since = None
        elif since is None:
            since = record.finished_at
    if since is None:
        return GateResult(
            name="soak", passed=False, detail=f"release {pins.release_id} has no passing smoke record in {source} to soak from"
        )
    elapsed = (now - since).total_seconds() / 3600
    detail = f"passing in {source} since {since.isoformat()}: {elapsed:.1f} h of the {source_tier} tier's {hours:g} h"
    if elapsed < hours:
        return GateResult(name="soak", passed=False, detail=f"{detail}; wait {hours - elapsed:.1f} h more")
    return GateResult(name="soak", passed=True, detail=detail)


def _plan_gate(target: str, after: Path, out: Path) -> GateResult:
    from infra.plan.build import build_plan

    try:
        environment_from_stack_file(target, after)
        plan = build_plan(target, out, after)
    except ConfigError as error:
        return GateResult(
            name="plan",
            passed=False,
            detail=f"{target}'s config with this release is refused: " + "; ".join(p.render() for p in error.problems),
        )
    if not plan.ok:
        return GateResult(name="plan", passed=False, detail=f"{target}'s offline plan fails: {'; '.join(plan.failures)}")
    coverage = plan.data["tag_coverage"]
    return GateResult(
        name="plan",
        passed=True,
        detail=f"{target}'s offline plan passes: tags {coverage['fully_tagged']}/{coverage['taggable']}, no mandatory policy violation, guardrails hold",
    )


def _release(request: Promotion, tree: Path) -> tuple[ReleasePins | None, GateResult | None]:
    if not request.rollback:
        return load_pins(request.source, tree), None
    history = read_provenance(tree, request.target)
    if not history or history[-1].previous_pins is None:
        return None, GateResult(
            name="rollback",
            passed=False,
            detail=f"{request.target} has no earlier release recorded in environments/provenance/{request.target}/",
        )
    previous = history[-1].previous_pins
    return previous, GateResult(
        name="rollback", passed=True, detail=f"to {request.target}'s previous release {previous.release_id}"
    )


def commit_message(
    request: Promotion,
    pins: ReleasePins,
    before: ReleasePins,
    summary: dict[str, Any],
    gates: list[GateResult],
    source_commit: str,
    provenance: str,
) -> str:
    verb = "roll back" if request.rollback else "promote"
    lines = [f"{verb} {request.target} to {pins.release_id} (from {request.source})", ""]
    lines.append(f"Release {pins.release_id} from {request.source} to {request.target}; previous: {before.release_id}.")
    if request.force:
        lines.append(f"FORCED: {request.reason}")
    lines += ["", "Pins:"]
    changes = pins_diff(before, pins)
    lines += [f"  {row['pin']}: {row['a'] or '(none)'} -> {row['b'] or '(none)'}" for row in changes] or ["  unchanged"]
    res = summary["resources"]
    lines += [
        "",
        f"Resources ({request.target}'s offline plan): {len(res['added'])} added, {len(res['removed'])} removed, {len(res['changed'])} changed",
    ]
    lines += [f"  + {k}" for k in res["added"][:10]] + [f"  - {k}" for k in res["removed"][:10]]
    lines += [f"  ~ {row['resource']}" for row in res["changed"][:10]]
    money = summary["monthly_cost_usd"]
    lines.append(
        f"Monthly cost: floor ${money['floor']['a']:,.2f} -> ${money['floor']['b']:,.2f} ({money['floor']['delta']:+,.2f}), "
        f"max ${money['max']['a']:,.2f} -> ${money['max']['b']:,.2f} ({money['max']['delta']:+,.2f})"
    )
    lines += ["", "Gates:"] + [f"  {g.name}: {'passed' if g.passed else 'FAILED'}: {g.detail}" for g in gates]
    lines += [
        "",
        f"Provenance: {provenance}",
        f"Source commit: {source_commit}",
        "",
        f"Promotion: {request.source} -> {request.target}",
        f"Release: {pins.release_id}",
    ]
    return "\n".join(lines) + "\n"


def promote(request: Promotion) -> Outcome:
    """Judge the promotion and, when every gate passes, commit it on a new branch."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        tree = scratch_dir / "head"
        source_commit = gitops.head_commit(request.repo)
        gitops.export_paths(request.repo, "HEAD", TRACKED, tree)
        _inputs(request, tree)
        pins, rollback_gate = _release(request, tree)
        gates = [rollback_gate] if rollback_gate is not None else []
        source_tier, target_tier = _tier(request.source, tree), _tier(request.target, tree)
        gates.append(stage_gate(source_tier, target_tier, request))
        if pins is None:
            return Outcome(gates=gates, release=None)
        smoke, accepted = smoke_gate(request.source, pins, request.records, request.records_key, request.repo)
        gates += [
            pins_gate(pins, target_tier),
            checkout_gate(pins),
            smoke,
            soak_gate(request.source, source_tier, pins, request.records, request.now, request.records_key, request.repo),
        ]
        before_pins = load_pins(request.target, tree)
        pin_rows = pins_diff(before_pins, pins)
        if not all(g.passed for g in gates):
            gates.append(GateResult(name="plan", passed=False, detail="not run: the gates above failed (the plan runs last)"))
            return Outcome(gates=gates, release=pins.release_id, pins=pin_rows, dry_run=request.dry_run)
        after = scratch_dir / "after"
        shutil.copytree(tree, after)
        apply_pins(request.target, pins, after)
        gates.append(_plan_gate(request.target, after, scratch_dir / "plan"))
        if not gates[-1].passed:
            return Outcome(gates=gates, release=pins.release_id, pins=pin_rows, dry_run=request.dry_run)
        before_snapshot, after_snapshot = take_snapshot(request.target, tree), take_snapshot(request.target, after)
        summary = {
            "resources": resources_diff(before_snapshot, after_snapshot),
            "monthly_cost_usd": {
                key: {
                    "a": getattr(before_snapshot, f"cost_{key}"),
                    "b": getattr(after_snapshot, f"cost_{key}"),
                    "delta": round(getattr(after_snapshot, f"cost_{key}") - getattr(before_snapshot, f"cost_{key}"), 2),
                }
                for key in ("floor", "max")
            },
        }
        if request.dry_run:
            return Outcome(
                gates=gates,
                release=pins.release_id,
                message="dry run: nothing committed",
                summary=summary,
                pins=pin_rows,
                dry_run=True,
            )
        record = PromotionRecord(
            source=request.source,
            target=request.target,
            release=pins.release_id,
            pins=pins,
            previous_release=before_pins.release_id,
            previous_pins=before_pins,
            rollback=request.rollback,
            source_commit=source_commit,
            promoted_at=request.now,
            actor=gitops.user_name(request.repo),
            forced=request.force,
            reason=request.reason if request.force else None,
            ci=request.ci,
            gates=gates,
            smoke_record=accepted,
            plan=summary,
        )
        written = write_provenance(after, record)
        relative = str(written.relative_to(after))
        message = commit_message(request, pins, before_pins, summary, gates, source_commit, relative)
        files = {
            str(pins_path(request.target, Path("."))): pins_path(request.target, after).read_text(),
            stack_file(request.target, Path(".")).name: stack_file(request.target, after).read_text(),
            relative: written.read_text(),
        }
        branch = f"promote/{request.target}-{pins.release_id}" + ("-rollback" if request.rollback else "")
        if gitops.branch_exists(request.repo, branch):
            raise ConfigError([problem("branch", f"{branch} exists already: delete it or merge it first", branch)], "promote")
        commit = gitops.commit_files_on_branch(request.repo, branch, files, message)
        return Outcome(
            gates=gates,
            release=pins.release_id,
            branch=branch,
            commit=commit,
            provenance=relative,
            message=message,
            summary=summary,
            pins=pin_rows,
        )
