"""The chart's documented keys, read from the values model: what values.yaml writes under `# --`
lines and the chart README lists, in declaration order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from infra.chart_values.model import ChartValues, Section, dump


@dataclass(frozen=True)
class Key:
    """One key of values.yaml. A section (`ray:`) holds documented keys; any other key is a value
    documented as a whole under its `# --` line, whatever its shape (a string, `resources`, a list)."""

    path: tuple[str, ...]
    description: str
    section: bool
    default: Any  # the chart's default, as dumped (None for a section)

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _walk(model: type[BaseModel], defaults: dict[str, Any], prefix: tuple[str, ...]) -> list[Key]:
    keys = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = (*prefix, key)
        description = " ".join((field.description or "").split())
        section = field.annotation
        if isinstance(section, type) and issubclass(section, Section):
            keys.append(Key(path, description, True, None))
            keys += _walk(section, defaults[key], path)
        else:
            keys.append(Key(path, description, False, defaults.get(key)))
    return keys


def documented_keys() -> list[Key]:
    """Every key of the chart's values, sections and values, depth first in declaration order."""
    return _walk(ChartValues, dump(ChartValues()), ())
