"""Init container of the Ray worker pods: fetch a fine-tuned checkpoint and verify it before vLLM
loads anything.

The checkpoint lives under `--source` (`s3://bucket/prefix`, read with the pod's AWS credentials)
next to its `manifest.json` (infra/models/manifest.py: base model, quantisation, who trained it,
and the SHA-256 of every file). Each listed file is streamed into `--dest`, hashed on the way, and
renamed into place only when its digest is the manifest's; one mismatch fails the pod, and the
llm_config's `model_source` is that local directory, so vLLM never sees a file that was not checked.
An object under the prefix that the manifest does not list is refused too: nobody vouched for it.
A file already in `--dest` with the right digest is kept (a restarted pod does not fetch it again).
`--verify-only` checks a local directory against its manifest.json without fetching.

Standard library plus boto3 (present in the rayproject/ray-llm image). Exit 0 when every file is
verified; 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path, PurePosixPath

MANIFEST = "manifest.json"
CHUNK = 8 * 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class VerifyError(RuntimeError):
    pass


def parse_manifest(text: str, where: str) -> dict[str, str]:
    """The manifest's files (relative path -> sha256); VerifyError when it is not a manifest."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise VerifyError(f"{where}: not JSON ({error})") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not files:
        raise VerifyError(f"{where}: no `files` map: not a checkpoint manifest")
    for path, digest in files.items():
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not path or path == MANIFEST:
            raise VerifyError(f"{where}: {path!r} is not a plain relative path inside the checkpoint")
        if not isinstance(digest, str) or not SHA256.match(digest):
            raise VerifyError(f"{where}: {path!r} has no hex SHA-256")
    return files


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_local(directory: Path) -> list[str]:
    """Problems of a local checkpoint against its own manifest.json (empty: it matches)."""
    files = parse_manifest((directory / MANIFEST).read_text(), str(directory / MANIFEST))
    problems = []
    for path, expected in sorted(files.items()):
        local = directory / path
        if not local.is_file():
            problems.append(f"{path}: missing")
        elif (actual := sha256_of(local)) != expected:
            problems.append(f"{path}: sha256 {actual}, manifest says {expected}")
    for local in sorted(directory.rglob("*")):
        rel = local.relative_to(directory).as_posix()
        if local.is_file() and rel != MANIFEST and rel not in files:
            problems.append(f"{rel}: not in the manifest")
    return problems


def _client(timeout: float):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}))


def fetch_and_verify(source: str, dest: Path, timeout: float = 60.0) -> list[Path]:
    if not source.startswith("s3://"):
        raise VerifyError(f"unsupported source {source!r}: use s3://bucket/prefix")
    bucket, _, prefix = source.removeprefix("s3://").rstrip("/").partition("/")
    client = _client(timeout)
    try:
        manifest_text = client.get_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST}")["Body"].read().decode()
    except Exception as error:  # boto3 raises its own hierarchy; report it, do not hide it
        raise VerifyError(f"{source}/{MANIFEST}: {type(error).__name__}: {error}") from error
    files = parse_manifest(manifest_text, f"{source}/{MANIFEST}")
    listed = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            listed.add(item["Key"][len(prefix) + 1 :])
    unlisted = sorted(listed - set(files) - {MANIFEST})
    if unlisted:
        raise VerifyError(f"{source}: objects not in the manifest: {', '.join(unlisted)}")
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    for path, expected in sorted(files.items()):
        target = dest / path
        if target.is_file() and sha256_of(target) == expected:
            done.append(target)
            continue
        uri = f"{source.rstrip('/')}/{path}"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        digest = hashlib.sha256()
        try:
            body = client.get_object(Bucket=bucket, Key=f"{prefix}/{path}")["Body"]
            with partial.open("wb") as out:
                while chunk := body.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except Exception as error:
            partial.unlink(missing_ok=True)
            raise VerifyError(f"{uri}: {type(error).__name__}: {error}") from error
        if digest.hexdigest() != expected:
            partial.unlink(missing_ok=True)
            raise VerifyError(f"{uri}: sha256 {digest.hexdigest()} is not the manifest's {expected}")
        os.replace(partial, target)
        done.append(target)
    (dest / MANIFEST).write_text(manifest_text)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "verify a checkpoint").splitlines()[0])
    parser.add_argument("--source", help="s3://bucket/prefix holding the checkpoint and its manifest.json")
    parser.add_argument("--dest", required=True, type=Path, help="local directory vLLM loads from")
    parser.add_argument("--verify-only", action="store_true", help="check --dest against its manifest.json, fetch nothing")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        if args.verify_only:
            problems = verify_local(args.dest)
            if problems:
                raise VerifyError(f"{args.dest}: " + "; ".join(problems))
            print(f"verified {args.dest}")
            return 0
        if not args.source:
            parser.error("--source is required unless --verify-only")
        files = fetch_and_verify(args.source, args.dest, args.timeout)
    except (VerifyError, OSError) as error:
        print(f"checkpoint verification failed: {error}", file=sys.stderr)
        return 1
    print(f"verified {len(files)} files of {args.source} into {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
