"""Every rendered document is valid for the cluster it goes to.

- Built-in kinds: kubernetes_validate (strict: unknown fields are errors) at the environment's
  `cluster.kubernetes_version` (1.35 for every stack today).
- The Ray pods: KubeRay creates them from the RayService's pod templates; those templates are
  validated as Pods too, so a bad field fails here and not in the operator's log.
- RayService: the KubeRay v1.7 CRD in ../shared/reference/crds/, made strict the way the API
  server's strict field validation is (unknown fields are errors, not silently pruned).
- PodMonitor / ServiceMonitor / PrometheusRule (monitoring.coreos.com/v1): kubernetes_validate has
  no schema for them and no CRD is vendored here, so they are NOT schema-validated;
  test_chart_render.py checks the monitors structurally (selectors match the pods, ports exist,
  path /metrics), tests/runbooks/ the rules (`promtool check rules`, unit tests, runbook links).
"""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import pytest

from support.crds import crd_schema

NOT_SCHEMA_VALIDATED = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}  # see the module docstring
CUSTOM_RESOURCES = {"RayService"}


def _strict(schema: object) -> object:
    """The CRD schema with additionalProperties: false wherever it lists properties and does not
    preserve unknown fields."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def crd_errors_strict(document: dict) -> list[str]:
    group, version = document["apiVersion"].split("/")
    schema = _strict(copy.deepcopy(crd_schema(group, document["kind"], version)))
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]


def k8s_errors(document: dict, version: str) -> str | None:
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return f"{document['kind']} {document['metadata'].get('name')}: {path}: {error.message}"
    return None


def test_every_stack_runs_the_kubernetes_version_the_chart_is_validated_against(kit, stack_case):
    env, _ = kit.environment(stack_case)
    assert env.cluster.kubernetes_version == kit.KUBERNETES_VERSION


def test_built_in_objects_and_ray_pods_are_valid_kubernetes(kit, case):
    env, _ = kit.environment(case)
    docs = kit.rendered_docs(case)
    built_in = [d for d in docs if d["kind"] not in NOT_SCHEMA_VALIDATED | CUSTOM_RESOURCES]
    pods = kit.synthetic_pods(docs)
    assert len(pods) == 1 + len(env.node_pools[:1])
    errors = [e for d in built_in + pods if (e := k8s_errors(d, env.cluster.kubernetes_version))]
    assert not errors, "\n".join(errors)


def test_only_prometheus_operator_objects_escape_schema_validation(kit, case):
    kinds = {d["kind"] for d in kit.rendered_docs(case)}
    unknown = set()
    for kind in kinds - CUSTOM_RESOURCES:
        doc = next(d for d in kit.rendered_docs(case) if d["kind"] == kind)
        try:
            kubernetes_validate.validate(doc, kit.KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unknown.add(kind)
        except kubernetes_validate.ValidationError:
            pass  # reported by the test above
    assert unknown <= NOT_SCHEMA_VALIDATED, f"no schema for {unknown - NOT_SCHEMA_VALIDATED}"


def test_the_rayservice_is_valid_against_the_kuberay_crd(kit, case):
    (service,) = [d for d in kit.rendered_docs(case) if d["kind"] == "RayService"]
    assert crd_errors_strict(service) == []


def test_the_validators_reject_what_they_should(kit):
    """Negative controls: a validator that accepts anything would make the tests above pass."""
    docs = kit.rendered_docs("prod")
    deployment = copy.deepcopy(next(d for d in docs if d["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    assert k8s_errors(deployment, kit.KUBERNETES_VERSION)
    service = copy.deepcopy(next(d for d in docs if d["kind"] == "RayService"))
    service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplica"] = 3
    assert any("maxReplica" in e for e in crd_errors_strict(service))
    service = copy.deepcopy(next(d for d in docs if d["kind"] == "RayService"))
    del service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["groupName"]
    assert any("groupName" in e for e in crd_errors_strict(service))


@pytest.mark.parametrize("version", ["1.32", "1.33", "1.34"])
def test_prod_also_validates_on_the_neighbouring_kubernetes_versions(kit, version):
    """The config allows 1.32-1.35; a cluster still on an older version (one minor step at a time,
    docs/decisions.md) must not be invalidated by the chart."""
    docs = kit.rendered_docs("prod")
    built_in = [d for d in docs if d["kind"] not in NOT_SCHEMA_VALIDATED | CUSTOM_RESOURCES]
    errors = [e for d in built_in + kit.synthetic_pods(docs) if (e := k8s_errors(d, version))]
    assert not errors, "\n".join(errors)
