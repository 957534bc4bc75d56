"""Load and validate an environment, from a stack file or from the running Pulumi program.

`validate_environment` is the one entry point: it returns a typed `EnvironmentConfig` or raises
`ConfigError` listing every problem with its key path and value. It checks sections one by
one so that an unknown key in `tags` does not hide a sizing error in `node_pools`.
"""

from __future__ import annotations

import copy as copy_module
import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from infra.catalog import load_catalog
from infra.config import rules
from infra.config.bootstrap import bootstrap_messages
from infra.config.cross_env import cross_environment_problems
from infra.config.errors import ConfigError, Problem, problem
from infra.config.models import EnvironmentConfig, NodePoolConfig, ServingConfig
from infra.config.overlays import attribute, has_overlay, overlay_path, resolve
from infra.config.placeholders import placeholder_problems
from infra.config.regions import AWS_REGION_KEY, aws_region_problems, region_problems
from infra.config.served_rules import served_model_problems
from infra.config.stack_files import ENVIRONMENT_CONFIG_KEY, OWNED_KEYS, PROJECT, drift_problems, read_stack_document
from infra.config.tiers import guardrail_problems, load_tiers
from infra.config.yaml_source import shown_path
from infra.paths import REPO_ROOT

ENVIRONMENT_KEY = "environment"
MANAGED_API_KEY = "managedApiKey"
# A config section's model: `_lenient` returns an instance of the model it is given.
Section = TypeVar("Section", bound=BaseModel)


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


def _lenient(model: type[Section], raw: Any) -> Section | None:
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
    model_raw = raw.get("model")
    model = model_raw if isinstance(model_raw, dict) else {}
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
    return pools, serving, model_name


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
        found += rules.cross_section_problems(list(env.node_pools), env.serving, env.model.name, env.gateway)
        found += served_model_problems(env)
    else:
        found += rules.cross_section_problems(*_sections_for_rules(raw))
    reported = {p.path for p in found}
    if "region" not in reported:
        found += region_problems(raw.get("region"))
    if "tier" not in reported:
        # Guardrails judge the values in force: the parsed config with its defaults, or, when a
        # section is broken, what the user wrote.
        found += guardrail_problems(raw.get("tier"), env.model_dump(by_alias=True) if env is not None else raw)
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
    return read_stack_document(env_name, root).get("config") or {}


def other_environments(env_name: str, root: Path) -> tuple[dict[str, Any], list[Problem]]:
    """The raw environment of every other stack under `root`, for the cross-environment rules,
    and a problem for each stack file that cannot be read (the comparison would be incomplete)."""
    others: dict[str, Any] = {}
    found: list[Problem] = []
    for name in stack_names(root):
        if name == env_name:
            continue
        try:
            others[name] = read_stack_file(name, root).get(ENVIRONMENT_CONFIG_KEY)
        except ConfigError as error:
            found.append(problem(f"Pulumi.{name}.yaml", f"cannot be compared with: {error.problems[0].render()}"))
    return others, found


def boundary_problems(
    env_name: str, config: dict[str, Any], aws_region: Any, root: Path, drift_keys: tuple[str, ...] = OWNED_KEYS
) -> list[Problem]:
    """What only the repository can tell about one stack's config: `aws:region` against the
    environment's region, a stack file that differs from its overlay, clashes with the other
    environments. Run the same way by the plan (from the file) and by `pulumi up` (from the
    config Pulumi passes)."""
    raw = config.get(ENVIRONMENT_CONFIG_KEY)
    found = aws_region_problems(aws_region, raw.get("region") if isinstance(raw, dict) else None)
    if has_overlay(env_name, root):
        found += drift_problems(env_name, config, root, drift_keys)
    others, unreadable = other_environments(env_name, root)
    return found + unreadable + cross_environment_problems(env_name, raw, others)


def environment_from_stack_file(env_name: str, root: Path = REPO_ROOT) -> EnvironmentConfig:
    config = read_stack_file(env_name, root)
    source = f"Pulumi.{env_name}.yaml"
    raw = config.get(ENVIRONMENT_CONFIG_KEY)
    if raw is None:
        raise ConfigError([problem(ENVIRONMENT_CONFIG_KEY, "missing from the stack file")], source)
    found = boundary_problems(env_name, config, config.get(AWS_REGION_KEY), root)
    env: EnvironmentConfig | None = None
    try:
        env = validate_environment(raw, stack=env_name, source=source)
    except ConfigError as error:
        found = error.problems + found
    if found and has_overlay(env_name, root):
        # The stack file is generated: name the overlay (or base) file and key the user edits.
        raise ConfigError(attribute(found, env_name, root), source)
    if found or env is None:
        raise ConfigError(found, source)
    return env


