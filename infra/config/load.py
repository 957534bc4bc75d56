"""Load and validate an environment, from a stack file or from the running Pulumi program.

`validate_environment` is the one entry point: it returns a typed `EnvironmentConfig` or raises
`ConfigError` listing every problem with its key path and value. It checks sections one by
one so that an unknown key in `tags` does not hide a sizing error in `node_pools`.
"""

from __future__ import annotations

import copy as copy_module
import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from infra.config import rules
from infra.config.errors import ConfigError, Problem, problem
from infra.catalog import load_catalog
from infra.paths import REPO_ROOT
from infra.config.models import EnvironmentConfig, NodePoolConfig, ServingConfig

PROJECT = "gpt-oss-platform"
ENVIRONMENT_KEY = "environment"
MANAGED_API_KEY = "managedApiKey"


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def unwrap_model(annotation: Any) -> Any:
    """The model class inside Optional[...] / list[...] / dict[str, ...], or None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return unwrap_model(arg)
    if origin in (list, dict):
        return unwrap_model(typing.get_args(annotation)[-1])
    if typing.get_origin(annotation) is typing.Annotated:
        return unwrap_model(typing.get_args(annotation)[0])
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _keys_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a user may write at `loc` (aliases where set), for spelling suggestions."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        current = unwrap_model(field.annotation) if field else None
    if current is None:
        return []
    return [f.alias or n for n, f in current.model_fields.items()]


def _from_validation_error(error: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> list[Problem]:
    found = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = _path(prefix + loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _keys_at(model, loc[:-1]), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            found.append(problem(path, f"unknown key{hint}", item["input"]))
        elif kind == "missing":
            found.append(problem(path, "required key is missing"))
        else:
            message = item["msg"].removeprefix("Value error, ")
            found.append(problem(path, message, item["input"]))
    return found


def _without(raw: Any, locs: list[tuple[Any, ...]]) -> Any:
    """A deep copy of `raw` with the keys at `locs` removed."""
    copy = copy_module.deepcopy(raw)
    for loc in locs:
        node = copy
        for part in loc[:-1]:
            node = node[part]
        node.pop(loc[-1], None)
    return copy


def _lenient(model: type[BaseModel], raw: Any) -> BaseModel | None:
    """Parse one section ignoring unknown keys (already reported), so the cross-section rules
    still see a pool with a misspelled key; None when anything else is wrong with it."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        if not all(e["type"] == "extra_forbidden" for e in errors):
            return None
        try:
            return model.model_validate(_without(raw, [tuple(e["loc"]) for e in errors]))
        except ValidationError:
            return None


def _sections_for_rules(raw: dict) -> tuple[list[NodePoolConfig], ServingConfig | None, str | None]:
    """The sections the cross-section rules join, parsed leniently from `raw` (another section
    may be broken): pools, serving (None if unusable) and the model name (None if unknown)."""
    # Sizing needs only the model's name: judge it even when another model field is wrong.
    model = raw.get("model") if isinstance(raw.get("model"), dict) else {}
    model_name = model.get("name") if model.get("name") in load_catalog().models else None
    serving = _lenient(ServingConfig, raw.get("serving"))
    pools: list[NodePoolConfig] = []
    pools_raw = raw.get("node_pools")
    if isinstance(pools_raw, list):
        for item in pools_raw:
            pool = _lenient(NodePoolConfig, item)
            if pool is None:
                return [], None, None  # the pool list is unusable; its own errors are reported already
            pools.append(pool)
    return pools, serving, model_name  # type: ignore[return-value]


