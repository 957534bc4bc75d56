"""The configuration reference, generated from the typed models' descriptions
(`gpt-oss-platform reference --write`; a test fails when the committed copy is stale)."""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from infra.config.load import unwrap_model
from infra.config.models import EnvironmentConfig


def _type_name(annotation: typing.Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.default is not PydanticUndefined:
        return "" if field.default is None else f"`{field.default}`"
    if field.default_factory is not None:
        value = field.default_factory()
        return "(see below)" if isinstance(value, BaseModel) else f"`{value}`"
    return "**required**"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = unwrap_model(field.annotation)
        description = field.description or (nested.__doc__ or "" if nested else "")
        description = " ".join(description.split()).replace("|", "\\|")
        rows.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
        if nested is not None:
            suffix = "[]." if typing.get_origin(field.annotation) is list else "."
            rows += _rows(nested, f"{key}{suffix}")
    return rows


def reference() -> str:
    header = "| key (under `gpt-oss-platform:environment`) | type | default | meaning |\n|---|---|---|---|"
    return "\n".join([header, *_rows(EnvironmentConfig, "")])