def validate_overlay(env_name: str, root: Path = REPO_ROOT) -> EnvironmentConfig:
    """base + overlay + pins of `env_name` validated as the plan validates them, before anything
    is rendered, every problem named at the file and key the user edits (`envs render`, `plan`)."""
    source = shown_path(overlay_path(env_name, root), root)
    resolved = resolve(env_name, root)
    others, unreadable = other_environments(env_name, root)
    found = unreadable + cross_environment_problems(env_name, resolved, others)
    try:
        env = validate_environment(resolved, stack=env_name, source=source)
    except ConfigError as error:
        raise ConfigError(attribute(error.problems + found, env_name, root), source) from None
    if found:
        raise ConfigError(attribute(found, env_name, root), source)
    return env


# The folder holding the stack files and environments/ the running program compares its config
# with: the project directory under `pulumi up`; the offline plan points it at its `--stacks`
# folder (infra/plan/runner.py), so a plan of a variant stack is judged against that variant.
STACKS_DIR_ENV = "GPT_OSS_PLATFORM_STACKS_DIR"


def stacks_dir() -> Path:
    return Path(os.environ.get(STACKS_DIR_ENV) or REPO_ROOT)


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
        # The same checks as the plan's, on the config Pulumi passed: a hand-edited stack file
        # or `pulumi config set` on an owned key is refused here too.
        # `pulumi:disable-default-providers` is the engine's to enforce; it is compared in the file.
        aws_region = pulumi.Config("aws").get("region")
        stack_config = {ENVIRONMENT_CONFIG_KEY: raw, AWS_REGION_KEY: aws_region}
        found += boundary_problems(stack, stack_config, aws_region, stacks_dir(), (ENVIRONMENT_CONFIG_KEY, AWS_REGION_KEY))
    key = None
    if config.get(MANAGED_API_KEY) is not None:
        if not is_config_secret(f"{PROJECT}:{MANAGED_API_KEY}"):
            # Never echo the value: the message names the key only.
            found.append(problem(MANAGED_API_KEY, "is stored in plain text; set it with `pulumi config set --secret`"))
        key = config.get_secret(MANAGED_API_KEY)
    elif isinstance(raw, dict) and (raw.get("fallback") or {}).get("allowed"):
        found.append(
            problem(
                MANAGED_API_KEY, "required when fallback.allowed is true; set it with `pulumi config set --secret managedApiKey`"
            )
        )
    if env is not None:
        # Inputs that only exist after this stack has run once are never required (the first `up`
        # would deadlock): the program leaves out what needs them and says so (infra/config/bootstrap.py).
        for message in bootstrap_messages(env):
            pulumi.log.warn(f"bootstrap: {message}")
        if not pulumi.runtime.is_dry_run() and load_tiers().tiers[env.tier].refuse_placeholders:
            found += [
                problem(p.path, f"{env.tier} tier refuses example values at `pulumi up`: {p.message}", p.value)
                for p in placeholder_problems(env.model_dump(mode="json", by_alias=True))
            ]
    if found or env is None:
        raise ConfigError(found, source)
    return env, key


# The deploy workflow's role (docs/deploy.md "CI role"), set per stack outside Git by the workflow
# (`pulumi config set ciRoleArn <arn>`): the program makes it cluster admin like admin_role_arns,
# so CI is never Unauthorized after a person ran the first `up`.
CI_ROLE_KEY = "ciRoleArn"
ROLE_ARN_RE = r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+"


def ci_role_arn_from_pulumi() -> str | None:
    """The CI role ARN from the running stack's config, or None; ConfigError when malformed."""
    import re

    import pulumi

    value = pulumi.Config(PROJECT).get(CI_ROLE_KEY)
    if value is None or value == "":
        return None
    if not re.fullmatch(ROLE_ARN_RE, value):
        raise ConfigError(
            [problem(CI_ROLE_KEY, "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)", value)],
            f"stack {pulumi.get_stack()!r} config",
        )
    return value


def with_ci_admin(env: EnvironmentConfig, ci_role: str | None) -> EnvironmentConfig:
    """`env` with the CI role among cluster.admin_role_arns (once)."""
    if ci_role is None or ci_role in env.cluster.admin_role_arns:
        return env
    cluster = env.cluster.model_copy(update={"admin_role_arns": [*env.cluster.admin_role_arns, ci_role]})
    return env.model_copy(update={"cluster": cluster})


# What the offline plan renders for the gateway image before CI has recorded a digest, so the
# serving chart is still checked (never deployed: without a digest `pulumi up` leaves the serving
# release out, infra/config/bootstrap.py).
PREVIEW_IMAGE_DIGEST = "sha256:" + "0" * 64
