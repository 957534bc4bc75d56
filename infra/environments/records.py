"""Smoke records (written by `gpt-oss-platform smoke` after a deploy) and promotion records
(provenance, written by `gpt-oss-platform promote`): typed, so the writer and the promotion gates
read the same format (docs/environments.md, "Smoke records" and "Provenance").

Smoke records live under `<records>/<env>/smoke/`, one JSON file each, named
`<finished_at>-<release>.json` (`smoke_record_path`); `--records` defaults to build/records
(CI syncs it from durable storage, see docs/environments.md). Promotion records are committed:
`environments/provenance/<target>/<promoted_at>-<release>.json`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from infra.environments.pins import ReleasePins

RECORD_SCHEMA = 1
SMOKE_DIR = "smoke"
PROVENANCE_DIR = Path("environments") / "provenance"


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
    gates: list[GateResult]
    smoke_record: SmokeRecord | None = Field(default=None, description="The source's smoke record the gate accepted.")
    plan: dict[str, Any] = Field(default_factory=dict, description="Target plan summary: resources and cost, before/after.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def smoke_record_path(records: Path, record: SmokeRecord) -> Path:
    return records / record.environment / SMOKE_DIR / f"{stamp(record.finished_at)}-{record.release}.json"


def write_smoke_record(records: Path, record: SmokeRecord) -> Path:
    """Write `record` where the promotion gates look for it; the path written."""
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
