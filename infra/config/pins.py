"""Release pins: the set of versions that moves between stages as one release.

One file per environment, `environments/pins/<env>.yaml` (format in docs/environments.md,
"Release pins"). Written by `gpt-oss-platform promote` and `gpt-oss-platform pins set` (CI
records the gateway and governor image digests with it); read by the overlay resolution (the model revision
the environment serves comes from here), by `diff` and by the promotion gates.

The format lives in the config layer (it imports nothing of the toolkit but the YAML reader and
the error type), so overlay resolution reads pins without reaching up into infra/environments/;
infra/environments/pins.py re-exports it for the release tooling.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts import GOVERNOR_IMAGE_NAME
from infra.config.errors import ConfigError, problem
from infra.config.yaml_source import load_yaml, shown_path

PINS_SCHEMA = 1
PINS_DIR = Path("environments") / "pins"
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
REVISION_RE = re.compile(r"^[0-9a-f]{40}$")
HEADER = (
    '# Release pins of {env} (docs/environments.md, "Release pins"). Written by\n'
    "# `gpt-oss-platform promote` and `gpt-oss-platform pins set`; a change here changes what {env} deploys.\n"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImagePin(_Strict):
    """A container image: repository and tag, and the digest that makes it immutable."""

    repository: str = Field(min_length=1, description="Registry and repository, e.g. `rayproject/ray-llm`.")
    tag: str = Field(min_length=1, description="Tag, kept for people; the digest is what is deployed when set.")
    digest: str | None = Field(None, description="`sha256:<64 hex>`; null until CI has built and recorded it.")

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not DIGEST_RE.match(value):
            raise ValueError("must be sha256:<64 lower-case hex digits> (what `docker buildx` / `crane digest` print)")
        return value

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


class ChartPin(_Strict):
    name: str = Field(min_length=1, description="Helm chart name (charts/<name>/Chart.yaml).")
    version: str = Field(min_length=1, description="Chart version (Chart.yaml `version`).")


class ReleasePins(_Strict):
    """What a release is: model revisions, Ray image, gateway and governor images, serving chart."""

    schema_: int = Field(PINS_SCHEMA, alias="schema", description="Format version of this file.")
    models: dict[str, str] = Field(
        min_length=1,
        description="Model name -> Hugging Face commit (40 hex). An environment serves `model.name` at the "
        "revision its pins give that name.",
    )
    ray_image: ImagePin
    gateway_image: ImagePin
    # Optional in the file so pins written before the governor existed still load: missing means
    # "not built yet" (no digest), and the release leaves the governor out until CI records one.
    governor_image: ImagePin = Field(
        default_factory=lambda: ImagePin(repository=GOVERNOR_IMAGE_NAME, tag="0.1.0", digest=None),
        description="The cost governor image CI built (infra/operate/governor/Dockerfile); its digest is what deploys.",
    )
    chart: ChartPin

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: int) -> int:
        if value != PINS_SCHEMA:
            raise ValueError(f"this toolkit reads pins schema {PINS_SCHEMA}")
        return value

    @field_validator("models")
    @classmethod
    def _revisions(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name, revision in value.items() if not REVISION_RE.match(str(revision)))
        if bad:
            raise ValueError(f"revisions must be 40-hex Hugging Face commits: {', '.join(bad)}")
        return value

    def as_data(self) -> dict:
        """The pins as plain data, keys as in the file."""
        return self.model_dump(mode="json", by_alias=True)

    @property
    def release_id(self) -> str:
        """A short name of exactly this set of pins: equal pins, equal id, whoever computes it."""
        canonical = json.dumps(self.as_data(), sort_keys=True, separators=(",", ":"))
        return "r-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def flat(self) -> dict[str, str | None]:
        """One line per pin, for diffs and commit messages."""
        out: dict[str, str | None] = {f"model {name}": rev for name, rev in sorted(self.models.items())}
        out["ray image"] = f"{self.ray_image.repository}:{self.ray_image.tag}"
        out["ray image digest"] = self.ray_image.digest
        out["gateway image"] = f"{self.gateway_image.repository}:{self.gateway_image.tag}"
        out["gateway image digest"] = self.gateway_image.digest
        out["governor image"] = f"{self.governor_image.repository}:{self.governor_image.tag}"
        out["governor image digest"] = self.governor_image.digest
        out["chart"] = f"{self.chart.name} {self.chart.version}"
        return out


def pins_path(env: str, root: Path) -> Path:
    return root / PINS_DIR / f"{env}.yaml"


def parse_pins(data: object, source: str) -> ReleasePins:
    try:
        return ReleasePins.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            path = ".".join(str(p) for p in item["loc"]) or "<root>"
            if item["type"] == "missing":
                problems.append(problem(path, "required key is missing"))
            elif item["type"] == "extra_forbidden":
                problems.append(problem(path, "unknown key", item["input"]))
            else:
                problems.append(problem(path, item["msg"].removeprefix("Value error, "), item["input"]))
        raise ConfigError(problems, source) from None


def load_pins(env: str, root: Path) -> ReleasePins:
    """The pins of `env` under `root`; ConfigError naming the file and every problem."""
    path = pins_path(env, root)
    source = shown_path(path, root)
    if not path.exists():
        raise ConfigError([problem(source, "missing: every environment needs release pins; copy another environment's")], source)
    return parse_pins(load_yaml(path, root), source)


def render_pins(env: str, pins: ReleasePins) -> str:
    return HEADER.format(env=env) + yaml.safe_dump(pins.as_data(), sort_keys=False)


def write_pins(env: str, pins: ReleasePins, root: Path) -> Path:
    path = pins_path(env, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_pins(env, pins))
    return path
