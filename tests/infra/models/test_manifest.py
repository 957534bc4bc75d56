"""The checkpoint manifest: every field checked, and files that do not match it found, a planted
bad file first among them."""

from __future__ import annotations

import json

import pytest

from infra.models.manifest import (
    MANIFEST_NAME,
    ManifestError,
    file_problems,
    load_manifest,
    parse_manifest,
    verify_directory,
)

GOOD = {
    "base_model": "gpt-oss-20b",
    "base_revision": "6cee5e81ee83917806bbde320786a8fb61efebee",
    "quantisation": "MXFP4",
    "trained_by": "ml-platform pipeline",
    "trained_at": "2026-12-01T10:00:00Z",
    "training_data": "s3://corp-datasets/support/2026-11",
    "files": {"config.json": "a" * 64, "model.safetensors": "b" * 64},
}


def test_a_fresh_checkpoint_matches_its_manifest(checkpoint):
    manifest = load_manifest(checkpoint / MANIFEST_NAME)
    assert manifest.base_model == "gpt-oss-20b" and manifest.quantisation == "MXFP4"
    assert sorted(manifest.files) == [
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "tokenizer/tokenizer.json",
    ]
    verify_directory(manifest, checkpoint)


def test_a_planted_bad_file_is_refused_by_name_and_digest(checkpoint):
    manifest = load_manifest(checkpoint / MANIFEST_NAME)
    shard = checkpoint / "model-00002-of-00002.safetensors"
    shard.write_bytes(b"\x02" * 2047 + b"\xff")  # one byte changed, same size
    (problem,) = file_problems(manifest, checkpoint)
    assert problem.startswith("model-00002-of-00002.safetensors: sha256 ")
    assert manifest.files["model-00002-of-00002.safetensors"] in problem
    with pytest.raises(ManifestError, match="does not match its manifest"):
        verify_directory(manifest, checkpoint)


def test_missing_and_unlisted_files_are_refused(checkpoint):
    manifest = load_manifest(checkpoint / MANIFEST_NAME)
    (checkpoint / "tokenizer" / "tokenizer.json").unlink()
    (checkpoint / "extra.bin").write_bytes(b"?")
    assert file_problems(manifest, checkpoint) == [
        "tokenizer/tokenizer.json: listed in the manifest but missing",
        "extra.bin: present but not in the manifest",
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"base_model": "gpt-oss-7b"}, "base_model", "Input should be"),
        ({"base_revision": "main"}, "base_revision", "should match pattern"),
        ({"quantisation": "FP8"}, "quantisation", "Input should be 'MXFP4' or 'BF16'"),
        ({"trained_at": "2026-12-01T10:00:00"}, "trained_at", "needs a time zone"),
        ({"trained_by": ""}, "trained_by", "at least 2 characters"),
        ({"training_data": ""}, "training_data", "at least 3 characters"),
        ({"files": {"model.safetensors": "b" * 64}}, "files", "config.json is missing"),
        ({"files": {"config.json": "a" * 64, "../etc/passwd": "b" * 64}}, "files", "not a plain relative path"),
        ({"files": {"config.json": "A" * 64}}, "files", "not a lower-case hex SHA-256"),
        ({"files": {"config.json": "a" * 64, "manifest.json": "b" * 64}}, "files", "cannot list itself"),
        ({"extra": 1}, "extra", "Extra inputs are not permitted"),
    ],
)
def test_every_field_refuses_bad_input_by_name(change, field, message):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(json.dumps({**GOOD, **change}), "manifest.json")
    assert f"{field}" in str(caught.value) and message in str(caught.value)


def test_a_manifest_that_is_not_json_or_not_there_says_what_to_do(tmp_path):
    with pytest.raises(ManifestError, match="not JSON"):
        parse_manifest("{", "m.json")
    with pytest.raises(ManifestError, match="models stage"):
        load_manifest(tmp_path / "absent.json")
