"""EKS GPU node images (AL2023 NVIDIA, Bottlerocket NVIDIA) and the CUDA the serving image needs,
read from infra/catalog/eks_amis.yaml (sourced from the upstream release notes; see that file).

Pure functions that answer "does this alias / release version exist for this Kubernetes version,
and is its NVIDIA driver new enough for the Ray image's CUDA?", for the plan's node_images check
and for tests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

NODE_IMAGES_FILE = Path(__file__).parent / "eks_amis.yaml"
# The config's ami_family -> the section of eks_amis.yaml describing its NVIDIA images.
FAMILIES = {"al2023": "al2023_nvidia", "bottlerocket": "bottlerocket_nvidia"}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Build(_Frozen):
    release_version: str | None = Field(None, description="Managed node group release version, e.g. 1.33.5-20251112.")
    nvidia_driver: str = Field(description="NVIDIA kernel driver the image ships (a full version, or a branch: `580`).")


class ImageRelease(_Frozen):
    abandoned: bool = Field(False, description="Withdrawn upstream ([ABANDONED] in the release notes): never pin it.")
    kubernetes: dict[str, Build] = Field(description="Kubernetes minor version -> what this release built for it.")


class ImageFamily(_Frozen):
    source: str
    read: str
    releases: dict[str, ImageRelease]


class RayImage(_Frozen):
    tag: str
    cuda: str
    source: str
    compressed_gb: float = Field(gt=0, description="Compressed size of the image (linux/amd64), GB.")
    unpacked_ratio: float = Field(gt=0, description="Unpacked snapshot size / compressed size (assumption).")
    assumed_pull_mb_per_s: float = Field(gt=0, description="Assumed pull rate of a new node, MB/s (assumption).")

    def disk_gb(self) -> float:
        """Disk the image takes on a node: compressed layers plus the unpacked snapshot."""
        return self.compressed_gb * (1 + self.unpacked_ratio)

    def first_pull_minutes(self) -> float:
        return self.compressed_gb * 1000 / self.assumed_pull_mb_per_s / 60


class NodeImages(_Frozen):
    al2023_nvidia: ImageFamily
    bottlerocket_nvidia: ImageFamily
    ray_image: RayImage
    cuda_driver_minimum: dict[str, str]

    def family(self, ami_family: str) -> ImageFamily:
        return getattr(self, FAMILIES[ami_family])

    def minimum_driver(self, cuda: str | None = None) -> str:
        cuda = cuda or self.ray_image.cuda
        return self.cuda_driver_minimum[cuda]


@lru_cache(maxsize=1)
def load_node_images(path: Path = NODE_IMAGES_FILE) -> NodeImages:
    raw = yaml.safe_load(path.read_text())
    minimum = {k: str(v) for k, v in raw.pop("cuda_driver_minimum").items() if k not in ("source", "read")}
    return NodeImages.model_validate({**raw, "cuda_driver_minimum": minimum})


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def driver_at_least(driver: str, minimum: str) -> bool:
    """Whether `driver` meets `minimum`, compared on the parts `driver` states: a branch (`580`)
    meets a minimum of the same branch (the branch's releases since CUDA's GA carry it)."""
    have, want = _version(driver), _version(minimum)
    return have >= want[: len(have)]


def alias_problems(ami_family: str, version: str, kubernetes: str, images: NodeImages | None = None) -> list[str]:
    """Why the Karpenter alias `<family>@<version>` cannot serve a Kubernetes `kubernetes` GPU node
    running the pinned Ray image; empty when it can."""
    images = images or load_node_images()
    family = images.family(ami_family)
    release = family.releases.get(version)
    alias = f"{ami_family}@{version}"
    if release is None:
        near = sorted(family.releases, key=lambda name: abs(_digits(name) - _digits(version)))[:2]
        return [
            f"AMI alias {alias} is not an upstream release of the {ami_family} NVIDIA image "
            f"(infra/catalog/eks_amis.yaml); nearest: {', '.join(sorted(near))}: Karpenter would resolve it to an "
            "SSM parameter that does not exist and launch no node"
        ]
    if release.abandoned:
        return [f"AMI alias {alias} was abandoned upstream: pin another release"]
    build = release.kubernetes.get(kubernetes)
    if build is None:
        return [f"AMI alias {alias} has no NVIDIA image for Kubernetes {kubernetes} (built for {', '.join(release.kubernetes)})"]
    return driver_problems(alias, build.nvidia_driver, images)


def release_version_problems(
    ami_family: str, release_version: str, kubernetes: str, images: NodeImages | None = None
) -> list[str]:
    """Why a managed node group's `release_version` does not exist or cannot run the Ray image."""
    images = images or load_node_images()
    family = images.family(ami_family)
    if ami_family == "bottlerocket":
        # Bottlerocket's managed node group release versions are `<os version>-<commit>`, e.g. `1.63.0-ab12cd34`.
        return alias_problems(ami_family, "v" + release_version.split("-")[0], kubernetes, images)
    for name, release in family.releases.items():
        build = release.kubernetes.get(kubernetes)
        if build is not None and build.release_version == release_version:
            if release.abandoned:
                return [f"release_version {release_version} ({name}) was abandoned upstream: pin another release"]
            return driver_problems(f"release_version {release_version}", build.nvidia_driver, images)
    known = sorted(
        (
            b.release_version
            for r in family.releases.values()
            for k, b in r.kubernetes.items()
            if k == kubernetes and b.release_version
        ),
        key=lambda version: version.rsplit("-", 1)[-1],
        reverse=True,
    )[:3]
    return [
        f"release_version {release_version} is not an EKS {ami_family} NVIDIA release for Kubernetes {kubernetes} "
        f"(infra/catalog/eks_amis.yaml); latest known: {', '.join(known) or 'none'}"
    ]


def driver_problems(subject: str, driver: str, images: NodeImages | None = None) -> list[str]:
    images = images or load_node_images()
    minimum = images.minimum_driver()
    if driver_at_least(driver, minimum):
        return []
    return [
        f"{subject} ships NVIDIA driver {driver}, below {minimum}, the minimum of CUDA {images.ray_image.cuda} "
        f"(the Ray image {images.ray_image.tag}): vLLM fails with 'CUDA driver version is insufficient'"
    ]


def _digits(name: str) -> int:
    digits = "".join(ch for ch in name if ch.isdigit())
    return int(digits or 0)
