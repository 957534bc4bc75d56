"""`gpt-oss-platform models stage`: upload a local fine-tune of gpt-oss, with its manifest (base
model, sha256 of every file, quantisation, who trained it, when, on what), into the environment's
weights bucket, and print the `served_models.additional[]` entry that serves it (docs/models.md).

  gpt-oss-platform models stage ./out/support-20b --bucket "$(pulumi stack output weights_bucket)" \\
    --name support-20b --version 2026-12-01 --trained-by "ml-platform pipeline" \\
    --training-data "s3://corp-datasets/support-tickets/2026-11"

Writes local copies of the manifest and config.json under --copies (default
environments/models/<name>/<version>/), which the offline plan validates and sizes from.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from cli.errors import OK, CliError

VERSION_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="fine-tuned checkpoints: stage one into the weights bucket",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stage = actions.add_parser(
        "stage",
        help="upload a local fine-tune with its manifest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stage.add_argument("directory", type=Path, help="the checkpoint directory (config.json, *.safetensors, tokenizer)")
    stage.add_argument("--bucket", required=True, help="the environment's weights bucket (`pulumi stack output weights_bucket`)")
    stage.add_argument("--name", required=True, help="public model name, e.g. support-20b")
    stage.add_argument("--version", required=True, help="version of this checkpoint, e.g. 2026-12-01 (never overwritten)")
    stage.add_argument("--base-revision", help="Hugging Face commit of the base model (default: the catalog's pinned one)")
    stage.add_argument("--trained-by", required=True, help="who ran the training (person or pipeline)")
    stage.add_argument("--trained-at", help="ISO 8601 time the run finished (default: now, UTC)")
    stage.add_argument("--training-data", required=True, help="reference to the training data (dataset id, s3:// URI, ticket)")
    stage.add_argument("--copies", type=Path, help="where to write local copies of manifest.json and config.json")
    stage.add_argument("--region", help="AWS region of the bucket (default: the AWS SDK's)")
    stage.set_defaults(run=run_stage)


def _trained_at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--trained-at {text!r} is not ISO 8601, e.g. 2026-12-01T10:00:00Z") from None
    if value.tzinfo is None:
        raise CliError(f"--trained-at {text!r} has no time zone: add Z or +00:00")
    return value


def run_stage(args: argparse.Namespace) -> int:
    import boto3

    from infra.catalog import load_catalog
    from infra.models.config import PUBLIC_NAME_RE
    from infra.models.manifest import CONFIG_NAME, MANIFEST_NAME
    from infra.models.stage import StageError, stage_checkpoint
    from infra.paths import REPO_ROOT

    if not re.match(PUBLIC_NAME_RE, args.name):
        raise CliError(f"--name {args.name!r}: lower-case letters, digits, `.`, `_`, `-` (no `:`, reserved for adapters)")
    if not VERSION_RE.match(args.version):
        raise CliError(f"--version {args.version!r}: lower-case letters, digits, `.`, `_`, `-`, e.g. 2026-12-01")
    if not args.directory.is_dir():
        raise CliError(f"{args.directory}: not a directory")
    trained_at = _trained_at(args.trained_at)
    s3 = boto3.client("s3", region_name=args.region) if args.region else boto3.client("s3")
    try:
        base_revision = args.base_revision
        if base_revision is None:
            layers = json.loads((args.directory / CONFIG_NAME).read_text()).get("num_hidden_layers")
            base = "gpt-oss-120b" if layers == 36 else "gpt-oss-20b"
            base_revision = load_catalog().models[base].default_revision
        staged = stage_checkpoint(
            s3,
            args.directory,
            args.bucket,
            args.name,
            args.version,
            base_revision,
            args.trained_by,
            trained_at,
            args.training_data,
        )
    except (StageError, OSError, ValueError) as error:
        raise CliError(str(error)) from None
    copies = args.copies or REPO_ROOT / "environments" / "models" / args.name / args.version
    copies.mkdir(parents=True, exist_ok=True)
    (copies / MANIFEST_NAME).write_text(staged.manifest.model_dump_json(indent=2) + "\n")
    shutil.copyfile(args.directory / CONFIG_NAME, copies / CONFIG_NAME)
    shown = copies.relative_to(REPO_ROOT) if copies.is_relative_to(REPO_ROOT) else copies
    print(
        f"staged {len(staged.manifest.files)} files to {staged.uri} ({staged.manifest.quantisation}, base {staged.manifest.base_model})"
    )
    print("serve it with this entry under served_models.additional in environments/<env>.yaml:")
    print(f"  - name: {args.name}\n    base: {staged.manifest.base_model}\n    weights:\n      source: s3")
    print(f"      prefix: {staged.prefix}\n      manifest: {shown}/{MANIFEST_NAME}\n      config: {shown}/{CONFIG_NAME}")
    return OK
