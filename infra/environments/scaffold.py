"""`new-env NAME --from ENV`: a new overlay that copies ENV's, with the keys every environment
must have its own of (cluster name, VPC CIDR, cost center) left for the user or checked when given.

Nothing is written when the name is taken or a given value clashes with another environment.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.config.cross_env import cross_environment_problems
from infra.config.errors import ConfigError, Problem, problem
from infra.config.load import read_stack_file, stack_names
from infra.config.models import LABEL_VALUE_RE, NAME_RE, NetworkConfig
from infra.config.overlays import get_path, has_overlay, overlay_path, resolve
from infra.config.stack_files import ENVIRONMENT_CONFIG_KEY, render_stack_file, stack_file
from infra.config.yaml_source import load_yaml
from infra.environments.pins import load_pins, write_pins

ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,15}$")


@dataclass
class Scaffold:
    name: str
    overlay: Path
    pins: Path
    stack_file: Path
    still_to_set: list[str] = field(default_factory=list)


def _drop(data: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    node: Any = data
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def _set(data: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _prune_empty(data: dict) -> dict:
    """Drop mappings an edit left empty: an empty mapping in an overlay would be `null` and
    replace the base's whole section."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = _prune_empty(value)
            if not value:
                continue
        out[key] = value
    return out


def existing_environments(root: Path) -> dict[str, Any]:
    found = {}
    for name in stack_names(root):
        try:
            found[name] = read_stack_file(name, root).get(ENVIRONMENT_CONFIG_KEY)
        except ConfigError:
            continue  # its own validation reports it; it cannot clash through a file that does not parse
    return found


def free_cidr(taken: list[ipaddress.IPv4Network], start: str = "10.40.0.0/16") -> str:
    """The first /16 from `start` up that overlaps none of `taken` (a suggestion only)."""
    candidate = ipaddress.ip_network(start)
    for _ in range(200):
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
        candidate = ipaddress.ip_network(f"{candidate.network_address + 65536}/16")
    return "a free /16"


def _value_problems(cluster_name: str | None, vpc_cidr: str | None, cost_center: str | None) -> list[Problem]:
    found = []
    if cluster_name is not None and not re.match(NAME_RE, cluster_name):
        found.append(
            problem("--cluster-name", "must be lower-case letters, digits and '-' (2-32), starting with a letter", cluster_name)
        )
    if vpc_cidr is not None:
        try:
            NetworkConfig(vpc_cidr=vpc_cidr)
        except ValueError as error:
            found.append(problem("--vpc-cidr", str(error).splitlines()[-1].strip(), vpc_cidr))
    if cost_center is not None and (len(cost_center) > 63 or not LABEL_VALUE_RE.match(cost_center) or not cost_center):
        found.append(
            problem("--cost-center", "must be 1-63 letters, digits, '-', '_' or '.' (a tag and a label value)", cost_center)
        )
    return found


def scaffold(
    name: str,
    source: str,
    root: Path,
    cluster_name: str | None = None,
    vpc_cidr: str | None = None,
    cost_center: str | None = None,
) -> Scaffold:
    """Write environments/<name>.yaml, its pins (a copy of the source's) and Pulumi.<name>.yaml;
    ConfigError (nothing written) when the name is taken or invalid, or a given value clashes."""
    found: list[Problem] = []
    if not ENV_NAME_RE.match(name):
        found.append(problem("NAME", "must be 2-16 lower-case letters, digits or '-', starting with a letter", name))
    if has_overlay(name, root) or stack_file(name, root).exists():
        found.append(
            problem("NAME", f"environment {name!r} exists already (environments/{name}.yaml or Pulumi.{name}.yaml)", name)
        )
    if not has_overlay(source, root):
        raise ConfigError([*found, problem("--from", f"no overlay environments/{source}.yaml to copy", source)], "new-env")
    found += _value_problems(cluster_name, vpc_cidr, cost_center)
    source_overlay = load_yaml(overlay_path(source, root), root) or {}
    source_resolved = resolve(source, root)
    given = {"cluster.name": cluster_name, "cluster.network.vpc_cidr": vpc_cidr, "tags.cost-center": cost_center}
    overlay = copy.deepcopy(source_overlay)
    overlay.pop("name", None)
    for key, value in given.items():
        _drop(overlay, key)
        if value is not None:
            _set(overlay, key, value)
    overlay = _prune_empty(overlay)
    others = existing_environments(root)
    flags = {"cluster.name": "--cluster-name", "cluster.network.vpc_cidr": "--vpc-cidr", "tags.cost-center": "--cost-center"}
    found += [
        problem(flags.get(p.path, p.path), p.message, p.value)
        for p in cross_environment_problems(name, _only_given(given), others)
    ]
    if found:
        raise ConfigError(found, "new-env")
    taken = []
    for other in others.values():
        present, cidr = get_path(other, "cluster.network.vpc_cidr")
        if present:
            with contextlib.suppress(ValueError):
                taken.append(ipaddress.ip_network(str(cidr)))
    still = []
    if cluster_name is None:
        still.append(f"cluster.name: a cluster no other environment uses, e.g. gpt-oss-{name}")
    if vpc_cidr is None and get_path(source_resolved, "cluster.mode")[1] == "create":
        still.append(f"cluster.network.vpc_cidr: a range no other environment overlaps, e.g. {free_cidr(taken)}")
    if cost_center is None:
        still.append("tags.cost-center: this environment's own cost center")
    header = [f"# {name}: scaffolded from {source} by `gpt-oss-platform new-env {name} --from {source}`."]
    if still:
        header.append("# Still to set here (each environment needs its own; validation refuses the file until then):")
        header += [f"#   {line}" for line in still]
    header.append("# Then: gpt-oss-platform envs render && gpt-oss-platform plan --env " + name)
    path = overlay_path(name, root)
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(overlay, sort_keys=False, width=100))
    pins = write_pins(name, load_pins(source, root), root)
    stack, _ = render_stack_file(name, root)
    return Scaffold(name=name, overlay=path, pins=pins, stack_file=stack, still_to_set=still)


def _only_given(given: dict[str, str | None]) -> dict:
    """An environment holding only the unique values the user gave: the others are not set
    yet, so they cannot clash (mode `existing` when no CIDR is given: nothing to compare)."""
    out: dict = {"cluster": {"mode": "create" if given["cluster.network.vpc_cidr"] else "existing"}}
    for key, value in given.items():
        if value is not None:
            _set(out, key, value)
    return out
