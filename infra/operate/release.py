"""The release pins of a deployed environment, for the smoke record (docs/environments.md "Release pins").

Read from `environments/pins/<env>.yaml` where the environment has one; otherwise derived from
what this checkout deploys: the model and revision of the stack file, the pinned Ray image, the
gateway image of the stack file (`gateway.image`), and the chart's version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.config.models import EnvironmentConfig
from infra.paths import CHART_DIR, REPO_ROOT

PINS_DIR = Path("environments") / "pins"


def deployed_pins(env: EnvironmentConfig, root: Path = REPO_ROOT) -> dict[str, Any]:
    path = root / PINS_DIR / f"{env.name}.yaml"
    if path.is_file():
        return yaml.safe_load(path.read_text())
    from infra.versions import RAY_IMAGE_REPOSITORY, ray_image_tag

    image = env.gateway.image
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    return {
        "schema": 1,
        "models": {env.model.name: env.model.revision},
        "ray_image": {"repository": RAY_IMAGE_REPOSITORY, "tag": ray_image_tag(), "digest": None},
        # The stack pulls the gateway by digest; the short digest stands in for a tag.
        "gateway_image": {
            "repository": image.repository or env.registry.repository,
            "tag": (image.digest or "sha256:unset")[7:19],
            "digest": image.digest,
        },
        "chart": {"name": chart["name"], "version": str(chart["version"])},
    }
