"""Fixtures for the operator commands: a fake Kubernetes API and a kubeconfig pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.fake_kube_api import FakeKubeApi

# What `aws eks update-kubeconfig --name gpt-oss-dev` names the cluster entry.
DEV_CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/gpt-oss-dev"


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi().start()
    yield api
    api.stop()


@pytest.fixture
def kubeconfig(kube: FakeKubeApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    kube.write_kubeconfig(path, cluster_name=DEV_CLUSTER_ARN)
    return path
