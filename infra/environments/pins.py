"""Release pins for the release tooling (promote, pins set, diff): the format itself lives in
infra/config/pins.py, where overlay resolution reads it without climbing into this package."""

from __future__ import annotations

from infra.config.pins import (
    DIGEST_RE,
    HEADER,
    PINS_DIR,
    PINS_SCHEMA,
    REVISION_RE,
    ChartPin,
    ImagePin,
    ReleasePins,
    load_pins,
    parse_pins,
    pins_path,
    render_pins,
    write_pins,
)

__all__ = [
    "DIGEST_RE",
    "HEADER",
    "PINS_DIR",
    "PINS_SCHEMA",
    "REVISION_RE",
    "ChartPin",
    "ImagePin",
    "ReleasePins",
    "load_pins",
    "parse_pins",
    "pins_path",
    "render_pins",
    "write_pins",
]
