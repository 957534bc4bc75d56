"""The manifest of a fine-tuned gpt-oss checkpoint: what it was trained from, by whom, on what, and
the SHA-256 of every file, so the plan and the serving pods can refuse weights nobody vouched for.

The manifest travels with the weights (`<prefix>/manifest.json`). The plan validates a local copy
(offline, `served_models.additional[].weights.manifest`); the serving pod's init container
(charts/gpt-oss-serving/files/verify_checkpoint.py) checks every file against it before vLLM loads
anything; `gpt-oss-platform models stage` writes it while uploading.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MANIFEST_NAME = "manifest.json"
CONFIG_NAME = "config.json"
HASH_CHUNK = 8 * 1024 * 1024


class ManifestError(ValueError):
    """A manifest that cannot be read, or files that do not match it; the message says which and why."""


class CheckpointManifest(BaseModel):
    """What `models stage` writes next to a fine-tune's weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = Field(1, description="Manifest format; 1 is the only one.")
    base_model: Literal["gpt-oss-20b", "gpt-oss-120b"] = Field(description="The gpt-oss model the fine-tune started from.")
    base_revision: str = Field(
        pattern=r"^[0-9a-f]{40}$", description="Hugging Face commit of the base weights the training run loaded."
    )
    quantisation: Literal["MXFP4", "BF16"] = Field(
        description="How the MoE expert weights are stored: MXFP4 (as OpenAI ships them) or BF16 (what most "
        "fine-tuning recipes save unless they re-quantise; about 3.6x the memory for 120b)."
    )
    trained_by: str = Field(min_length=2, max_length=200, description="Who ran the training (person or pipeline).")
    trained_at: datetime = Field(description="When the training run finished, with a time zone (ISO 8601).")
    training_data: str = Field(
        min_length=3, max_length=500, description="Reference to the training data (dataset id, s3:// URI, ticket)."
    )
    files: dict[str, str] = Field(min_length=1, description="Relative path -> SHA-256 (hex) of every file of the checkpoint.")

    @field_validator("trained_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-12-01T10:00:00Z")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: dict[str, str]) -> dict[str, str]:
        problems = []
        for path, digest in value.items():
            pure = PurePosixPath(path)
            if pure.is_absolute() or ".." in pure.parts or "\\" in path or not path or path.startswith("./"):
                problems.append(f"{path!r} is not a plain relative path inside the checkpoint")
            elif path == MANIFEST_NAME:
                problems.append(f"{MANIFEST_NAME} cannot list itself")
            if not (len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
                problems.append(f"{path!r}: {digest!r} is not a lower-case hex SHA-256")
        if CONFIG_NAME not in value:
            problems.append(f"{CONFIG_NAME} is missing: the plan sizes the checkpoint from it")
        if problems:
            raise ValueError("; ".join(problems))
        return value


def parse_manifest(text: str, where: str) -> CheckpointManifest:
    """The manifest in `text`, or ManifestError naming `where`, the field and the fix."""
    try:
        return CheckpointManifest.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        raise ManifestError(f"{where}: not JSON ({error.msg} at line {error.lineno})") from None
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise ManifestError(f"{where}: invalid checkpoint manifest: {details}") from None


def load_manifest(path: Path) -> CheckpointManifest:
    try:
        text = path.read_text()
    except OSError as error:
        raise ManifestError(
            f"{path}: cannot read the checkpoint manifest ({error.strerror}); copy <prefix>/{MANIFEST_NAME} from the "
            "bucket or write it with `gpt-oss-platform models stage`"
        ) from None
    return parse_manifest(text, str(path))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_files(directory: Path) -> list[str]:
    """Every file under `directory` (relative POSIX paths, sorted), the manifest excluded."""
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.relative_to(directory).as_posix() != MANIFEST_NAME
    )


def file_problems(manifest: CheckpointManifest, directory: Path) -> list[str]:
    """What does not match: missing files, digests that differ, files the manifest does not list."""
    problems = []
    for path, expected in sorted(manifest.files.items()):
        local = directory / path
        if not local.is_file():
            problems.append(f"{path}: listed in the manifest but missing")
            continue
        actual = sha256_file(local)
        if actual != expected:
            problems.append(f"{path}: sha256 {actual} but the manifest says {expected}")
    listed = set(manifest.files)
    problems += [f"{path}: present but not in the manifest" for path in checkpoint_files(directory) if path not in listed]
    return problems


def verify_directory(manifest: CheckpointManifest, directory: Path) -> None:
    problems = file_problems(manifest, directory)
    if problems:
        raise ManifestError(f"{directory}: the checkpoint does not match its manifest: " + "; ".join(problems))


def build_manifest(
    directory: Path,
    base_model: str,
    base_revision: str,
    quantisation: str,
    trained_by: str,
    trained_at: datetime,
    training_data: str,
) -> CheckpointManifest:
    """The manifest of the checkpoint in `directory` (hashes every file), validated."""
    files = {path: sha256_file(directory / path) for path in checkpoint_files(directory)}
    payload = {
        "base_model": base_model,
        "base_revision": base_revision,
        "quantisation": quantisation,
        "trained_by": trained_by,
        "trained_at": trained_at.isoformat(),
        "training_data": training_data,
        "files": files,
    }
    return parse_manifest(json.dumps(payload), str(directory))
