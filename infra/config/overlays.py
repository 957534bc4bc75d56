"""Base + overlay resolution: environments/base.yaml, environments/<env>.yaml and the release
pins environments/pins/<env>.yaml become the raw environment that `validate_environment` checks
and that `gpt-oss-platform envs render` writes into Pulumi.<env>.yaml.

Rules (docs/environments.md, "Base and overlays"):
- mappings merge key by key, recursively; lists and scalars in the overlay replace the base's
  whole (a node pool list is one value: partial list merges are where copies go wrong);
- `null` is a value like any other (e.g. `budget.forecast_alert_percent: null` turns it off);
- `name` comes from the overlay's file name; `tier` is declared by each overlay, never by the base;
- keys that must differ per environment (UNIQUE_KEYS) are never set in the base;
- `model.revision` is never set in either file: it is the release pin of `model.name`.
"""

from __future__ import annotations

import copy
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

# The module, not its names: infra.config.pins imports infra.config.errors, whose package
# imports this module; names are looked up when resolve() runs, after both have loaded.
from infra.config import pins as release_pins
from infra.config.errors import ConfigError, Problem, problem
from infra.config.models import EnvironmentConfig
from infra.config.yaml_source import load_yaml, shown_path

ENVIRONMENTS_DIR = "environments"
BASE_FILE = "base.yaml"
# Each environment needs its own: a shared one is a clash the cross-environment rules refuse.
UNIQUE_KEYS = ("cluster.name", "cluster.network.vpc_cidr", "tags.cost-center")
OVERLAY_ONLY = ("name", "tier", *UNIQUE_KEYS)


def environments_dir(root: Path) -> Path:
    return root / ENVIRONMENTS_DIR


def overlay_path(env: str, root: Path) -> Path:
    return environments_dir(root) / f"{env}.yaml"


def overlay_names(root: Path) -> list[str]:
    """Environments with an overlay under `root`/environments (base.yaml excluded)."""
    folder = environments_dir(root)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.name != BASE_FILE)


def has_overlay(env: str, root: Path) -> bool:
    return overlay_path(env, root).is_file()


