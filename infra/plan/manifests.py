"""Every Kubernetes manifest the stack would apply, written under build/<env>/manifests/.

- Helm releases of this repository's charts are rendered with Helm's own engine
  (helm-python-sdk binds Helm's Go SDK) from the exact values the release received.
- Objects the program creates directly (namespace, Karpenter pools, the API key Secret with
  its value redacted) are written as the program declared them.
- Third-party charts need a network to fetch, so they are listed with release, chart,
  pinned version and values in third-party-releases.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.plan.mocks import Registration

RELEASE = "kubernetes:helm.sh/v3:Release"
REDACTED = "<redacted: set by Pulumi from an encrypted secret>"


@dataclass
class RenderedRelease:
    name: str
    chart: str
    version: str
    namespace: str
    documents: list[dict]


def _is_local_chart(release: Registration) -> bool:
    """A chart from this repository: no chart repository, no OCI reference, a path."""
    chart = str(release.inputs.get("chart", ""))
    return not release.inputs.get("repositoryOpts") and "://" not in chart


def render_chart(chart_dir: Path, values: dict, release: str, namespace: str) -> list[dict]:
    """Render a chart with Helm's engine; documents in template order, empty ones dropped."""
    import helm_python as helm

    with helm.Chart.load(str(chart_dir)) as chart:
        rendered = chart.render(values=values, name=release, namespace=namespace, is_install=True)
    documents = []
    for template in sorted(rendered):
        if not template.endswith((".yaml", ".yml", ".json")):
            continue
        for document in yaml.safe_load_all(rendered[template]):
            if document:
                documents.append(document)
    return documents


def local_releases(registrations: list[Registration], workdir: Path) -> list[RenderedRelease]:
    """Render every release of a local chart, resolving its path where the program ran."""
    out = []
    for release in (r for r in registrations if r.type == RELEASE and _is_local_chart(r)):
        inputs = release.inputs
        chart_dir = workdir / inputs["chart"]
        if not (chart_dir / "Chart.yaml").is_file():
            raise FileNotFoundError(
                f"Helm release {inputs['name']!r}: chart path {inputs['chart']!r} does not resolve from {workdir}, "
                "the directory Pulumi runs the program in"
            )
        out.append(
            RenderedRelease(
                name=inputs["name"],
                chart=inputs["chart"],
                version=str(inputs.get("version", "")),
                namespace=inputs["namespace"],
                documents=render_chart(chart_dir, inputs.get("values") or {}, inputs["name"], inputs["namespace"]),
            )
        )
    return out


def third_party_releases(registrations: list[Registration]) -> list[dict[str, Any]]:
    return [
        {
            "release": r.inputs.get("name"),
            "namespace": r.inputs.get("namespace"),
            "chart": r.inputs.get("chart"),
            "repository": (r.inputs.get("repositoryOpts") or {}).get("repo") or str(r.inputs.get("chart", "")).rsplit("/", 1)[0],
            "version": r.inputs.get("version"),
            "values": r.inputs.get("values") or {},
        }
        for r in registrations
        if r.type == RELEASE and not _is_local_chart(r)
    ]


def redact_secret_values(document: dict) -> dict:
    if document.get("kind") != "Secret":
        return document
    redacted = dict(document)
    for field in ("data", "stringData"):
        if isinstance(redacted.get(field), dict):
            redacted[field] = {key: REDACTED for key in redacted[field]}
    return redacted


def program_objects(registrations: list[Registration]) -> list[dict]:
    """Kubernetes objects the program registers directly, as manifests."""
    documents = []
    for r in registrations:
        if not r.custom or not r.type.startswith("kubernetes:") or r.type == RELEASE:
            continue
        group_version, kind = r.type.split(":")[1], r.type.split(":")[2]
        api_version = r.inputs.get("apiVersion") or group_version.replace("core/", "")
        document = {"apiVersion": api_version, "kind": r.inputs.get("kind") or kind}
        for field in ("metadata", "spec", "type", "data", "stringData"):
            if field in r.inputs:
                document[field] = r.inputs[field]
        documents.append(redact_secret_values(document))
    return documents


def _file_name(document: dict) -> str:
    kind = document.get("kind", "object").lower()
    name = (document.get("metadata") or {}).get("name", "unnamed")
    return re.sub(r"[^a-z0-9.-]+", "-", f"{kind}-{name}".lower()) + ".yaml"


# Every file the offline plan writes says what it is: the names of the bucket, the Redis endpoint
# and the ids come from the mock engine and the Secret's value is a marker. GitOps repositories
# take `gpt-oss-platform gitops render` output instead (docs/environments.md, "GitOps").
PREVIEW_HEADER = (
    "# PREVIEW from the offline plan (Pulumi mock engine): bucket, Redis and resource names are placeholders\n"
    "# and Secret values are redacted. Do NOT commit this file to a GitOps repository; render real manifests\n"
    "# with `gpt-oss-platform gitops render --env <env> --outputs <stack outputs> --out <dir>`.\n"
)


def write_manifests(out_dir: Path, releases: list[RenderedRelease], program_docs: list[dict], third_party: list[dict]) -> list[Path]:
    written = []
    for release in releases:
        target = out_dir / release.name
        target.mkdir(parents=True, exist_ok=True)
        for document in release.documents:
            path = target / _file_name(document)
            path.write_text(PREVIEW_HEADER + yaml.safe_dump(document, sort_keys=True))
            written.append(path)
    if program_docs:
        target = out_dir / "pulumi"
        target.mkdir(parents=True, exist_ok=True)
        for document in program_docs:
            path = target / _file_name(document)
            path.write_text(PREVIEW_HEADER + yaml.safe_dump(document, sort_keys=True))
            written.append(path)
    listing = out_dir / "third-party-releases.yaml"
    listing.write_text(
        PREVIEW_HEADER
        + "# Third-party charts are fetched from their repositories at `pulumi up`; they are not\n"
        "# rendered offline. Release, chart, pinned version and the values this stack passes:\n"
        + yaml.safe_dump({"releases": third_party}, sort_keys=False)
    )
    written.append(listing)
    return written
