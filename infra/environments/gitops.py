"""Manifests for Argo CD or Flux, rendered from a stack's REAL outputs, or refused.

The offline plan's manifests (build/<env>/manifests/) carry names the mock engine invents (the
weights bucket, the Redis endpoint) and a redacted Secret: they are a preview and say so in a
header. What a GitOps repository commits comes from here instead: the same chart and chart values
as `pulumi up` installs, with the bucket and Redis endpoint the stack really created
(`pulumi stack output --json --stack <env>`), the governor image `up` deployed (where the release
pins give it a digest), and no Secret at all: the managed API key Secret is
created by Pulumi from its encrypted config and the client keys Secret by the operator, so no
secret value is ever written to Git.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts import NAMESPACE, RELEASE
from infra.chart_values import StackOutputs, chart_values
from infra.config.errors import ConfigError, problem
from infra.config.models import EnvironmentConfig
from infra.environments.checkout import checkout_chart
from infra.paths import CHART_DIR
from infra.plan.manifests import render_chart

# S3 bucket naming rules: 3-63 lower-case letters, digits, dots and hyphens, starting and ending
# with a letter or digit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
HOST_PORT_RE = re.compile(r"^[A-Za-z0-9.-]+:\d{2,5}$")
IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$")
CIDR_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
# What `pulumi stack output --json` prints for a secret output without --show-secrets.
SECRET_OUTPUT = "[secret]"


@dataclass
class Rendered:
    files: dict[str, str]  # file name -> text
    dropped_secrets: list[str]


def governor_pinned(env: EnvironmentConfig) -> bool:
    """Whether `pulumi up` deploys the governor, and so exports `governor_image`: a mode other than
    `off` and a digest in the release pins (infra/config/bootstrap.py governor_pending)."""
    return env.governor.mode != "off" and bool(env.governor.image.digest)


def required_outputs(env: EnvironmentConfig) -> list[str]:
    needed = ["cluster_name", "weights_bucket", "gateway_image", "service_cidr"]
    if env.serving.gcs_fault_tolerance.managed:
        needed.append("gcs_redis_address")
    if governor_pinned(env):
        needed.append("governor_image")
    return needed


def _image_problems(key: str, image: Any) -> list:
    if image in (None, ""):
        return []
    if not isinstance(image, str) or not IMAGE_RE.match(image):
        return [problem(key, "is not an image pinned by digest (repository@sha256:...)", image)]
    if image.endswith("@sha256:" + "0" * 64):
        return [problem(key, "is the preview placeholder: the stack was never deployed with a built image", image)]
    return []


def check_outputs(env: EnvironmentConfig, outputs: Any, source: str) -> StackOutputs:
    """What the chart values need from the stack outputs, or ConfigError naming each missing or
    implausible output: nothing is rendered from a guess."""
    if not isinstance(outputs, dict):
        raise ConfigError([problem(source, "must be the JSON object `pulumi stack output --json` prints", outputs)], source)
    found = []
    for key in required_outputs(env):
        if outputs.get(key) in (None, ""):
            found.append(
                problem(
                    key,
                    f"missing from the stack outputs: deploy {env.name} with `pulumi up` first; "
                    f"then `pulumi stack output --json --stack {env.name}`",
                )
            )
    bucket = outputs.get("weights_bucket")
    if bucket not in (None, "") and (not isinstance(bucket, str) or not BUCKET_RE.match(bucket)):
        found.append(problem("weights_bucket", "is not an S3 bucket name", bucket))
    redis = outputs.get("gcs_redis_address") if env.serving.gcs_fault_tolerance.managed else None
    if redis not in (None, "") and (not isinstance(redis, str) or not HOST_PORT_RE.match(redis)):
        found.append(problem("gcs_redis_address", "is not host:port", redis))
    image = outputs.get("gateway_image")
    found += _image_problems("gateway_image", image)
    # The governor, as `up` deploys it: only with a pinned digest, and then the stack's output must
    # carry that digest (an older output means the pin was set after the last `up`).
    governor = outputs.get("governor_image") if governor_pinned(env) else None
    found += _image_problems("governor_image", governor)
    digest = env.governor.image.digest
    if isinstance(governor, str) and IMAGE_RE.match(governor) and not governor.endswith(f"@{digest}"):
        found.append(
            problem(
                "governor_image",
                f"is not the pinned governor digest {digest} (governor.image.digest): run `pulumi up --stack {env.name}` "
                "so the stack deploys the pinned image, then read the outputs again",
                governor,
            )
        )
    service_cidr = outputs.get("service_cidr")
    if service_cidr not in (None, "") and (not isinstance(service_cidr, str) or not CIDR_RE.match(service_cidr)):
        found.append(problem("service_cidr", "is not a CIDR", service_cidr))
    cluster = outputs.get("cluster_name")
    if cluster not in (None, "") and cluster != env.cluster.name:
        found.append(
            problem(
                "cluster_name", f"is not {env.name}'s cluster {env.cluster.name!r}: these are another stack's outputs", cluster
            )
        )
    for key, value in outputs.items():
        if value == SECRET_OUTPUT and key in required_outputs(env):
            found.append(problem(key, "is a secret output; these outputs are never secret: check the stack", value))
    if found:
        raise ConfigError(found, source)
    # Both are required outputs, and a present one that is not a matching string is a problem above.
    assert isinstance(image, str) and isinstance(service_cidr, str), "checked above"
    return StackOutputs(
        gateway_image=image,
        service_cidr=service_cidr,
        weights_bucket=bucket,
        gcs_redis_address=redis,
        governor_image=governor if isinstance(governor, str) else None,
    )


def header(env: EnvironmentConfig, stack: str, release: str, source_commit: str) -> str:
    chart = checkout_chart()
    return (
        f"# Rendered by `gpt-oss-platform gitops render --env {env.name}` from chart {chart.name} {chart.version},\n"
        f"# the config of stack {stack} and its real outputs (image, bucket, Redis); release {release},\n"
        f"# commit {source_commit}. Regenerate, do not edit. Secrets are not rendered: Pulumi creates the managed\n"
        "# API key Secret from its encrypted config and the operator creates the client keys Secret.\n"
    )


def render_gitops(env: EnvironmentConfig, stack: str, outputs: Any, source: str, release: str, source_commit: str) -> Rendered:
    values = chart_values(env, stack, check_outputs(env, outputs, source))
    documents = render_chart(CHART_DIR, values, RELEASE, NAMESPACE)
    top = header(env, stack, release, source_commit)
    files: dict[str, str] = {}
    dropped = []
    for document in documents:
        kind = document.get("kind", "object")
        name = (document.get("metadata") or {}).get("name", "unnamed")
        if kind == "Secret":
            dropped.append(name)
            continue
        file_name = re.sub(r"[^a-z0-9.-]+", "-", f"{kind}-{name}".lower()) + ".yaml"
        files[file_name] = top + yaml.safe_dump(document, sort_keys=True)
    return Rendered(files=files, dropped_secrets=dropped)


def write_rendered(rendered: Rendered, out: Path) -> list[Path]:
    """Replace the rendered files in `out` (files this command did not write are left alone,
    except earlier renders, recognised by their header, which are removed so a deleted object
    disappears from Git too)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        if old.read_text().startswith("# Rendered by `gpt-oss-platform gitops render") and old.name not in rendered.files:
            old.unlink()
    written = []
    for name, text in sorted(rendered.files.items()):
        path = out / name
        path.write_text(text)
        written.append(path)
    return written


def load_outputs(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError([problem(str(path), f"is not the JSON of `pulumi stack output --json`: {error}")], str(path)) from None
