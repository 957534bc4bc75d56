"""Write lock.json from a reference copy of the upstream charts and CRDs (maintainers only).

`gpt-oss-platform upstream lock --from ../shared/reference` records, for every file Helm loads
from each pinned chart (its CRDs included), its SHA-256 and where it lives in the project's
repository at the release tag, so that `upstream fetch` can download and verify the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from infra.upstream import LOCK_FILE, sha256_of

# What the stack pins and where each chart comes from (the reference copy's README names the
# same repositories and tags). Karpenter's crds/ are symlinks in its repository to
# pkg/apis/crds/; the reference copy holds the files.
CHART_SOURCES: dict[str, dict[str, str]] = {
    "kuberay-operator": {"repository": "ray-project/kuberay", "ref": "v1.7.0", "path": "helm-chart/kuberay-operator"},
    "karpenter": {"repository": "aws/karpenter-provider-aws", "ref": "v1.14.0", "path": "charts/karpenter"},
    "cluster-autoscaler": {
        "repository": "kubernetes/autoscaler",
        "ref": "cluster-autoscaler-chart-9.59.0",
        "path": "charts/cluster-autoscaler",
    },
    "nvidia-device-plugin": {
        "repository": "NVIDIA/k8s-device-plugin",
        "ref": "v0.20.0",
        "path": "deployments/helm/nvidia-device-plugin",
    },
    "kube-prometheus-stack": {
        "repository": "prometheus-community/helm-charts",
        "ref": "kube-prometheus-stack-79.12.0",
        "path": "charts/kube-prometheus-stack",
    },
}
# Subcharts that come from other repositories or tags than their parent (the parent's Chart.yaml
# names the versions; windows-exporter's "0.12.*" resolved to 0.12.8 when 79.12.0 was packaged).
SUBCHART_SOURCES: dict[tuple[str, str], dict[str, str]] = {
    ("kube-prometheus-stack", "grafana"): {
        "repository": "grafana/helm-charts",
        "ref": "grafana-10.3.0",
        "path": "charts/grafana",
    },
    ("kube-prometheus-stack", "kube-state-metrics"): {
        "repository": "prometheus-community/helm-charts",
        "ref": "kube-state-metrics-6.4.2",
        "path": "charts/kube-state-metrics",
    },
    ("kube-prometheus-stack", "prometheus-node-exporter"): {
        "repository": "prometheus-community/helm-charts",
        "ref": "prometheus-node-exporter-4.49.2",
        "path": "charts/prometheus-node-exporter",
    },
    ("kube-prometheus-stack", "prometheus-windows-exporter"): {
        "repository": "prometheus-community/helm-charts",
        "ref": "prometheus-windows-exporter-0.12.8",
        "path": "charts/prometheus-windows-exporter",
    },
}
# Karpenter's Chart.yaml at the v1.14.0 tag still reads 1.13.0: its release job rewrites version
# and appVersion when it publishes the OCI chart; the templates are the 1.14.0 ones.
VERSION_OVERRIDES = {"karpenter": "1.14.0"}
# Files and folders Helm loads to render a chart; READMEs, CI values and unit tests are left out.
RENDERED = ("Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", ".helmignore")
RENDERED_DIRS = ("templates", "crds", "charts", "files")


def _file_entry(chart: str, base: str, relative: str, path: Path) -> dict[str, str]:
    entry = {"path": relative, "sha256": sha256_of(path), "source_path": f"{base}/{relative}"}
    if chart == "karpenter" and relative.startswith("crds/"):
        entry["source_path"] = f"pkg/apis/crds/{relative.removeprefix('crds/')}"
    parts = relative.split("/")
    if parts[0] == "charts" and len(parts) > 2 and (chart, parts[1]) in SUBCHART_SOURCES:
        sub = SUBCHART_SOURCES[(chart, parts[1])]
        entry.update(repository=sub["repository"], ref=sub["ref"], source_path=f"{sub['path']}/{'/'.join(parts[2:])}")
    return entry


def _chart_files(chart: str, folder: Path, base: str) -> list[dict[str, str]]:
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if not path.is_file():
            continue
        if relative not in RENDERED and relative.split("/")[0] not in RENDERED_DIRS:
            continue
        if relative.startswith("charts/") and relative.count("/") > 1:
            # Inside a subchart folder: only what Helm loads to render it.
            inner = relative.split("/", 2)[2]
            if inner not in RENDERED and inner.split("/")[0] not in RENDERED_DIRS:
                continue
        files.append(_file_entry(chart, base, relative, path))
    return files


def _subcharts(folder: Path) -> dict[str, str]:
    """Dependencies named in Chart.yaml that live as folders under charts/: name -> 'name version'."""
    declared = (yaml.safe_load((folder / "Chart.yaml").read_text()) or {}).get("dependencies") or []
    found = {}
    for dependency in declared:
        name = dependency["name"]
        meta = folder / "charts" / name / "Chart.yaml"
        version = yaml.safe_load(meta.read_text())["version"] if meta.is_file() else dependency.get("version", "")
        found[name] = f"{name} {version}"
    return found


def build_lock(reference: Path) -> dict[str, Any]:
    charts = {}
    for name, source in CHART_SOURCES.items():
        folder = reference / "charts" / name
        meta = yaml.safe_load((folder / "Chart.yaml").read_text())
        charts[name] = {
            "version": VERSION_OVERRIDES.get(name, str(meta["version"])),
            "source": source,
            "files": _chart_files(name, folder, source["path"]),
            "subcharts": _subcharts(folder),
        }
    return {"charts": charts}


def write_lock(reference: Path, path: Path = LOCK_FILE) -> Path:
    path.write_text(json.dumps(build_lock(reference), indent=1, sort_keys=True) + "\n")
    return path
