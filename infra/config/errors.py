"""Configuration problems, collected and reported together.

An engineer fixing a stack file wants every problem in one run, each with the key path and
the value that was wrong, not one error per `pulumi preview`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Values shown in messages are cut so that a pasted blob does not flood the terminal.
_MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    value: Any = None
    has_value: bool = False

    def render(self) -> str:
        shown = ""
        if self.has_value:
            text = repr(self.value)
            if len(text) > _MAX_VALUE_CHARS:
                text = text[: _MAX_VALUE_CHARS - 3] + "..."
            shown = f" (got {text})"
        return f"{self.path}: {self.message}{shown}"


def problem(path: str, message: str, *value: Any) -> Problem:
    """A problem at `path`; pass the offending value as a third argument to show it."""
    return Problem(path, message, value[0] if value else None, bool(value))


class ConfigError(ValueError):
    """Every problem found in one environment's configuration."""

    def __init__(self, problems: list[Problem], source: str = "environment config"):
        unique = list({p.render(): p for p in problems}.values())
        self.problems = unique
        self.source = source
        noun = "problem" if len(unique) == 1 else "problems"
        lines = "\n".join(f"  - {p.render()}" for p in unique)
        super().__init__(f"{source} has {len(unique)} {noun}:\n{lines}")
