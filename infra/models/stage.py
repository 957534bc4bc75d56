"""Stage a local fine-tune into the environment's weights bucket: every file under
`finetunes/<name>/<version>/`, then its manifest last (a reader that finds the manifest finds every
file it lists), then read back and verified: each object's size and a SHA-256 of its bytes.

The manifest is built from the files themselves (infra/models/manifest.py), so what the serving
pods verify (charts/gpt-oss-serving/files/verify_checkpoint.py) is what left this machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.models.checkpoint import CheckpointError, load_config, memory_of_config
from infra.models.manifest import CONFIG_NAME, MANIFEST_NAME, CheckpointManifest, ManifestError, build_manifest

PREFIX_ROOT = "finetunes"
READ_CHUNK = 8 * 1024 * 1024


class StageError(ValueError):
    """A fine-tune that cannot be staged; the message says which file or object and why."""


@dataclass(frozen=True)
class Staged:
    bucket: str
    prefix: str
    manifest: CheckpointManifest

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def prefix_for(name: str, version: str) -> str:
    return f"{PREFIX_ROOT}/{name}/{version}"


def _object_sha256(s3: Any, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    while chunk := body.read(READ_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def stage_checkpoint(
    s3: Any,
    directory: Path,
    bucket: str,
    name: str,
    version: str,
    base_revision: str,
    trained_by: str,
    trained_at: datetime,
    training_data: str,
) -> Staged:
    """Upload `directory` with a manifest built from its files; verify the upload."""
    if not (directory / CONFIG_NAME).is_file():
        raise StageError(f"{directory}: no {CONFIG_NAME}: not a Hugging Face checkpoint directory")
    try:
        config = load_config(directory / CONFIG_NAME)
        memory = memory_of_config(config, str(directory / CONFIG_NAME))
    except CheckpointError as error:
        raise StageError(str(error)) from None
    base = {24: "gpt-oss-20b", 36: "gpt-oss-120b"}.get(config["num_hidden_layers"])
    if base is None:
        raise StageError(
            f"{directory / CONFIG_NAME}: num_hidden_layers {config['num_hidden_layers']} is neither gpt-oss-20b (24) nor -120b (36)"
        )
    try:
        manifest = build_manifest(directory, base, base_revision, memory.quantisation, trained_by, trained_at, training_data)
    except ManifestError as error:
        raise StageError(str(error)) from None
    prefix = prefix_for(name, version)
    existing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/", MaxKeys=1).get("KeyCount", 0)
    if existing:
        raise StageError(
            f"s3://{bucket}/{prefix}/ already holds objects: a staged version is never overwritten; pick a new version"
        )
    for path in manifest.files:
        s3.upload_file(str(directory / path), bucket, f"{prefix}/{path}")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST_NAME}", Body=manifest.model_dump_json(indent=2).encode())
    for path, expected in manifest.files.items():
        actual = _object_sha256(s3, bucket, f"{prefix}/{path}")
        if actual != expected:
            raise StageError(f"s3://{bucket}/{prefix}/{path}: read back sha256 {actual}, uploaded {expected}")
    return Staged(bucket, prefix, manifest)
