"""The serving stack: its namespace and the pinned Helm release of charts/gpt-oss-serving.

The values are computed once in Python (infra/chart_values/) and handed to the release;
the offline plan renders the chart from the very values this release received.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from contracts import NAMESPACE, RELEASE
from infra.components.options import child_options
from infra.paths import CHART_DIR

# Every pod of the chart (Ray head with KubeRay's autoscaler sidecar, GPU workers, gateway)
# meets the `restricted` Pod Security Standard: non-root, no privilege escalation, no
# capabilities, RuntimeDefault seccomp; GPU access needs none of those (tested).
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def chart_version(chart_dir: Path = CHART_DIR) -> str:
    return str(yaml.safe_load((chart_dir / "Chart.yaml").read_text())["version"])


def chart_path_for_release(cwd: Path | None = None) -> str:
    """The chart's path as the Helm release must receive it: relative to the directory Pulumi runs
    the program in.

    Pulumi runs the program with `main` of Pulumi.yaml (infra/) as working directory, and the
    provider resolves a local chart path against it (pulumi-kubernetes helm/v3 Release, `chart`:
    "a path to a local chart"), so `charts/gpt-oss-serving` would not exist there. A path relative
    to that directory (`../charts/gpt-oss-serving`) resolves, and stays the same in every
    checkout, so moving the clone shows no diff in `pulumi preview`.
    """
    relative = os.path.relpath(CHART_DIR, cwd or Path.cwd())
    if not (Path(cwd or Path.cwd()) / relative / "Chart.yaml").is_file():
        raise FileNotFoundError(f"the serving chart is not at {CHART_DIR}; run Pulumi from a full clone of the repository")
    return relative


class ServingNamespace(pulumi.ComponentResource):
    def __init__(self, name: str, labels: dict[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("gptoss:k8s:ServingNamespace", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata={"name": NAMESPACE, "labels": {**labels, **POD_SECURITY}},
            opts=child_options(self, opts),
        )
        self.name = self.namespace.metadata.apply(lambda m: m["name"])
        self.register_outputs({"name": self.name})


class ServingRelease(pulumi.ComponentResource):
    """The chart, installed from this repository at the version in its Chart.yaml.

    The Helm release waits for what `opts.depends_on` names (the releases that install the
    RayService, ServiceMonitor, PodMonitor and PrometheusRule CRDs, the Secrets it mounts):
    handed to the release itself, since a component's dependencies do not reach its children."""

    def __init__(
        self,
        name: str,
        namespace: pulumi.Input[str],
        values: pulumi.Input[dict],
        opts: pulumi.ResourceOptions | None = None,
        install: bool = True,
    ):
        super().__init__("gptoss:k8s:ServingRelease", name, None, opts)
        self.release: k8s.helm.v3.Release | None = None
        if not install:
            # serving.release_managed_by: gitops: Argo CD / Flux owns the release (docs/environments.md, "GitOps").
            self.register_outputs({"release": None})
            return
        self.release = k8s.helm.v3.Release(
            name,
            name=RELEASE,
            namespace=namespace,
            chart=chart_path_for_release(),
            version=chart_version(),
            values=values,
            # The RayService becomes ready only after weights load (minutes); Pulumi waits for
            # the gateway Deployment, not for the model.
            timeout=900,
            opts=child_options(self, opts),
        )
        self.register_outputs({"release": self.release.name})