def merge(base: Any, overlay: Any) -> Any:
    """`overlay` over `base`: mappings key by key, everything else replaced whole."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = copy.deepcopy(base)
        for key, value in overlay.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(overlay)


def get_path(data: Any, dotted: str) -> tuple[bool, Any]:
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _written_prefix(data: Any, parts: list[str]) -> int:
    """How many leading `parts` of a key path `data` writes (lists count as one value)."""
    node, depth = data, 0
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            break
        node, depth = node[part], depth + 1
    return depth


def attribute(problems: list[Problem], env: str, root: Path) -> list[Problem]:
    """`problems` of the resolved environment, each re-named at the file and key the user edits:
    the overlay when it writes the key (or the section holding it) or the key is one each overlay
    owns (`name`, `tier`, the unique keys), else the base when the base does, else the overlay
    (where a missing key is added); `model.revision` at the pins. Problems that already name a
    file or a Pulumi config key are kept as they are."""
    overlay_file = shown_path(overlay_path(env, root), root)
    base_file = shown_path(environments_dir(root) / BASE_FILE, root)
    try:
        overlay = _mapping(load_yaml(overlay_path(env, root), root), overlay_file)[0]
        base = read_base(root)
    except ConfigError:
        return problems
    out = []
    for found in problems:
        key = found.path
        if ".yaml" in key or ":" in key or key == "<root>":
            # Already names a file, or a Pulumi config key of the stack file (`aws:region`).
            out.append(found)
            continue
        parts = key.replace("[", ".[").split(".")
        parts = [part for part in parts if not part.startswith("[")] or parts
        if key.startswith("model.revision"):
            where = shown_path(release_pins.pins_path(env, root), root)
        elif any(key == unique or key.startswith(unique + ".") for unique in OVERLAY_ONLY):
            where = overlay_file  # per environment: only ever written in the overlay
        elif _written_prefix(overlay, parts) >= max(_written_prefix(base, parts), 1) or not _written_prefix(base, parts):
            where = overlay_file
        else:
            where = base_file
        out.append(Problem(f"{where}: {key}", found.message, found.value, found.has_value))
    return out


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside Optional[...] / list[...] / Annotated[...], or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        inner = _model_of(arg)
        if inner is not None:
            return inner
    return None


def ordered(value: Any, model: type[BaseModel] | None = EnvironmentConfig) -> Any:
    """`value` with mapping keys in the order the typed model declares them (unknown keys last),
    so a rendered stack file reads in the same order as the configuration reference."""
    if isinstance(value, list):
        return [ordered(item, model) for item in value]
    if not isinstance(value, dict) or model is None:
        return value
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    keys = [k for k in fields if k in value] + [k for k in value if k not in fields]
    return {k: ordered(value[k], _model_of(fields[k].annotation) if k in fields else None) for k in keys}


def _mapping(document: Any, name: str) -> tuple[dict, list[Problem]]:
    if document is None:
        return {}, []
    if not isinstance(document, dict):
        return {}, [problem(name, "must be a mapping of environment settings", document)]
    return document, []


def read_base(root: Path) -> dict:
    path = environments_dir(root) / BASE_FILE
    name = shown_path(path, root)
    if not path.exists():
        return {}
    base, found = _mapping(load_yaml(path, root), name)
    for key in OVERLAY_ONLY:
        present, value = get_path(base, key)
        if present:
            found.append(problem(f"{name}: {key}", "is per environment: move it to each overlay environments/<env>.yaml", value))
    present, value = get_path(base, "model.revision")
    if present:
        found.append(
            problem(f"{name}: model.revision", "is a release pin: set it in environments/pins/<env>.yaml (models.<name>)", value)
        )
    if found:
        raise ConfigError(found, name)
    return base


def resolve(env: str, root: Path) -> dict:
    """The raw environment of `env`: base, overlay, pins; ConfigError naming the file of every
    problem found while resolving (the typed validation runs on the result, elsewhere)."""
    path = overlay_path(env, root)
    name = shown_path(path, root)
    if not path.is_file():
        known = ", ".join(overlay_names(root)) or "none"
        raise ConfigError([problem(name, f"no overlay for environment {env!r}; overlays: {known}")], name)
    found: list[Problem] = []
    base: dict = {}
    try:
        base = read_base(root)
    except ConfigError as error:
        found += error.problems
    overlay, wrong = _mapping(load_yaml(path, root), name)
    found += wrong
    if "name" in overlay and overlay["name"] != env:
        found.append(problem(f"{name}: name", f"comes from the file name ({env!r}); remove it", overlay["name"]))
    if "tier" not in overlay:
        found.append(problem(f"{name}: tier", "required: every environment declares its tier (dev, staging or prod)"))
    present, value = get_path(overlay, "model.revision")
    if present:
        found.append(
            problem(
                f"{name}: model.revision",
                f"is a release pin: set it in {shown_path(release_pins.pins_path(env, root), root)}",
                value,
            )
        )
    resolved = merge(base, overlay)
    resolved["name"] = env
    try:
        pins = release_pins.load_pins(env, root)
    except ConfigError as error:
        found += error.problems
    else:
        model = resolved.get("model")
        model_name = model.get("name") if isinstance(model, dict) else None
        if isinstance(model_name, str):
            if model_name in pins.models:
                model["revision"] = pins.models[model_name]
            else:
                pins_name = shown_path(release_pins.pins_path(env, root), root)
                found.append(
                    problem(
                        f"{pins_name}: models",
                        f"has no revision for {model_name}, the model {env} serves; add `{model_name}: <40-hex commit>`",
                        sorted(pins.models),
                    )
                )
        # The gateway image CI built and recorded is a release pin too: its digest reaches the
        # chart through gateway.image.digest (the repository stays config: this stack's ECR by default).
        if pins.gateway_image.digest:
            resolved.setdefault("gateway", {}).setdefault("image", {})["digest"] = pins.gateway_image.digest
        # Likewise the governor image (built by the same workflow into its own ECR repository).
        if pins.governor_image.digest:
            resolved.setdefault("governor", {}).setdefault("image", {})["digest"] = pins.governor_image.digest
    if found:
        raise ConfigError(found, f"environment {env!r} (environments/)")
    return ordered(resolved)
