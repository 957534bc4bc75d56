"""Init container of the Ray worker pods: stage harmony's tiktoken files into a local directory.

gpt-oss's chat format (harmony) loads `o200k_base.tiktoken` when vLLM starts and downloads
it from the internet unless TIKTOKEN_ENCODINGS_BASE points at a directory that holds it.
This script copies each file from `--source` (an `s3://bucket/prefix` read with the pod's
AWS credentials, or an `https://` base) into `--dest`, refuses any file whose SHA-256 is not
the expected one, and writes atomically so a half-written file is never seen.

Standard library plus boto3 (present in the rayproject/ray-llm image, where Ray Serve LLM
uses it to download S3 weights). Exit 0 when every file is staged; 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import urllib.request
from pathlib import Path

ATTEMPTS = 3


class StagingError(RuntimeError):
    pass


def _fetch_s3(uri: str, timeout: float) -> bytes:
    import boto3
    from botocore.config import Config

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3", config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": ATTEMPTS}))
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def _fetch_https(url: str, timeout: float) -> bytes:
    last: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read()
        except OSError as error:
            last = error
    raise StagingError(f"{url}: {last}")


def fetch(uri: str, timeout: float) -> bytes:
    if uri.startswith("s3://"):
        return _fetch_s3(uri, timeout)
    if uri.startswith("https://"):
        return _fetch_https(uri, timeout)
    raise StagingError(f"unsupported source {uri!r}: use s3://bucket/prefix or https://...")


def stage(source: str, dest: Path, expected: dict[str, str], timeout: float = 30.0) -> list[Path]:
    """Copy every file of `expected` (name -> sha256) from `source` into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    staged = []
    for name, digest in sorted(expected.items()):
        target = dest / name
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
            staged.append(target)
            continue
        uri = f"{source.rstrip('/')}/{name}"
        try:
            data = fetch(uri, timeout)
        except StagingError:
            raise
        except Exception as error:  # boto3 raises its own hierarchy; report it, do not hide it
            raise StagingError(f"{uri}: {type(error).__name__}: {error}") from error
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise StagingError(f"{uri}: sha256 {actual} is not the expected {digest}")
        partial = dest / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, target)
        staged.append(target)
    return staged


def _expected(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, digest = pair.partition("=")
        if not sep or len(digest) != 64:
            raise SystemExit(f"--file takes NAME=SHA256, got {pair!r}")
        out[name] = digest.lower()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="s3://bucket/prefix or https://base")
    parser.add_argument("--dest", required=True, type=Path)
    parser.add_argument("--file", action="append", default=[], metavar="NAME=SHA256", help="repeat per file")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    expected = _expected(args.file)
    if not expected:
        parser.error("no --file given")
    try:
        staged = stage(args.source, args.dest, expected, args.timeout)
    except StagingError as error:
        print(f"tiktoken staging failed: {error}", file=sys.stderr)
        return 1
    for path in staged:
        print(f"staged {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
