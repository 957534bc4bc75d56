"""Validate objects against the pinned CRDs (infra/upstream: ../shared/reference/crds/ or the
fetched copy). Missing, a test fails under REQUIRE_ALL_TOOLS=1 (make test, CI) and otherwise skips
saying how to get them."""

from __future__ import annotations

from functools import cache

import jsonschema
import pytest
import yaml

from infra import upstream
from support.tools import require_all_tools

CRD_FILES = {
    ("ray.io", "RayService"): "ray.io_rayservices.yaml",
    ("ray.io", "RayCluster"): "ray.io_rayclusters.yaml",
    ("karpenter.sh", "NodePool"): "karpenter.sh_nodepools.yaml",
    ("karpenter.k8s.aws", "EC2NodeClass"): "karpenter.k8s.aws_ec2nodeclasses.yaml",
}


@cache
def crd_schema(group: str, kind: str, version: str) -> dict:
    try:
        path = upstream.crd_file(CRD_FILES[(group, kind)])
    except upstream.UpstreamMissing as error:
        if require_all_tools():
            pytest.fail(str(error))
        pytest.skip(str(error))
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
