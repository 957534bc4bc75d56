"""A tiny fine-tuned checkpoint on disk: the real gpt-oss config.json shape, stand-in weight files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.models.checkpoint import STOCK_CONFIGS
from infra.models.manifest import MANIFEST_NAME, build_manifest

BASE_REVISION = load_catalog().models["gpt-oss-20b"].default_revision


def write_checkpoint(directory: Path, base: str = "gpt-oss-20b", quantisation: str = "MXFP4") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = dict(STOCK_CONFIGS[base])
    if quantisation == "BF16":
        config.pop("quantization_config")
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    (directory / "model-00001-of-00002.safetensors").write_bytes(b"\x01" * 4096)
    (directory / "model-00002-of-00002.safetensors").write_bytes(b"\x02" * 2048)
    (directory / "tokenizer").mkdir(exist_ok=True)
    (directory / "tokenizer" / "tokenizer.json").write_text('{"version": "1.0"}')
    manifest = build_manifest(
        directory,
        base_model=base,
        base_revision=BASE_REVISION,
        quantisation=quantisation,
        trained_by="ml-platform fine-tuning pipeline",
        trained_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        training_data="s3://corp-datasets/support-tickets/2026-11 (ticket DATA-1423)",
    )
    (directory / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2))
    return directory


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return write_checkpoint(tmp_path / "ft-20b")


@pytest.fixture
def s3(monkeypatch):
    """S3 mocked in-process by moto, with the environment's weights bucket."""
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


BUCKET = "gpt-oss-dev-weights-example"
