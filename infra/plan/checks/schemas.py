"""Every object is valid for the cluster it goes to, as the API server validates it.

- Built-in kinds, and the Ray pods KubeRay will create from a RayService's templates: the
  Kubernetes OpenAPI schema of the environment's `cluster.kubernetes_version`
  (kubernetes-validate, strict: an unknown field is an error, as with the API server's strict
  field validation, `kubectl --validate=strict`).
- Custom resources: the openAPIV3Schema of the CRD this stack installs for that group, kind and
  version (a chart's crds/ folder or templates), made strict the same way wherever the CRD lists
  properties and does not preserve unknown fields. A custom resource whose CRD nothing in the stack
  installs is a finding (`no matches for kind` at apply time), except the Prometheus Operator's
  when `observability.install_prometheus_stack` is false: then the cluster must already run it.
"""

from __future__ import annotations

import functools
from typing import Any

from infra.plan.checks import Finding, Manifest, PlannedStack
from infra.plan.pods import synthetic_pods

PROMETHEUS_OPERATOR_GROUP = "monitoring.coreos.com"
MAX_ERRORS_PER_OBJECT = 3


def strict(schema: Any) -> Any:
    """The schema with additionalProperties: false wherever it lists properties and does not keep
    unknown fields (x-kubernetes-preserve-unknown-fields)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_index(crds: list[Manifest]) -> dict[tuple[str, str, str], dict]:
    """(group, kind, version) -> openAPIV3Schema of every CRD the stack installs."""
    index = {}
    for crd in crds:
        spec = crd.document.get("spec") or {}
        for version in spec.get("versions") or []:
            schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
            index[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""), version.get("name", ""))] = schema
    return index


class CustomResourceValidators:
    """One strict validator per CRD version, built on first use (the Prometheus CRDs are large)."""

    def __init__(self, crds: list[Manifest]) -> None:
        self._schemas = crd_index(crds)
        self._validators: dict[tuple[str, str, str], Any] = {}

    def knows(self, key: tuple[str, str, str]) -> bool:
        return key in self._schemas

    def errors(self, key: tuple[str, str, str], document: dict) -> list[str]:
        import jsonschema

        if key not in self._validators:
            self._validators[key] = jsonschema.Draft7Validator(strict(self._schemas[key]))
        return [
            f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in self._validators[key].iter_errors(document)
        ]


@functools.cache
def _built_in_validator(kind: str, api_version: str, version: str) -> Any:
    """The validator `kubernetes_validate.validate(..., strict=True)` builds, built once per kind,
    apiVersion and Kubernetes version: validate() re-reads and re-parses the version's
    `_definitions.json` (megabytes of JSON) on every call, which was most of this check's time.
    Same schema selection as kubernetes-validate 1.37.0 (utils.validate): the newest schema version
    not newer than the cluster's, `<group-prefix>-<version>` file names, the `-local-strict` set."""
    import re

    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    desired = version.removeprefix("v")
    if utils.major_minor(desired) > utils.latest_version():
        raise utils.VersionNotSupportedError(version=utils.major_minor(desired))
    chosen = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(desired)][-1]
    schema_dir = f"kubernetes-json-schema/v{chosen}-local-strict"
    file_api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"{schema_dir}/{kind.lower()}-{file_api_version}.json", desired)
    except FileNotFoundError:
        raise utils.SchemaNotFoundError(version=utils.major_minor(desired), kind=kind, api_version=api_version) from None
    definitions = utils.schema_contents(f"{schema_dir}/_definitions.json", desired)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def built_in_error(document: dict, version: str) -> str | None:
    """None when valid; the first error; raises LookupError when the kind has no built-in schema."""
    import kubernetes_validate

    try:
        validator = _built_in_validator(document["kind"], document["apiVersion"], version)
    except kubernetes_validate.SchemaNotFoundError as error:
        raise LookupError(error.message) from None
    error = next(iter(validator.iter_errors(document)), None)
    if error is None:
        return None
    return f"{'.'.join(str(p) for p in error.path)}: {error.message}"


def check(stack: PlannedStack) -> list[Finding]:
    version = stack.env.cluster.kubernetes_version
    validators = CustomResourceValidators(stack.crds)
    findings: list[Finding] = []
    objects = list(stack.manifests)
    objects += [
        Manifest(pod, f"Ray pod from {m.describe()}", m.registration)
        for m in stack.manifests
        if m.kind in ("RayService", "RayCluster")
        for pod in synthetic_pods([m.document])
    ]
    for manifest in objects:
        key = (manifest.group, manifest.kind, manifest.api_version.rpartition("/")[2])
        if validators.knows(key):
            errors = validators.errors(key, manifest.document)
            findings += [Finding("schemas", manifest.describe(), e) for e in errors[:MAX_ERRORS_PER_OBJECT]]
            continue
        try:
            error = built_in_error(manifest.document, version)
        except LookupError:
            if manifest.group == PROMETHEUS_OPERATOR_GROUP and not stack.env.observability.install_prometheus_stack:
                continue  # a documented precondition: the cluster runs the Prometheus Operator already
            findings.append(
                Finding(
                    "schemas",
                    manifest.describe(),
                    f"no CRD for {manifest.api_version} {manifest.kind} is installed by this stack and Kubernetes "
                    f"{version} has no such built-in kind: the API server would answer `no matches for kind`",
                )
            )
            continue
        if error:
            findings.append(Finding("schemas", manifest.describe(), f"invalid for Kubernetes {version}: {error}"))
    return findings
