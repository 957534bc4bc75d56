"""Which AWS resource types accept tags, read from pulumi-aws itself (its `tags` argument)."""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache


def _module_and_class(type_token: str) -> tuple[str, str] | None:
    """`aws:ec2/launchTemplate:LaunchTemplate` -> (`pulumi_aws.ec2.launch_template`, `LaunchTemplate`)."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "aws" or "/" not in parts[1]:
        return None
    package, module = parts[1].split("/", 1)
    package = "" if package == "index" else f".{package}"
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", module).lower()
    return f"pulumi_aws{package}.{snake}", parts[2]


@cache
def is_taggable(type_token: str) -> bool:
    located = _module_and_class(type_token)
    if located is None:
        return False
    try:
        cls = getattr(importlib.import_module(located[0]), located[1])
    except (ImportError, AttributeError):
        return False
    init = getattr(cls, "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters
