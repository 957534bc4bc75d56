"""AWS regions that exist, from the catalog's copy of botocore's endpoint data (offline).

`environment.region` must be one of them, and the stack's `aws:region` must equal it: the
program's AWS provider takes the environment's region, and a different `aws:region` would only
mislead whoever reads the stack file (or a tool that uses Pulumi's default provider).
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

import yaml

from infra.config.errors import Problem, problem

REGIONS_FILE = Path(__file__).resolve().parents[1] / "catalog" / "aws_regions.yaml"
AWS_REGION_KEY = "aws:region"


@lru_cache(maxsize=1)
def known_regions() -> dict[str, str]:
    """region -> partition, for every region of every partition."""
    data = yaml.safe_load(REGIONS_FILE.read_text())
    return {region: partition for partition, spec in data["partitions"].items() for region in spec["regions"]}


def region_problems(region: object) -> list[Problem]:
    """One problem when `region` is a string that names no AWS region (other types are the
    model's to report)."""
    if not isinstance(region, str) or region in known_regions():
        return []
    close = difflib.get_close_matches(region, sorted(known_regions()), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; see {REGIONS_FILE.name} in infra/catalog"
    return [problem("region", f"is not an AWS region{hint}", region)]


def aws_region_problems(aws_region: object, region: object) -> list[Problem]:
    """`aws:region` of the stack must equal `environment.region` (absent is fine: the program
    passes the environment's region to its provider)."""
    if aws_region is None or aws_region == region:
        return []
    return [
        problem(
            AWS_REGION_KEY,
            f"must equal environment.region {region!r}: the program deploys to environment.region; "
            f"set {AWS_REGION_KEY} to {region!r}",
            aws_region,
        )
    ]
