"""Validate objects against the CRDs in ../shared/reference/crds/ (reference data, not product).

The files are optional: tests that need them skip with a reason naming the missing path.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest
import yaml

CRD_DIR = Path(os.environ.get("GPT_OSS_CRD_DIR", Path(__file__).resolve().parents[3] / "shared" / "reference" / "crds"))
CRD_FILES = {
    ("ray.io", "RayService"): "ray.io_rayservices.yaml",
    ("ray.io", "RayCluster"): "ray.io_rayclusters.yaml",
    ("karpenter.sh", "NodePool"): "karpenter.sh_nodepools.yaml",
    ("karpenter.k8s.aws", "EC2NodeClass"): "karpenter.k8s.aws_ec2nodeclasses.yaml",
}


@lru_cache(maxsize=None)
def crd_schema(group: str, kind: str, version: str) -> dict:
    path = CRD_DIR / CRD_FILES[(group, kind)]
    if not path.exists():
        pytest.skip(f"reference CRD not present: {path} (set GPT_OSS_CRD_DIR to a folder holding it)")
    crd = yaml.safe_load(path.read_text())
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return entry["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{path} has no version {version}")


def crd_errors(document: dict) -> list[str]:
    """Schema errors of a custom resource against its CRD, as `path: message` strings."""
    group, version = document["apiVersion"].split("/")
    schema = crd_schema(group, document["kind"], version)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]
