"""`gpt-oss-platform models stage` round-trips a fine-tune through S3 (moto), and the serving pods'
init container (charts/gpt-oss-serving/files/verify_checkpoint.py) fetches it back, refusing a
planted bad file, an object nobody listed, and a local copy that no longer matches."""

from __future__ import annotations

import importlib.util
import json

import pytest

from cli.__main__ import main
from infra.models.manifest import MANIFEST_NAME, load_manifest
from infra.paths import CHART_DIR
from tests.infra.models.conftest import BUCKET

PREFIX = "finetunes/support-20b/2026-12-01"


def load_script():
    spec = importlib.util.spec_from_file_location("verify_checkpoint", CHART_DIR / "files" / "verify_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verify_checkpoint = load_script()


def stage(checkpoint, copies, *extra: str) -> int:
    return main(
        [
            "models",
            "stage",
            str(checkpoint),
            "--bucket",
            BUCKET,
            "--name",
            "support-20b",
            "--version",
            "2026-12-01",
            "--trained-by",
            "ml-platform pipeline",
            "--trained-at",
            "2026-12-01T10:00:00Z",
            "--training-data",
            "s3://corp-datasets/support/2026-11",
            "--copies",
            str(copies),
            *extra,
        ]
    )


@pytest.fixture
def staged(s3, checkpoint, tmp_path, capsys):
    (checkpoint / MANIFEST_NAME).unlink()  # `models stage` writes the manifest itself
    assert stage(checkpoint, tmp_path / "copies") == 0
    return capsys.readouterr().out


def test_stage_uploads_every_file_and_the_manifest_and_prints_the_config_entry(staged, s3, checkpoint, tmp_path):
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"])
    assert keys == [
        f"{PREFIX}/config.json",
        f"{PREFIX}/manifest.json",
        f"{PREFIX}/model-00001-of-00002.safetensors",
        f"{PREFIX}/model-00002-of-00002.safetensors",
        f"{PREFIX}/tokenizer/tokenizer.json",
    ]
    manifest = load_manifest(tmp_path / "copies" / MANIFEST_NAME)
    remote = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/manifest.json")["Body"].read())
    assert remote["files"] == manifest.files and remote["trained_by"] == "ml-platform pipeline"
    assert (manifest.base_model, manifest.quantisation) == ("gpt-oss-20b", "MXFP4")
    assert (tmp_path / "copies" / "config.json").read_bytes() == (checkpoint / "config.json").read_bytes()
    assert f"prefix: {PREFIX}" in staged and "base: gpt-oss-20b" in staged


def test_a_staged_version_is_never_overwritten(staged, checkpoint, tmp_path, capsys):
    assert stage(checkpoint, tmp_path / "copies") == 2  # bad input: nothing changed
    assert "already holds objects" in capsys.readouterr().err


def test_bad_arguments_are_refused_before_anything_is_uploaded(s3, checkpoint, tmp_path, capsys):
    assert stage(checkpoint, tmp_path / "c", "--trained-at", "2026-12-01T10:00:00") == 2  # the later flag wins
    assert "has no time zone" in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_the_init_container_fetches_and_verifies_what_was_staged(staged, tmp_path):
    dest = tmp_path / "pod" / "support-20b"
    assert verify_checkpoint.main(["--source", f"s3://{BUCKET}/{PREFIX}", "--dest", str(dest)]) == 0
    assert (dest / "model-00002-of-00002.safetensors").read_bytes() == b"\x02" * 2048
    assert verify_checkpoint.main(["--verify-only", "--dest", str(dest)]) == 0


def test_a_planted_bad_file_in_the_bucket_fails_the_pod_and_leaves_nothing_behind(staged, s3, tmp_path, capsys):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/model-00002-of-00002.safetensors", Body=b"\x02" * 2047 + b"\xff")
    dest = tmp_path / "pod"
    assert verify_checkpoint.main(["--source", f"s3://{BUCKET}/{PREFIX}", "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "model-00002-of-00002.safetensors: sha256" in err and "is not the manifest's" in err
    assert not (dest / "model-00002-of-00002.safetensors").exists()
    assert not list(dest.glob(".*.partial")), "no partial file may remain"


def test_an_object_the_manifest_does_not_list_is_refused(staged, s3, tmp_path, capsys):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/model-00003-of-00002.safetensors", Body=b"smuggled")
    assert verify_checkpoint.main(["--source", f"s3://{BUCKET}/{PREFIX}", "--dest", str(tmp_path / "pod")]) == 1
    assert "objects not in the manifest: model-00003-of-00002.safetensors" in capsys.readouterr().err


def test_a_local_copy_with_a_planted_bad_file_is_refused(checkpoint, capsys):
    (checkpoint / "tokenizer" / "tokenizer.json").write_text('{"version": "evil"}')
    assert verify_checkpoint.main(["--verify-only", "--dest", str(checkpoint)]) == 1
    assert "tokenizer/tokenizer.json: sha256" in capsys.readouterr().err


def test_the_init_container_refuses_a_source_that_is_not_s3(tmp_path, capsys):
    assert verify_checkpoint.main(["--source", "https://example.com/x", "--dest", str(tmp_path)]) == 1
    assert "unsupported source" in capsys.readouterr().err
