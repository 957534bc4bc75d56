"""Promotion on a scratch repository: the commit it produces, and each gate refusing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from cli.__main__ import main as cli_main
from infra.config.errors import ConfigError
from infra.environments.overview import promoted
from infra.environments.pin_updates import set_pins
from infra.environments.pins import load_pins
from infra.environments.promote import Promotion, promote
from infra.environments.records import PromotionRecord
from support.environments import DIGEST, RECORDS_KEY, ci_environ, git

OTHER_DIGEST = "sha256:" + "cd" * 32


def commit_pins(repo: Path, env: str, digest: str) -> None:
    set_pins(env, repo, gateway_digest=digest)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{env}: gateway {digest[:15]}")


def run(repo: Path, records: Path, source: str, target: str, **options) -> object:
    options.setdefault("records_key", RECORDS_KEY.encode())
    return promote(Promotion(source=source, target=target, repo=repo, records=records, now=datetime.now(UTC), **options))


def gate(outcome, name: str):
    (found,) = [g for g in outcome.gates if g.name == name]
    return found


def test_dev_to_staging_produces_the_promotion_commit_on_a_new_branch(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=3)
    head = git(repo, "rev-parse", "HEAD").strip()
    outcome = run(repo, records, "dev", "staging")
    assert outcome.ok, outcome.failed
    release = load_pins("dev", repo).release_id
    assert outcome.branch == f"promote/staging-{release}" and outcome.release == release
    # The user's checkout is untouched: same branch, same HEAD, clean tree.
    assert git(repo, "rev-parse", "HEAD").strip() == head and git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "rev-parse", f"{outcome.branch}^").strip() == head
    changed = git(repo, "diff", "--name-only", head, outcome.branch).split()
    # The pins and the stack file generated from them (the gateway digest reaches gateway.image.digest).
    assert changed == ["Pulumi.staging.yaml", "environments/pins/staging.yaml", outcome.provenance]
    staged_stack = yaml.safe_load(git(repo, "show", f"{outcome.branch}:Pulumi.staging.yaml"))
    assert staged_stack["config"]["gpt-oss-platform:environment"]["gateway"]["image"]["digest"] == DIGEST
    staged_pins = yaml.safe_load(git(repo, "show", f"{outcome.branch}:environments/pins/staging.yaml"))
    assert staged_pins["gateway_image"]["digest"] == DIGEST
    message = git(repo, "log", "-1", "--format=%B", outcome.branch)
    assert message.startswith(f"promote staging to {release} (from dev)")
    for fragment in (
        "gateway image digest: (none) -> " + DIGEST,
        "Resources (staging's offline plan):",
        "Monthly cost: floor $",
        "smoke: passed",
        "soak: passed",
        "plan: passed",
        f"Source commit: {head}",
        "Promotion: dev -> staging",
    ):
        assert fragment in message, fragment
    record = PromotionRecord.model_validate_json(git(repo, "show", f"{outcome.branch}:{outcome.provenance}"))
    assert record.source_commit == head and record.release == release and record.actor == "Release Manager"
    assert [g.name for g in record.gates] == ["stage-order", "pins", "checkout", "smoke", "soak", "plan"]
    assert all(g.passed for g in record.gates) and record.smoke_record.release == release
    assert record.previous_pins == load_pins("staging", repo)


def test_a_missing_smoke_record_is_refused_by_the_smoke_gate(scratch_repo, smoke, tmp_path, capsys):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    smoke(repo, "staging", hours_ago=30)  # another environment's record does not count
    code = cli_main(["promote", "--from", "dev", "--to", "staging", "--repo", str(repo), "--records", str(tmp_path / "records")])
    out = capsys.readouterr()
    assert code == 1
    assert "FAILED smoke: dev holds no smoke record for release" in out.out
    assert "refused by gate(s): smoke, soak" in out.err
    assert git(repo, "branch", "--list", "promote/*") == ""


def test_a_smoke_record_of_another_release_does_not_count(scratch_repo, smoke):
    repo = scratch_repo
    records = smoke(repo, "dev", hours_ago=30)  # for dev's release before the new digest
    commit_pins(repo, "dev", DIGEST)
    outcome = run(repo, records, "dev", "staging")
    assert not outcome.ok and not gate(outcome, "smoke").passed
    assert "(1 record(s) of other releases)" in gate(outcome, "smoke").detail


def test_an_unfinished_soak_is_refused_by_the_soak_gate(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=0.5)
    outcome = run(repo, records, "dev", "staging")
    assert gate(outcome, "smoke").passed and not gate(outcome, "soak").passed
    assert "0.5 h of the dev tier's 2 h; wait 1.5 h more" in gate(outcome, "soak").detail
    assert outcome.branch is None and gate(outcome, "plan").detail.startswith("not run")


def test_a_failed_smoke_test_restarts_the_soak(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    smoke(repo, "dev", hours_ago=10)
    smoke(repo, "dev", hours_ago=5, passed=False)
    records = smoke(repo, "dev", hours_ago=1)
    outcome = run(repo, records, "dev", "staging")
    assert gate(outcome, "smoke").passed and not gate(outcome, "soak").passed


def test_the_latest_failed_smoke_record_refuses(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    smoke(repo, "dev", hours_ago=10)
    records = smoke(repo, "dev", hours_ago=1, passed=False)
    outcome = run(repo, records, "dev", "staging")
    assert "failed: stream" in gate(outcome, "smoke").detail and not outcome.ok


def test_a_skipped_stage_is_refused_and_force_needs_a_reason(scratch_repo, smoke, capsys):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=3)
    outcome = run(repo, records, "dev", "prod")
    stage = gate(outcome, "stage-order")
    assert not stage.passed and "dev (dev) -> prod (prod) skips a stage" in stage.detail
    assert outcome.branch is None
    code = cli_main(["promote", "--from", "dev", "--to", "prod", "--force", "--repo", str(repo), "--records", str(records)])
    assert code == 2 and "--reason: required with --force" in capsys.readouterr().err


def test_a_forced_skip_is_recorded_with_its_reason(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=3)
    outcome = run(repo, records, "dev", "prod", force=True, reason="CVE fix in the gateway image")
    assert outcome.ok, outcome.failed
    record = PromotionRecord.model_validate_json(git(repo, "show", f"{outcome.branch}:{outcome.provenance}"))
    assert record.forced and record.reason == "CVE fix in the gateway image"
    assert "forced: CVE fix" in gate(outcome, "stage-order").detail
    assert "FORCED: CVE fix in the gateway image" in git(repo, "log", "-1", "--format=%B", outcome.branch)


def test_a_release_without_a_gateway_digest_is_a_gate_failure_not_a_crash(scratch_repo, smoke):
    repo = scratch_repo
    records = smoke(repo, "dev", hours_ago=3)
    outcome = run(repo, records, "dev", "staging")
    pins = gate(outcome, "pins")
    assert not pins.passed and "the staging tier deploys images by digest only" in pins.detail
    assert "gateway image ghcr.io/example/gpt-oss-gateway:0.1.0 has no digest" in pins.detail


def test_a_release_this_checkout_does_not_deploy_is_refused(scratch_repo, smoke):
    repo = scratch_repo
    path = repo / "environments" / "pins" / "dev.yaml"
    data = yaml.safe_load(path.read_text())
    data["chart"]["version"] = "9.9.9"
    data["gateway_image"]["digest"] = DIGEST
    path.write_text(yaml.safe_dump(data))
    git(repo, "commit", "-qam", "chart 9.9.9")
    records = smoke(repo, "dev", hours_ago=3)
    outcome = run(repo, records, "dev", "staging")
    assert "chart gpt-oss-serving 9.9.9 differs from this checkout's" in gate(outcome, "checkout").detail


def test_rollback_promotes_the_previous_release_through_the_same_gates(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    commit_pins(repo, "staging", DIGEST)
    first = load_pins("dev", repo)
    smoke(repo, "dev", hours_ago=40)  # the first release passed in dev long ago
    commit_pins(repo, "dev", OTHER_DIGEST)
    records = smoke(repo, "dev", hours_ago=3)
    outcome = run(repo, records, "dev", "staging")
    assert outcome.ok, outcome.failed
    git(repo, "merge", "-q", "--ff-only", outcome.branch)
    assert load_pins("staging", repo).gateway_image.digest == OTHER_DIGEST
    back = run(repo, records, "dev", "staging", rollback=True)
    assert back.ok, back.failed
    assert back.release == first.release_id and back.branch.endswith("-rollback")
    assert gate(back, "rollback").detail == f"to staging's previous release {first.release_id}"
    assert yaml.safe_load(git(repo, "show", f"{back.branch}:environments/pins/staging.yaml"))["gateway_image"]["digest"] == DIGEST
    assert git(repo, "log", "-1", "--format=%s", back.branch).startswith(f"roll back staging to {first.release_id}")
    # Merging the rollback deploys staging (deploy.yml: `envs promoted`); a `git revert` of the
    # promotion adds no record and deploys nothing.
    before = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "revert", "--no-edit", "HEAD")
    assert promoted(repo, before)["environments"] == []
    git(repo, "reset", "-q", "--hard", before)
    git(repo, "merge", "-q", "--ff-only", back.branch)
    assert promoted(repo, before) == {"environments": ["staging"], "releases": {"staging": first.release_id}, "refused": []}


def test_rollback_without_history_is_refused(scratch_repo, smoke):
    repo = scratch_repo
    outcome = run(repo, smoke(repo, "dev", hours_ago=3), "dev", "staging", rollback=True)
    assert not outcome.ok and "has no earlier release recorded" in gate(outcome, "rollback").detail


def test_bad_input_is_exit_2_before_any_gate(scratch_repo, tmp_path, capsys):
    assert cli_main(["promote", "--from", "dev", "--to", "qa", "--repo", str(scratch_repo), "--records", str(tmp_path)]) == 2
    assert "--to: no environment 'qa' at HEAD" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        run(scratch_repo, tmp_path, "dev", "dev")


def test_the_json_outcome_names_every_gate(scratch_repo, tmp_path, capsys):
    code = cli_main(
        ["promote", "--from", "dev", "--to", "staging", "--repo", str(scratch_repo), "--records", str(tmp_path), "--json"]
    )
    outcome = json.loads(capsys.readouterr().out)
    assert code == 1 and outcome["ok"] is False and outcome["branch"] is None
    assert [g["name"] for g in outcome["gates"]] == ["stage-order", "pins", "checkout", "smoke", "soak", "plan"]


# --- Gates that mean something (issue #19, item 7) -------------------------------------------------


def test_a_hand_written_smoke_record_is_refused(scratch_repo, smoke):
    """A record with no CI binding (what anyone can write by hand) never counts."""
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=30, environ={})
    outcome = run(repo, records, "dev", "staging")
    detail = gate(outcome, "smoke").detail
    assert not outcome.ok and "not bound to a CI run" in detail and outcome.branch is None


def test_an_edited_smoke_record_fails_its_signature(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=30, passed=False)
    (path,) = (records / "dev" / "smoke").glob("*.json")
    data = json.loads(path.read_text())
    data["passed"] = True
    data["checks"] = [dict(check, passed=True, detail="") for check in data["checks"]]
    path.write_text(json.dumps(data))
    outcome = run(repo, records, "dev", "staging")
    assert "signature does not verify" in gate(outcome, "smoke").detail and not outcome.ok
    # And without the key nothing can be verified: refused, saying why.
    unkeyed = run(repo, records, "dev", "staging", records_key=None)
    assert "GPT_OSS_RECORDS_KEY is not set here" in gate(unkeyed, "smoke").detail


def test_a_record_from_a_commit_outside_the_history_is_refused(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    environ = ci_environ(repo) | {"GITHUB_SHA": "f" * 40}
    records = smoke(repo, "dev", hours_ago=30, environ=environ)
    detail = gate(run(repo, records, "dev", "staging"), "smoke").detail
    assert f"commit {'f' * 12} of CI run 4242 is not in this repository's history" in detail


def test_a_null_ray_image_digest_is_a_gate_failure_for_staging(scratch_repo, smoke):
    repo = scratch_repo
    path = repo / "environments" / "pins" / "dev.yaml"
    data = yaml.safe_load(path.read_text())
    data["ray_image"]["digest"] = None
    data["gateway_image"]["digest"] = DIGEST
    path.write_text(yaml.safe_dump(data))
    git(repo, "commit", "-qam", "no ray digest")
    outcome = run(repo, smoke(repo, "dev", hours_ago=30), "dev", "staging")
    pins = gate(outcome, "pins")
    assert not pins.passed and "Ray image rayproject/ray-llm:" in pins.detail and "has no digest" in pins.detail
    assert "gateway image" not in pins.detail


def test_force_still_needs_a_passing_smoke_record(scratch_repo, smoke):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=30, passed=False)
    outcome = run(repo, records, "dev", "prod", force=True, reason="hotfix")
    assert gate(outcome, "stage-order").passed and not gate(outcome, "smoke").passed and outcome.branch is None


def test_dry_run_shows_gates_pins_and_cost_and_commits_nothing(scratch_repo, smoke, capsys, monkeypatch):
    repo = scratch_repo
    commit_pins(repo, "dev", DIGEST)
    records = smoke(repo, "dev", hours_ago=30)
    branches = git(repo, "branch", "--list")
    monkeypatch.setenv("GPT_OSS_RECORDS_KEY", RECORDS_KEY)
    argv = ["promote", "--from", "dev", "--to", "staging", "--dry-run", "--repo", str(repo), "--records", str(records)]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    for fragment in ("ok     smoke:", "ok     plan:", "gateway image digest: (none) -> " + DIGEST, "Monthly cost: floor $"):
        assert fragment in out, fragment
    assert "nothing committed" in out
    assert git(repo, "branch", "--list") == branches and git(repo, "status", "--porcelain") == ""
