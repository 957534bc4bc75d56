"""The prices the cost model uses: the catalog's list prices, optionally overridden from a file.

An override file (`--prices FILE`) replaces node prices and managed API prices, e.g. with a
discounted rate or another region's list price. Every price the model uses is reported with
where it came from and its date, so a figure never travels without its provenance.

    as_of: "2026-11-30"                 # required: when these prices were read
    source: "EDP rate card 2026"        # required: where they come from
    instances:                          # USD per node-hour
      g6.xlarge: 0.55
    managed_api:                        # USD per 1M tokens
      o4-mini: {input_per_mtok: 1.10, output_per_mtok: 4.40}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.catalog import ApiPrice, Catalog
from infra.cost.errors import CostInputError


class PriceOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    source: str = Field(min_length=1)
    instances: dict[str, float] = Field(default_factory=dict)
    managed_api: dict[str, ApiPrice] = Field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    """Where one price came from."""

    source: str
    as_of: str


@dataclass(frozen=True)
class PricedCatalog:
    """The catalog with overrides applied, and the provenance of every overridden price."""

    catalog: Catalog
    overrides: PriceOverrides | None

    def instance_provenance(self, instance_type: str) -> Provenance:
        if self.overrides and instance_type in self.overrides.instances:
            return Provenance(self.overrides.source, self.overrides.as_of.isoformat())
        spec = self.catalog.instances[instance_type]
        return Provenance(spec.price_source or self.catalog.price_source, self.catalog.price_as_of)

    def api_provenance(self, model: str) -> Provenance:
        if self.overrides and model in self.overrides.managed_api:
            return Provenance(self.overrides.source, self.overrides.as_of.isoformat())
        return Provenance(self.catalog.managed_api_source, self.catalog.managed_api_as_of)


def load_overrides(path: Path, catalog: Catalog) -> PriceOverrides:
    """Parse and check an override file against the catalog; CostInputError names the bad key."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CostInputError(f"--prices {path}: cannot read it as YAML ({error.__class__.__name__}: {error})") from None
    try:
        overrides = PriceOverrides.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise CostInputError(
            f"--prices {path}: {where}: {first['msg']} (got {first.get('input')!r}); "
            "see docs/cost.md 'Overriding prices' for the format"
        ) from None
    for name, price in overrides.instances.items():
        if name not in catalog.instances:
            raise CostInputError(
                f"--prices {path}: instances.{name}: not an instance type in the catalog; known: {', '.join(sorted(catalog.instances))}"
            )
        if price <= 0:
            raise CostInputError(f"--prices {path}: instances.{name}: must be a positive USD per node-hour (got {price!r})")
    for name, api in overrides.managed_api.items():
        if api.input_per_mtok < 0 or api.output_per_mtok < 0:
            raise CostInputError(f"--prices {path}: managed_api.{name}: prices must not be negative")
    return overrides


def priced_catalog(catalog: Catalog, overrides: PriceOverrides | None = None) -> PricedCatalog:
    """The catalog with `overrides` applied (a new object; the cached catalog is untouched)."""
    if overrides is None:
        return PricedCatalog(catalog, None)
    instances = {
        name: spec.model_copy(update={"usd_per_hour": overrides.instances[name]}) if name in overrides.instances else spec
        for name, spec in catalog.instances.items()
    }
    managed = {**catalog.managed_api, **overrides.managed_api}
    return PricedCatalog(catalog.model_copy(update={"instances": instances, "managed_api": managed}), overrides)
