"""Render the third-party Helm releases the program registers, as `pulumi up` would install them.

Each release is rendered with Helm's engine from the upstream chart at the pinned version
(infra/upstream), with the exact values the program passed, and its CRDs (the chart's crds/
folders, which Helm installs before the templates) are kept apart so that the checks can
validate custom resources against them and know which release installs which kind.

A copy of a chart may lack subcharts (the reference copy of kube-prometheus-stack holds only its
CRD subchart). Helm cannot render the parent then; it is rendered with those dependencies turned
off through their `condition` (as Chart.yaml declares them), and the plan names what it could not
render and how to get it (`gpt-oss-platform upstream fetch`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra import upstream
from infra.plan.manifests import RELEASE, load_documents, render_chart
from infra.plan.mocks import Registration


@dataclass
class UpstreamRelease:
    name: str
    namespace: str
    chart: str
    repository: str
    version: str
    values: dict[str, Any]
    documents: list[dict] = field(default_factory=list)
    crds: list[dict] = field(default_factory=list)
    crd_texts: dict[str, str] = field(default_factory=dict)  # file name -> the CRD file as the chart ships it
    not_rendered: list[str] = field(default_factory=list)  # "subchart version: why"
    problems: list[str] = field(default_factory=list)  # why the release could not be checked at all


def chart_name(chart: str) -> str:
    """`kuberay-operator` from `kuberay-operator`; `karpenter` from `oci://public.ecr.aws/karpenter/karpenter`."""
    return chart.rstrip("/").rsplit("/", 1)[-1]


def _set_path(values: dict[str, Any], dotted: str, value: Any) -> None:
    node = values
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _conditions(folder: Path) -> dict[str, str]:
    dependencies = (yaml.safe_load((folder / "Chart.yaml").read_text()) or {}).get("dependencies") or []
    return {d["name"]: d["condition"] for d in dependencies if d.get("condition")}


def _crds(folder: Path) -> dict[str, str]:
    """The chart's CRD files (its subcharts' included), name -> text, as Helm installs them."""
    import helm_python as helm

    with helm.Chart.load(str(folder)) as chart:
        return {crd["filename"].rsplit("/", 1)[-1]: crd["data"] for crd in chart.crds}


def render_release(registration: Registration) -> UpstreamRelease:
    inputs = registration.inputs
    name = chart_name(str(inputs.get("chart", "")))
    release = UpstreamRelease(
        name=str(inputs.get("name")),
        namespace=str(inputs.get("namespace")),
        chart=name,
        repository=(inputs.get("repositoryOpts") or {}).get("repo") or str(inputs.get("chart", "")).rsplit("/", 1)[0],
        version=str(inputs.get("version")),
        values=inputs.get("values") or {},
    )
    locked = upstream.load_lock().charts.get(name)
    if locked is None:
        release.problems.append(f"chart {name!r} has no pinned upstream copy in infra/upstream/lock.json")
        return release
    if locked.version != release.version:
        release.problems.append(
            f"the release pins {name} {release.version} but the upstream copy checked here is {locked.version} "
            "(infra/versions.py and infra/upstream/lock.json must agree)"
        )
        return release
    folder = upstream.chart_dir(name)
    values = copy.deepcopy(release.values)
    conditions = _conditions(folder)
    for missing in upstream.missing_subcharts(name, folder):
        release.not_rendered.append(
            f"{locked.subcharts[missing]}: not in {folder} (run `gpt-oss-platform upstream fetch` to check it too)"
        )
        if missing in conditions:
            _set_path(values, conditions[missing], False)
    release.documents = render_chart(folder, values, release.name, release.namespace)
    release.crd_texts = _crds(folder)
    release.crds = [doc for text in release.crd_texts.values() for doc in load_documents(text)]
    return release


def upstream_releases(registrations: list[Registration]) -> list[UpstreamRelease]:
    return [
        render_release(r)
        for r in registrations
        if r.type == RELEASE and (r.inputs.get("repositoryOpts") or "://" in str(r.inputs.get("chart", "")))
    ]
