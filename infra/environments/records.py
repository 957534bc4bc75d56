"""Smoke records (written by `gpt-oss-platform smoke` after a deploy) and promotion records
(provenance, written by `gpt-oss-platform promote`): typed, so the writer and the promotion gates
read the same format (docs/environments.md, "Smoke records" and "Provenance").

Smoke records live under `<records>/<env>/smoke/`, one JSON file each, named
`<finished_at>-<release>.json` (`smoke_record_path`); `--records` defaults to build/records
(CI syncs it from durable storage, see docs/environments.md). Promotion records are committed:
`environments/provenance/<target>/<promoted_at>-<release>.json`.

Binding (docs/environments.md, "Smoke records"): a smoke record written in CI carries the run that
produced it (`ci`: repository, run id and attempt, commit, workflow) and an HMAC-SHA256 over the
whole record under the records key (`GPT_OSS_RECORDS_KEY`, a secret of the deploy and promotion
GitHub environments). `promote` accepts only a bound record whose signature verifies, whose commit
is in the repository's history and whose pins are the release's: a record written by hand, or
edited after CI signed it, is refused. Offline, with the key and the repository, all of that is
checked; that the run id names a real run of deploy.yml is only checkable against GitHub's API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from infra.environments.pins import ReleasePins

RECORD_SCHEMA = 1
SMOKE_DIR = "smoke"
PROVENANCE_DIR = Path("environments") / "provenance"
# The records key: deploy.yml signs with it, promote verifies with it (never written anywhere).
RECORDS_KEY_ENV = "GPT_OSS_RECORDS_KEY"
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def stamp(moment: datetime) -> str:
    """A file-name-safe UTC timestamp that sorts in time order: 20261130T120000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class SmokeCheck(_Strict):
    """One check of the smoke test (chat, stream, tool call, reasoning effort, harmony, drain...)."""

    name: str = Field(min_length=1, description="Check name, e.g. `chat`, `stream`, `tool_call`, `drain_to_managed`.")
    passed: bool
    detail: str = Field("", description="What was seen; on failure, why. Never a key or a prompt's secret.")
    served_by: str | None = Field(None, description="`x-gateway-served-by` of the answer (self-hosted / managed).")
    duration_ms: float | None = Field(None, ge=0)
    ttft_ms: float | None = Field(None, ge=0, description="Time to first token, streamed checks.")
    tokens_per_s: float | None = Field(None, ge=0, description="Completion tokens per second, streamed checks.")


class CiBinding(_Strict):
    """The CI run that produced a record (GitHub Actions' default variables)."""

    repository: str = Field(min_length=1, description="`GITHUB_REPOSITORY`, owner/name.")
    run_id: str = Field(pattern=r"^[0-9]+$", description="`GITHUB_RUN_ID` of the run that deployed and smoke-tested.")
    run_attempt: str = Field(default="1", pattern=r"^[0-9]+$", description="`GITHUB_RUN_ATTEMPT`.")
    commit: str = Field(description="`GITHUB_SHA`: the commit the run deployed (40 hex).")
    workflow: str = Field(default="", description="`GITHUB_WORKFLOW`, for people.")

    @model_validator(mode="after")
    def _commit(self) -> CiBinding:
        if not COMMIT_RE.match(self.commit):
            raise ValueError(f"commit must be a 40-hex git commit (got {self.commit!r})")
        return self


def ci_binding_from_env(environ: Mapping[str, str]) -> CiBinding | None:
    """The binding of this process's CI run, or None outside GitHub Actions."""
    if environ.get("GITHUB_ACTIONS") != "true" or not environ.get("GITHUB_RUN_ID"):
        return None
    return CiBinding(
        repository=environ.get("GITHUB_REPOSITORY", ""),
        run_id=environ["GITHUB_RUN_ID"],
        run_attempt=environ.get("GITHUB_RUN_ATTEMPT", "1"),
        commit=environ.get("GITHUB_SHA", ""),
        workflow=environ.get("GITHUB_WORKFLOW", ""),
    )


