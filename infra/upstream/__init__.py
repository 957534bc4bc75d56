"""The upstream Helm charts the stack installs, at the pinned versions, for offline checks.

What a real `pulumi up` installs is checked here by rendering the very charts it would install
(Helm's engine, the values the program passes) and validating custom resources against the very
CRDs, which are the ones the charts carry in their crds/ folders (Helm installs those). The files
are upstream data, not part of the product: they are found, in this order,
- in `$GPT_OSS_UPSTREAM_DIR` (a folder shaped like the reference copy: `charts/<name>/`),
- in `../shared/reference/` next to this repository (present in this project's CI),
- in `.cache/upstream/`, where `gpt-oss-platform upstream fetch` downloads them from each project's
  Git repository at the pinned tag and verifies every file against `lock.json`.

Under `REQUIRE_ALL_TOOLS=1` (`make test`, CI) a missing file is an error, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from infra.paths import REPO_ROOT

LOCK_FILE = Path(__file__).resolve().parent / "lock.json"
CACHE_DIR = REPO_ROOT / ".cache" / "upstream"
SHARED_DIR = REPO_ROOT.parent / "shared" / "reference"


class UpstreamMissing(FileNotFoundError):
    """A pinned chart or CRD is in none of the places this module looks; the message says how to get it."""


@dataclass(frozen=True)
class Source:
    repository: str  # owner/name on GitHub
    ref: str  # the release tag
    path: str  # folder of the chart (or of the CRD file) in that repository


@dataclass(frozen=True)
class LockedFile:
    path: str  # relative to the chart folder (or to crds/)
    sha256: str
    source_path: str  # path in the source repository
    # A subchart comes from its own repository and tag; None: the chart's own source.
    repository: str | None = None
    ref: str | None = None

    def source(self, chart: Source) -> Source:
        return Source(self.repository or chart.repository, self.ref or chart.ref, self.source_path)


@dataclass(frozen=True)
class LockedChart:
    name: str
    version: str
    source: Source
    files: tuple[LockedFile, ...]
    # Subcharts (folder under charts/ -> "name version") the chart needs to render.
    subcharts: dict[str, str]


@dataclass(frozen=True)
class Lock:
    charts: dict[str, LockedChart]


@lru_cache(maxsize=1)
def load_lock(path: Path = LOCK_FILE) -> Lock:
    raw = json.loads(path.read_text())
    charts = {
        name: LockedChart(
            name=name,
            version=entry["version"],
            source=Source(**entry["source"]),
            files=tuple(LockedFile(**f) for f in entry["files"]),
            subcharts=dict(entry.get("subcharts", {})),
        )
        for name, entry in raw["charts"].items()
    }
    return Lock(charts=charts)


def search_roots() -> list[Path]:
    roots = []
    if os.environ.get("GPT_OSS_UPSTREAM_DIR"):
        roots.append(Path(os.environ["GPT_OSS_UPSTREAM_DIR"]))
    roots += [SHARED_DIR, CACHE_DIR]
    return roots


def offline_options() -> str:
    """How to give the plan its upstream charts without the network."""
    return (
        "offline, set GPT_OSS_UPSTREAM_DIR to a folder holding charts/ and crds/ (a copy of the reference "
        f"folder), or put that reference folder at {SHARED_DIR}"
    )


def _how_to_get() -> str:
    shown = ", ".join(str(r) for r in search_roots())
    return (
        f"looked in {shown}; run `gpt-oss-platform upstream fetch` (downloads the pinned versions and checks "
        f"their digests), or {offline_options()}"
    )


def chart_dir(name: str) -> Path:
    """The folder of the pinned upstream chart `name` (a key of lock.json): the first complete
    copy (every pinned subchart present), else the first copy at all (the caller renders what it
    can and says what is missing, `missing_subcharts`)."""
    if name not in load_lock().charts:
        raise KeyError(f"{name!r} is not a pinned upstream chart; pinned: {', '.join(sorted(load_lock().charts))}")
    found = [root / "charts" / name for root in search_roots() if (root / "charts" / name / "Chart.yaml").is_file()]
    if not found:
        raise UpstreamMissing(f"upstream chart {name!r} not found: {_how_to_get()}")
    return next((folder for folder in found if not missing_subcharts(name, folder)), found[0])


# The CRDs tests validate custom resources against: file name -> the chart that installs it. The
# reference copy also has a crds/ folder, but its Karpenter CRDs are from a later commit than
# v1.14.0 (they list `karpenter.k8s.aws/nitro-sandbox`); the chart's own copies match the tag.
CRD_CHARTS = {
    "ray.io_rayservices.yaml": "kuberay-operator",
    "ray.io_rayclusters.yaml": "kuberay-operator",
    "karpenter.sh_nodepools.yaml": "karpenter",
    "karpenter.k8s.aws_ec2nodeclasses.yaml": "karpenter",
}


def crd_file(filename: str) -> Path:
    """A CRD as the chart that installs it carries it (crds/<filename>)."""
    if filename not in CRD_CHARTS:
        raise KeyError(f"{filename!r} is not a CRD of a pinned chart; known: {', '.join(sorted(CRD_CHARTS))}")
    return chart_dir(CRD_CHARTS[filename]) / "crds" / filename


def missing_subcharts(name: str, folder: Path) -> list[str]:
    """Subcharts (folder names under charts/) the lock pins that `folder` lacks, e.g. in a
    reference copy that holds only the parent chart; a subchart may also sit there as a .tgz."""
    charts = folder / "charts"
    return [
        sub
        for sub in load_lock().charts[name].subcharts
        if not (charts / sub / "Chart.yaml").is_file() and not any(charts.glob(f"{sub}-*.tgz"))
    ]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_chart(name: str, folder: Path) -> list[str]:
    """Files of the locked chart that differ from the lock or are missing in `folder` (a missing
    subchart is reported by missing_subcharts, not here)."""
    problems = []
    absent = set(missing_subcharts(name, folder))
    for locked in load_lock().charts[name].files:
        target = folder / locked.path
        parts = locked.path.split("/")
        if parts[0] == "charts" and len(parts) > 2 and parts[1] in absent:
            continue
        if not target.is_file():
            problems.append(f"{name}/{locked.path}: missing")
        elif sha256_of(target) != locked.sha256:
            problems.append(f"{name}/{locked.path}: sha256 differs from lock.json")
    return problems
