"""Read a YAML file the user edits; a syntax error becomes one problem naming file:line:column.

PyYAML's `MarkedYAMLError` carries the position of the problem (`problem_mark`, 0-based line
and column: https://github.com/yaml/pyyaml/blob/main/lib/yaml/error.py); the user sees it
1-based, as an editor shows it, in the same `ConfigError` as every other configuration problem
(exit 2 in the CLI, no traceback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.config.errors import ConfigError, problem


def shown_path(path: Path, root: Path | None = None) -> str:
    """`path` relative to `root` when it lies under it (what a user recognises), else as given."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def syntax_problem(error: yaml.YAMLError, name: str) -> ConfigError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
    what = " ".join(str(part) for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part)
    message = f"YAML syntax error: {what or error}; fix the file at that line and column"
    return ConfigError([problem(where, message)], name)


def load_yaml(path: Path, root: Path | None = None) -> Any:
    """The document in `path` (None when empty); ConfigError naming file:line:column when the
    YAML is malformed, or the file when it cannot be read."""
    name = shown_path(path, root)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError([problem(name, f"cannot be read: {error.strerror}")], name) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise syntax_problem(error, name) from None
