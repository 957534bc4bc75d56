"""Run the real Pulumi program (infra/__main__.py) under Pulumi's mock engine.

No Pulumi CLI, no cloud credentials: the stack file is turned into the config bag the CLI
would pass, secure values become placeholders (they cannot be decrypted here), and the
program runs exactly as in `pulumi preview`, registering its resources with the recorder.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config import (
    MANAGED_API_KEY,
    PROJECT,
    EnvironmentConfig,
    environment_from_stack_file,
    read_stack_file,
)
from infra.config.bootstrap import OFFLINE_PLAN_ENV
from infra.config.errors import ConfigError, problem
from infra.config.load import STACKS_DIR_ENV
from infra.paths import PULUMI_PROJECT_FILE, REPO_ROOT
from infra.plan.mocks import RecordingMocks, RecordingMonitor, Registration

# What a secure config value reads as offline. It is marked secret like the real one, so the
# plan shows where a secret flows; the plan's secret scan proves it never leaks.
PLACEHOLDER_SECRET = "offline-plan-placeholder-secret"
# Before CI has built the gateway image there is no digest; a preview (the offline plan is one)
# shows a placeholder, listed among the plan's placeholders. `pulumi up` refuses.
DIGEST_KEY = "gateway.image.digest"


@dataclass
class ProgramRun:
    env: EnvironmentConfig
    stack: str
    registrations: list[Registration]
    placeholders: list[str]
    # The directory the program ran in (`main` of Pulumi.yaml): relative paths in resource
    # inputs resolve against it, as they do under the Pulumi CLI.
    workdir: Path


def program_dir(project_file: Path = PULUMI_PROJECT_FILE) -> Path:
    """`main` of Pulumi.yaml, where the Pulumi CLI runs the program (its working directory)."""
    project = yaml.safe_load(project_file.read_text()) or {}
    return (project_file.parent / str(project.get("main") or ".")).resolve()


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration, then restore what was there."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pulumi_config_bag(stack_config: dict, env: EnvironmentConfig) -> tuple[dict[str, str], list[str], list[str]]:
    """(config, secret keys, keys given placeholders) as the Pulumi CLI would hand them over."""
    bag: dict[str, str] = {}
    secret_keys: list[str] = []
    placeholders: list[str] = []
    plain_secret = f"{PROJECT}:{MANAGED_API_KEY}"
    for key, value in stack_config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            bag[key] = PLACEHOLDER_SECRET
            secret_keys.append(key)
            placeholders.append(key)
        elif key == plain_secret:
            raise ConfigError(
                [problem(MANAGED_API_KEY, "is stored in plain text in the stack file; use `pulumi config set --secret`")],
                f"Pulumi.{env.name}.yaml",
            )
        elif isinstance(value, (dict, list)):
            bag[key] = json.dumps(value)
        else:
            bag[key] = str(value)
    if not env.gateway.image.digest:
        placeholders.append(DIGEST_KEY)
    if env.fallback.allowed and plain_secret not in bag:
        # The committed stack files carry no key (it is set per clone with --secret).
        bag[plain_secret] = PLACEHOLDER_SECRET
        secret_keys.append(plain_secret)
        placeholders.append(plain_secret)
    return bag, secret_keys, placeholders


def run_with_config(
    stack: str, bag: dict[str, str], secret_keys: list[str], region: str = "us-east-1", *, preview: bool = True
) -> list[Registration]:
    """Run the program with a config bag exactly as the CLI would pass it; the registrations.
    `preview=False` runs it as `pulumi up` does (what a deployment refuses, it refuses here too)."""
    return run_for_exports(stack, bag, secret_keys, region, preview=preview)[0]


def run_for_exports(
    stack: str, bag: dict[str, str], secret_keys: list[str], region: str = "us-east-1", *, preview: bool = True
) -> tuple[list[Registration], dict[str, Any]]:
    """As run_with_config, and the stack's exports (`pulumi stack output`), resolved."""
    mocks = RecordingMocks(region)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=RecordingMonitor(mocks))
    set_all_config(bag, secret_keys)
    workdir = program_dir()

    def run_main() -> None:  # run_pulumi_func wants None or an awaitable, not run_path's globals
        runpy.run_path(str(workdir / "__main__.py"), run_name="__main__")

    # As the Pulumi CLI does: the program runs in `main`, so a path that only resolves from the
    # repository root fails here too (pulumi/pulumi sdk/python/cmd/pulumi-language-python).
    with working_directory(workdir):
        _sync_await(run_pulumi_func(run_main))
        root = get_root_resource()
        exported = getattr(root, "outputs", {}) or {}
        exports = {name: _sync_await(pulumi.Output.from_input(value).future()) for name, value in exported.items()}
    return mocks.registrations, exports


def import_program_dependencies() -> None:
    """Import what the program imports (its components, pulumi-aws's and pulumi-kubernetes's
    modules), so that processes forked afterwards to plan several environments share them."""
    import importlib

    for name in ("pulumi_aws", "pulumi_kubernetes"):
        importlib.import_module(name)
    for path in sorted((program_dir() / "components").rglob("*.py")):
        module = ".".join(path.relative_to(program_dir().parent).with_suffix("").parts)
        importlib.import_module(module.removesuffix(".__init__"))


def run_program(env_name: str, root: Path = REPO_ROOT) -> ProgramRun:
    """Validate the stack's config (nothing is registered if it is bad), then run the program."""
    env = environment_from_stack_file(env_name, root)
    stack_config = read_stack_file(env_name, root)
    bag, secret_keys, placeholders = pulumi_config_bag(stack_config, env)
    # The program compares its config with the stacks and overlays it came from (infra/config/load.py).
    # The offline plan renders what `up` would leave out before bootstrap, with placeholders
    # (infra/config/bootstrap.py), so the serving chart is checked in every environment.
    with environment({STACKS_DIR_ENV: str(root), OFFLINE_PLAN_ENV: "1"}):
        registrations = run_with_config(env_name, bag, secret_keys, env.region)
    return ProgramRun(env=env, stack=env_name, registrations=registrations, placeholders=placeholders, workdir=program_dir())
