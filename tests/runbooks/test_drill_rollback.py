"""Drill: roll back a bad release (runbooks/prod/procedures/roll-back-a-release.md), on a scratch
fixture repository (tests/support/environments.py) as the release manager would:

1. drain prod to managed (`gpt-oss-platform drain --env prod --route managed`, over the fake
   Kubernetes API, two prod gateways watching the switch);
2. `gpt-oss-platform promote --to prod --rollback` (the runbook's command, with --repo/--records
   pointing at the scratch repository): prod's pins move back to the previous release on a branch,
   with a promotion record; merging it is what deploy.yml's `changes` job acts on
   (`envs promoted --base <before>` names prod, tests/workflows checks the job reads it so);
3. un-drain (`--route auto`) and `gpt-oss-platform smoke`, which passes on self-hosted.

`make plan ENV=prod` and `pulumi up` are not run here (no cloud): the plan of the rolled-back
pins is the promotion's own `plan` gate, which the rollback passes through.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from cli.__main__ import main
from contracts import HEADER_SERVED_BY
from infra.environments.overview import promoted
from infra.environments.pin_updates import set_pins
from infra.environments.pins import load_pins
from infra.environments.records import SmokeCheck, SmokeRecord, write_smoke_record
from support.environments import DIGEST, RECORDS_KEY, build_environments, ci_environ, git
from support.fake_kube_api import FakeKubeApi
from tests.runbooks.drill_gateways import PROD_CLUSTER_ARN, start_drain_watching_gateways
from tests.runbooks.test_drill_hung_engine import VllmGptOss
from tests.serving.fake_openai import FakeOpenAI
from tests.serving.harness import (
    KEYS,
    MANAGED_API_KEY,
    PUBLIC_MODEL,
    RunningGateway,
    wait_until,
)

pytestmark = pytest.mark.slow

BAD_DIGEST = "sha256:" + "cd" * 32


def commit_pins(repo: Path, env: str, digest: str) -> None:
    set_pins(env, repo, gateway_digest=digest)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{env}: gateway {digest[:15]}")


def smoke_record(repo: Path, records: Path, env: str, hours_ago: float) -> None:
    """A passed smoke record of `env`'s current pins, bound to a CI run and signed (as CI writes it)."""
    pins = load_pins(env, repo)
    finished = datetime.now(UTC) - timedelta(hours=hours_ago)
    write_smoke_record(
        records,
        SmokeRecord(
            environment=env,
            release=pins.release_id,
            pins=pins,
            url=f"https://gateway.{env}.example.com/v1",
            started_at=finished - timedelta(minutes=1),
            finished_at=finished,
            checks=[SmokeCheck(name="chat", passed=True, served_by="self-hosted", duration_ms=800.0)],
            passed=True,
            host="test",
        ),
        environ=ci_environ(repo),
    )


def promote(repo: Path, records: Path, *args: str) -> int:
    return main(["promote", *args, "--repo", str(repo), "--records", str(records)])


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi().start()
    yield api
    api.stop()


@pytest.fixture
def kubeconfig(kube: FakeKubeApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    kube.write_kubeconfig(path, cluster_name=PROD_CLUSTER_ARN)
    return path


@pytest.fixture
def gateways(kube, tmp_path) -> Iterator[list[RunningGateway]]:
    primary = VllmGptOss("self-hosted").start()
    managed = FakeOpenAI("managed", api_key=MANAGED_API_KEY, usage_null_in_chunks=True).start()
    running = start_drain_watching_gateways(kube, primary.base_url, managed.base_url, tmp_path)
    yield running
    for gateway in running:
        gateway.stop()
    primary.stop()
    managed.stop()


def test_drill_roll_back_a_bad_release(kube, kubeconfig, gateways, tmp_path, monkeypatch, capsys):
    repo = build_environments(tmp_path / "repo")
    records = tmp_path / "records"
    monkeypatch.setenv("GPT_OSS_RECORDS_KEY", RECORDS_KEY)
    # The release manager's laptop, not a CI job (even when this suite runs in one).
    for key in ci_environ(repo):
        if key != "GPT_OSS_RECORDS_KEY":
            monkeypatch.delenv(key, raising=False)
    # The good release reached prod through staging; then the bad one did.
    commit_pins(repo, "staging", DIGEST)
    smoke_record(repo, records, "staging", hours_ago=200)
    assert promote(repo, records, "--from", "staging", "--to", "prod") == 0, capsys.readouterr()
    git(repo, "merge", "-q", "--ff-only", f"promote/prod-{load_pins('staging', repo).release_id}")
    good = load_pins("prod", repo)
    commit_pins(repo, "staging", BAD_DIGEST)
    smoke_record(repo, records, "staging", hours_ago=100)
    assert promote(repo, records, "--from", "staging", "--to", "prod") == 0, capsys.readouterr()
    git(repo, "merge", "-q", "--ff-only", f"promote/prod-{load_pins('staging', repo).release_id}")
    assert load_pins("prod", repo).gateway_image.digest == BAD_DIGEST
    capsys.readouterr()

    # Step 1: drain prod to managed.
    reason = "rollback of " + load_pins("prod", repo).release_id
    assert main(["drain", "--env", "prod", "--route", "managed", "--reason", reason, "--kubeconfig", str(kubeconfig)]) == 0
    for gateway in gateways:
        wait_until(lambda g=gateway: g.metric("gateway_route_override", route="managed") == 1, timeout=3)
        assert gateway.chat().headers[HEADER_SERVED_BY] == "managed"

    # Step 2: the runbook's rollback; the merge of its branch is what deploys.
    before = git(repo, "rev-parse", "HEAD").strip()
    assert promote(repo, records, "--to", "prod", "--rollback") == 0, capsys.readouterr()
    branch = f"promote/prod-{good.release_id}-rollback"
    git(repo, "merge", "-q", "--ff-only", branch)
    rolled_back = load_pins("prod", repo)
    assert rolled_back == good and rolled_back.gateway_image.digest == DIGEST
    stack = yaml.safe_load((repo / "Pulumi.prod.yaml").read_text())
    assert stack["config"]["gpt-oss-platform:environment"]["gateway"]["image"]["digest"] == DIGEST
    assert git(repo, "log", "-1", "--format=%s").startswith(f"roll back prod to {good.release_id}")
    # deploy.yml's `changes` job: `envs promoted --base ${BEFORE}` must name prod, or nothing deploys.
    assert promoted(repo, before) == {"environments": ["prod"], "releases": {"prod": good.release_id}, "refused": []}

    # Step 3: un-drain, then the smoke test, as the runbook says.
    assert (
        main(["drain", "--env", "prod", "--route", "auto", "--reason", "rollback deployed", "--kubeconfig", str(kubeconfig)]) == 0
    )
    for gateway in gateways:
        wait_until(lambda g=gateway: g.metric("gateway_route_override", route="auto") == 1, timeout=3)
    capsys.readouterr()
    key_file = tmp_path / "smoke.key"
    key_file.write_text(KEYS["app"] + "\n")
    smoke_records = tmp_path / "smoke-records"
    code = main(
        [
            "smoke",
            "--url",
            gateways[0].base_url + "/v1",
            "--key-file",
            str(key_file),
            "--env",
            "prod",
            "--model",
            PUBLIC_MODEL,
            "--records",
            str(smoke_records),
            "--kubeconfig",
            str(kubeconfig),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    record = json.loads(next((smoke_records / "prod" / "smoke").glob("*.json")).read_text())
    assert record["passed"] is True
    assert {c["served_by"] for c in record["checks"] if c.get("served_by")} == {"self-hosted"}