class SmokeRecord(_Strict):
    """The result of one smoke run against one environment's gateway, for one release."""

    schema_: int = Field(default=RECORD_SCHEMA, alias="schema")
    kind: Literal["smoke"] = "smoke"
    environment: str = Field(min_length=1)
    release: str = Field(description="ReleasePins.release_id of `pins`; checked against them.")
    pins: ReleasePins = Field(description="The pins of the environment when the smoke test ran.")
    url: str = Field(description="Gateway base URL tested (no credentials).")
    started_at: AwareDatetime
    finished_at: AwareDatetime
    checks: list[SmokeCheck] = Field(min_length=1)
    passed: bool = Field(description="True exactly when every check passed.")
    host: str = Field(default="", description="Machine the smoke test ran on.")
    ci: CiBinding | None = Field(
        default=None, description="The CI run that produced the record; null outside CI (not promotable)."
    )
    signature: str | None = Field(
        default=None, description="HMAC-SHA256 (hex) of the record without this field, under the records key; null when unsigned."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> SmokeRecord:
        if self.release != self.pins.release_id:
            raise ValueError(f"release {self.release} is not the id of its pins ({self.pins.release_id})")
        if self.passed != all(check.passed for check in self.checks):
            raise ValueError("passed must be true exactly when every check passed")
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self


class GateResult(_Strict):
    """One promotion gate and what it found."""

    name: str
    passed: bool
    detail: str


class PromotionRecord(_Strict):
    """Provenance of one promotion: what moved where, from which commit, through which gates."""

    schema_: int = Field(default=RECORD_SCHEMA, alias="schema")
    kind: Literal["promotion"] = "promotion"
    source: str
    target: str
    release: str
    pins: ReleasePins
    previous_release: str | None
    previous_pins: ReleasePins | None
    rollback: bool = False
    source_commit: str = Field(description="Commit of the repository the promotion started from.")
    promoted_at: AwareDatetime
    actor: str = Field(default="", description="git user.name of whoever ran the promotion.")
    forced: bool = False
    reason: str | None = Field(default=None, description="Required with --force: why a stage was skipped.")
    ci: CiBinding | None = Field(default=None, description="The CI run that made the promotion (promote.yml); null by hand.")
    gates: list[GateResult]
    smoke_record: SmokeRecord | None = Field(default=None, description="The source's smoke record the gate accepted.")
    plan: dict[str, Any] = Field(default_factory=dict, description="Target plan summary: resources and cost, before/after.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def record_signature(record: SmokeRecord, key: bytes) -> str:
    """HMAC-SHA256 of the record's canonical JSON, the signature left out."""
    data = record.model_dump(mode="json", by_alias=True)
    data.pop("signature", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def bind_record(record: SmokeRecord, environ: Mapping[str, str]) -> SmokeRecord:
    """`record` bound to the CI run of `environ` and signed with its records key, when there are."""
    binding = record.ci or ci_binding_from_env(environ)
    bound = record.model_copy(update={"ci": binding, "signature": None})
    key = environ.get(RECORDS_KEY_ENV, "")
    if binding is None or not key:
        return bound
    return bound.model_copy(update={"signature": record_signature(bound, key.encode())})


def binding_problem(record: SmokeRecord, key: bytes | None) -> str | None:
    """Why a record cannot be trusted by the gates (None: bound and its signature verifies).
    The commit is checked against the repository by the caller (it needs git)."""
    if record.ci is None or record.signature is None:
        return "not bound to a CI run (no `ci` and `signature`: written by hand or outside CI)"
    if not key:
        return f"signed, but {RECORDS_KEY_ENV} is not set here: the signature cannot be verified"
    if not hmac.compare_digest(record.signature, record_signature(record, key)):
        return "signature does not verify: edited after CI signed it, or signed with another key"
    return None


def smoke_record_path(records: Path, record: SmokeRecord) -> Path:
    return records / record.environment / SMOKE_DIR / f"{stamp(record.finished_at)}-{record.release}.json"


def write_smoke_record(records: Path, record: SmokeRecord, environ: Mapping[str, str] | None = None) -> Path:
    """Write `record` where the promotion gates look for it, bound to the CI run and signed when
    the process runs in CI with the records key (`bind_record`); the path written."""
    record = bind_record(record, os.environ if environ is None else environ)
    path = smoke_record_path(records, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.model_dump(mode="json", by_alias=True), indent=2) + "\n")
    return path


def read_smoke_records(records: Path, env: str) -> tuple[list[SmokeRecord], list[str]]:
    """Every readable smoke record of `env`, oldest first, and one line per file that is not a
    valid record (a gate reports them; it never trusts a file it cannot read)."""
    found: list[SmokeRecord] = []
    unreadable: list[str] = []
    folder = records / env / SMOKE_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = SmokeRecord.model_validate_json(path.read_text())
        except (ValidationError, OSError, ValueError) as error:
            first = str(error).splitlines()[0]
            unreadable.append(f"{path.name}: {first}")
            continue
        if record.environment != env:
            unreadable.append(f"{path.name}: records environment {record.environment!r}, filed under {env!r}")
            continue
        found.append(record)
    found.sort(key=lambda r: r.finished_at)
    return found, unreadable


def provenance_path(root: Path, record: PromotionRecord) -> Path:
    return root / PROVENANCE_DIR / record.target / f"{stamp(record.promoted_at)}-{record.release}.json"


def write_provenance(root: Path, record: PromotionRecord) -> Path:
    path = provenance_path(root, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.model_dump(mode="json", by_alias=True), indent=2) + "\n")
    return path


def read_provenance(root: Path, env: str) -> list[PromotionRecord]:
    """The promotion records of `env`, oldest first."""
    folder = root / PROVENANCE_DIR / env
    records = (
        [PromotionRecord.model_validate_json(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    )
    return sorted(records, key=lambda r: r.promoted_at)
