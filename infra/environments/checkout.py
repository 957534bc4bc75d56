"""The pins that come with the code: what this checkout deploys whatever an environment's pins say.

The Ray image (infra/versions.py) and the serving chart (charts/gpt-oss-serving/Chart.yaml) are
part of the program, not per-environment switches: a release whose Ray image or chart version
differs from the checkout cannot be applied from it. `pins check` and the promotion gate
`checkout` say so before anything is applied; `pins sync` writes the checkout's values into the
first stage's pins (dev tracks the checkout; later stages get them only by promotion).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.environments.pins import ChartPin, ImagePin, ReleasePins
from infra.paths import CHART_DIR
from infra.versions import RAY_IMAGE_REPOSITORY, ray_image_tag


def checkout_chart(chart_dir: Path = CHART_DIR) -> ChartPin:
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    return ChartPin(name=str(chart["name"]), version=str(chart["version"]))


def checkout_ray_image() -> tuple[str, str]:
    return RAY_IMAGE_REPOSITORY, ray_image_tag()


def checkout_mismatches(pins: ReleasePins) -> list[str]:
    """One line per code-bound pin that differs from this checkout (empty: deployable from here)."""
    found = []
    repository, tag = checkout_ray_image()
    if (pins.ray_image.repository, pins.ray_image.tag) != (repository, tag):
        found.append(
            f"ray_image {pins.ray_image.repository}:{pins.ray_image.tag} differs from this checkout's "
            f"{repository}:{tag} (infra/versions.py)"
        )
    chart = checkout_chart()
    if pins.chart != chart:
        found.append(
            f"chart {pins.chart.name} {pins.chart.version} differs from this checkout's {chart.name} {chart.version} "
            "(charts/gpt-oss-serving/Chart.yaml)"
        )
    return found


def synced_with_checkout(pins: ReleasePins) -> ReleasePins:
    """`pins` with the code-bound pins taken from this checkout (the Ray image digest is kept
    only while the tag is unchanged: a digest belongs to one tag)."""
    repository, tag = checkout_ray_image()
    same = (pins.ray_image.repository, pins.ray_image.tag) == (repository, tag)
    ray = ImagePin(repository=repository, tag=tag, digest=pins.ray_image.digest if same else None)
    return pins.model_copy(update={"ray_image": ray, "chart": checkout_chart()})
