"""Read EKS AMI releases out of awslabs/amazon-eks-ami's CHANGELOG.md (the release notes).

`gpt-oss-platform`'s vendored list (infra/catalog/eks_amis.yaml) is written from it by
`python -m infra.catalog.eks_ami_source CHANGELOG.md`: per release, per Kubernetes version,
whether an AL2023 x86_64 NVIDIA AMI was built, its managed node group release version
(`1.33.5-20251112`) and the NVIDIA kernel driver it ships (`kmod-nvidia-latest-dkms` or, on
older releases, `nvidia-driver-latest-dkms`, in the AL2023_x86_64_NVIDIA column).

The notes are HTML tables whose cells span columns (`colspan`); a cell's column is found by
adding up the spans before it, against the header row of the same table.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

RELEASE_RE = re.compile(r"^# (\[ABANDONED\] )?AMI Release (v\d{8})\s*$", re.MULTILINE)
K8S_RE = re.compile(r"<summary><b>Kubernetes (\d+\.\d+)</b></summary>")
ROW_RE = re.compile(r"<tr>(.*?)(?=<tr>|</table>)", re.DOTALL)
CELL_RE = re.compile(r"<t([dh])(?:\s+(?:colspan|rowspan)=\"(\d+)\")*[^>]*>(.*?)</t[dh]>", re.DOTALL)
DRIVER_PACKAGES = ("kmod-nvidia-latest-dkms", "nvidia-driver-latest-dkms")
NVIDIA_COLUMN = "AL2023_x86_64_NVIDIA"


@dataclass
class KubernetesBuild:
    kubernetes: str
    release_version: str | None = None
    nvidia_driver: str | None = None


@dataclass
class Release:
    name: str
    abandoned: bool
    builds: dict[str, KubernetesBuild] = field(default_factory=dict)


def _cells(row: str) -> list[tuple[str, int, str]]:
    """(kind, colspan, text) of each cell of one table row."""
    out = []
    for match in re.finditer(r"<t([dh])([^>]*)>(.*?)</t[dh]>", row, re.DOTALL):
        span = re.search(r'colspan="(\d+)"', match.group(2))
        out.append((match.group(1), int(span.group(1)) if span else 1, re.sub(r"<[^>]+>", "", match.group(3)).strip()))
    return out


def _driver(section: str) -> str | None:
    """The NVIDIA driver version in the AL2023_x86_64_NVIDIA column of a package table."""
    for table in section.split("<table>")[1:]:
        rows = [_cells(r) for r in ROW_RE.findall(table)]
        header = next((r for r in rows if r and r[0][2] == "Package"), None)
        if header is None or NVIDIA_COLUMN not in [c[2] for c in header]:
            continue
        wanted = [c[2] for c in header].index(NVIDIA_COLUMN)  # header cells span one column each
        for row in rows:
            if not row or row[0][2] not in DRIVER_PACKAGES:
                continue
            column = 0
            for _, span, text in row:
                if column <= wanted < column + span and text not in ("—", ""):
                    return text.split("-")[0]
                column += span
    return None


def parse_changelog(text: str) -> list[Release]:
    heads = list(RELEASE_RE.finditer(text))
    releases = []
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        body = text[head.end() : end]
        release = Release(name=head.group(2), abandoned=bool(head.group(1)))
        parts = K8S_RE.split(body)
        for k8s, section in zip(parts[1::2], parts[2::2], strict=True):
            ami = f"amazon-eks-node-al2023-x86_64-nvidia-{k8s}-{release.name}"
            if ami not in section:
                continue
            version = re.search(rf"{re.escape(ami)}</td>\s*<td[^>]*>([0-9.]+-\d{{8}})</td>", section)
            release.builds[k8s] = KubernetesBuild(k8s, version.group(1) if version else None, _driver(section))
        releases.append(release)
    return releases


def render_yaml(releases: list[Release], since: str, kubernetes: tuple[str, ...]) -> str:
    lines = []
    for release in releases:
        if release.name < since:
            continue
        builds = [release.builds[k] for k in kubernetes if k in release.builds]
        if not builds:
            continue
        lines.append(f"  {release.name}:")
        if release.abandoned:
            lines.append("    abandoned: true")
        lines.append("    kubernetes:")
        for build in builds:
            lines.append(
                f'      "{build.kubernetes}": {{release_version: "{build.release_version}", nvidia_driver: "{build.nvidia_driver}"}}'
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m infra.catalog.eks_ami_source CHANGELOG.md [since]
    changelog = Path(sys.argv[1]).read_text()
    since = sys.argv[2] if len(sys.argv) > 2 else "v20251016"
    sys.stdout.write(render_yaml(parse_changelog(changelog), since, ("1.32", "1.33", "1.34", "1.35")))