def validate_environment(raw: Any, *, stack: str | None = None, source: str = "environment config") -> EnvironmentConfig:
    """Typed config or ConfigError listing every problem. `stack` must equal the environment name.

    The only way to build an EnvironmentConfig that the program accepts: each section is checked
    by its model, then the rules that join sections run once, over the parsed config or, when a
    section is broken, over whichever sections still parse.
    """
    if not isinstance(raw, dict):
        raise ConfigError([problem(ENVIRONMENT_KEY, "must be a mapping of settings", raw)], source)
    found: list[Problem] = []
    env: EnvironmentConfig | None = None
    try:
        env = EnvironmentConfig.model_validate(raw)
    except ValidationError as error:
        found += _from_validation_error(error, EnvironmentConfig)
    if env is not None:
        found += rules.cross_section_problems(list(env.node_pools), env.serving, env.model.name)
    else:
        found += rules.cross_section_problems(*_sections_for_rules(raw))
    if stack is not None and raw.get("name") != stack:
        found.append(problem("name", f"must equal the stack name {stack!r}", raw.get("name")))
    if found or env is None:
        raise ConfigError(found, source)
    return env


# Promotion order of the stacks this repository ships; other stacks sort after them by name.
STACK_ORDER = ("dev", "staging", "prod")


def stack_names(root: Path = REPO_ROOT) -> list[str]:
    """Every stack with a Pulumi.<name>.yaml in `root`, in promotion order."""
    found = [p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")]
    return sorted(found, key=lambda n: (STACK_ORDER.index(n) if n in STACK_ORDER else len(STACK_ORDER), n))


def read_stack_file(env_name: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    """The `config:` mapping of Pulumi.<env>.yaml, as Pulumi would pass it to the program."""
    path = root / f"Pulumi.{env_name}.yaml"
    if not path.exists():
        stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError([problem("ENV", f"no stack file {path.name}; stacks: {', '.join(stacks)}", env_name)])
    document = yaml.safe_load(path.read_text()) or {}
    return document.get("config") or {}


def environment_from_stack_file(env_name: str, root: Path = REPO_ROOT) -> EnvironmentConfig:
    config = read_stack_file(env_name, root)
    raw = config.get(f"{PROJECT}:{ENVIRONMENT_KEY}")
    if raw is None:
        raise ConfigError([problem(f"{PROJECT}:{ENVIRONMENT_KEY}", "missing from the stack file")], f"Pulumi.{env_name}.yaml")
    return validate_environment(raw, stack=env_name, source=f"Pulumi.{env_name}.yaml")


def environment_from_pulumi() -> tuple[EnvironmentConfig, Any]:
    """The typed environment and the managed API key (a secret Output, or None), read from the
    running stack's config. Every problem, including a missing or plain-text key, in one error."""
    import pulumi
    from pulumi.runtime.config import is_config_secret

    stack = pulumi.get_stack()
    config = pulumi.Config(PROJECT)
    source = f"stack {stack!r} config"
    found: list[Problem] = []
    env: EnvironmentConfig | None = None
    raw = config.get_object(ENVIRONMENT_KEY)
    if raw is None:
        found.append(problem(f"{PROJECT}:{ENVIRONMENT_KEY}", "missing; see Pulumi.dev.yaml for a complete example"))
    else:
        try:
            env = validate_environment(raw, stack=stack, source=source)
        except ConfigError as error:
            found += error.problems
    key = None
    if config.get(MANAGED_API_KEY) is not None:
        if not is_config_secret(f"{PROJECT}:{MANAGED_API_KEY}"):
            # Never echo the value: the message names the key only.
            found.append(problem(MANAGED_API_KEY, "is stored in plain text; set it with `pulumi config set --secret`"))
        key = config.get_secret(MANAGED_API_KEY)
    elif isinstance(raw, dict) and (raw.get("fallback") or {}).get("allowed"):
        found.append(
            problem(MANAGED_API_KEY, "required when fallback.allowed is true; set it with `pulumi config set --secret managedApiKey`")
        )
    if env is not None and env.gateway.image.digest is None:
        found.append(
            problem(
                "gateway.image.digest",
                "required by `pulumi up`: the sha256 digest of the gateway image that CI built and recorded in the "
                "release pins (docs/operating.md); the offline plan uses a placeholder",
            )
        )
    if found or env is None:
        raise ConfigError(found, source)
    return env, key
