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
# Every file the offline plan writes says what it is: names the mocks invented (bucket, Redis,
# account) stand where the real stack has its own, and Secrets are redacted. GitOps manifests come
# from `gpt-oss-platform values` with the real stack outputs, never from here.
PREVIEW_HEADER = (
    "# PREVIEW from the offline plan (Pulumi mock engine): bucket, Redis and resource names are placeholders\n"
    "# and Secret values are redacted. Do NOT commit this file to a GitOps repository; render real manifests\n"
    "# with `gpt-oss-platform gitops render --env <env> --outputs <stack outputs> --out <dir>`.\n"
)


_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


def load_documents(text: str) -> list[dict]:
    """Every non-empty document of a multi-document YAML text, parsed as Kubernetes parses it.

    Helm's own YAML parser (sigs.k8s.io/yaml, through helm-python-sdk) rather than PyYAML: it
    reads YAML the way the API server does (a bare `=`, which the Prometheus Operator CRDs list
    among label-matcher operators, is the string "=", not PyYAML's YAML 1.1 "value" type), and it
    parses the multi-megabyte CRDs an order of magnitude faster.
    """
    import helm_python as helm

    documents = []
    for part in _DOCUMENT_SEPARATOR.split(text):
        if not part.strip():
            continue
        document = helm.values_from_yaml(part)
        if document:
            documents.append(document)
    return documents


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
        if template.endswith((".yaml", ".yml", ".json")):
            documents += load_documents(rendered[template])
    return documents


def unresolved_chart_paths(registrations: list[Registration], workdir: Path) -> list[str]:
    """Local chart paths that do not resolve from `workdir`, where Pulumi runs the program and the
    Helm provider resolves a path (pulumi-kubernetes helm.v3.Release `chart`)."""
    return [
        f"Helm release {r.inputs.get('name')!r}: chart path {r.inputs.get('chart')!r} does not resolve from {workdir}"
        for r in registrations
        if r.type == RELEASE and _is_local_chart(r) and not (workdir / str(r.inputs.get("chart")) / "Chart.yaml").is_file()
    ]


def local_releases(registrations: list[Registration], workdir: Path) -> list[RenderedRelease]:
    """Render every release of a local chart whose path resolves where the program ran."""
    out = []
    for release in (r for r in registrations if r.type == RELEASE and _is_local_chart(r)):
        inputs = release.inputs
        chart_dir = workdir / inputs["chart"]
        if not (chart_dir / "Chart.yaml").is_file():
            continue  # reported by unresolved_chart_paths
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


def redact_secret_values(document: dict) -> dict:
    if document.get("kind") != "Secret":
        return document
    redacted = dict(document)
    for field in ("data", "stringData"):
        if isinstance(redacted.get(field), dict):
            redacted[field] = dict.fromkeys(redacted[field], REDACTED)
    return redacted


def program_object(registration: Registration) -> dict:
    """A Kubernetes object the program registers directly, as the manifest it applies."""
    group_version, kind = registration.type.split(":")[1], registration.type.split(":")[2]
    inputs = registration.inputs
    document = {"apiVersion": inputs.get("apiVersion") or group_version.replace("core/", ""), "kind": inputs.get("kind") or kind}
    for field in ("metadata", "spec", "type", "data", "stringData"):
        if field in inputs:
            document[field] = inputs[field]
    return document


def dump_yaml(document: dict) -> str:
    """YAML text with sorted keys, through libyaml: PyYAML's pure-Python emitter takes seconds per
    Prometheus CRD (megabytes of schema)."""
    return yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=True, allow_unicode=True)


def _file_name(document: dict) -> str:
    kind = document.get("kind", "object").lower()
    name = (document.get("metadata") or {}).get("name", "unnamed")
    return re.sub(r"[^a-z0-9.-]+", "-", f"{kind}-{name}".lower()) + ".yaml"


def write_manifests(
    out_dir: Path,
    releases: list[RenderedRelease],
    program_docs: list[dict],
    upstream: list[Any],
) -> list[Path]:
    """Everything the stack would apply, one file per object, in a folder per release; plus
    third-party-releases.yaml listing each upstream release with its chart, version and values."""
    written = []

    def write(folder: Path, documents: list[dict]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for document in documents:
            path = folder / _file_name(document)
            path.write_text(PREVIEW_HEADER + dump_yaml(document))
            written.append(path)

    for release in releases:
        write(out_dir / release.name, release.documents)
    for release in upstream:
        write(out_dir / release.name, [redact_secret_values(d) for d in release.documents])
        # The CRDs as the chart ships them, verbatim (re-serialising megabytes of schema is slow).
        crd_dir = out_dir / release.name / "crds"
        for file_name, text in sorted(release.crd_texts.items()):
            crd_dir.mkdir(parents=True, exist_ok=True)
            (crd_dir / file_name).write_text(PREVIEW_HEADER + text)
            written.append(crd_dir / file_name)
    if program_docs:
        write(out_dir / "pulumi", program_docs)
    listing = out_dir / "third-party-releases.yaml"
    listing.write_text(
        PREVIEW_HEADER + "# Third-party charts the stack installs, each rendered above from the upstream chart at the pinned\n"
        "# version with these exact values (infra/plan/third_party.py).\n"
        + yaml.safe_dump(
            {
                "releases": [
                    {
                        "release": r.name,
                        "namespace": r.namespace,
                        "chart": r.chart,
                        "repository": r.repository,
                        "version": r.version,
                        "rendered_objects": len(r.documents),
                        "crds": len(r.crds),
                        "not_rendered": r.not_rendered,
                        "values": r.values,
                    }
                    for r in upstream
                ]
            },
            sort_keys=False,
        )
    )
    written.append(listing)
    return written
