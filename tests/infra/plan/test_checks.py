"""The plan's checks of the systems the stack configures: each passes on the committed stacks and
finds the defect of the first release that a real `pulumi up` would have hit (issue #7), planted
back into what the program registers."""

from __future__ import annotations

import json

import pytest

from infra.plan.checks import access_entries, iam, node_labels, ordering, run_checks, scale_from_zero, schemas, selectors
from infra.plan.checks.node_labels import karpenter_refuses, kubelet_refuses
from infra.plan.checks.scale_from_zero import pod_requests, quantity
from infra.plan.manifests import unresolved_chart_paths
from support.planning import release, stack_of

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG_TAG = "aws:autoscaling/tag:Tag"
# The app.kubernetes.io/* labels the first release handed to nodes and third-party charts.
OLD_LABELS = {
    "app.kubernetes.io/name": "gpt-oss-platform",
    "app.kubernetes.io/instance": "gpt-oss-platform-prod",
    "app.kubernetes.io/part-of": "gpt-oss-platform",
    "app.kubernetes.io/managed-by": "pulumi",
}


def messages(findings) -> str:
    return "\n".join(f"{f.check} {f.subject}: {f.message}" for f in findings)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_committed_stacks_pass_every_check(env):
    assert messages(run_checks(stack_of(env))) == ""


# --- 1. node labels the kubelet refuses ----------------------------------------------------------


def test_the_kubelet_rule_is_the_kubelets():
    # well_known_labels.go: labels a kubelet may set itself, and the kubelet/node namespaces.
    for allowed in (
        "kubernetes.io/arch",
        "topology.kubernetes.io/zone",
        "node.kubernetes.io/instance-type",
        "node.kubernetes.io/lifecycle",
        "sub.kubelet.kubernetes.io/x",
        "k8s.amazonaws.com/accelerator",
        "gpt-oss.platform/node-pool",
        "team",
    ):
        assert not kubelet_refuses(allowed), allowed
    for refused in ("app.kubernetes.io/name", "kubernetes.io/role", "example.k8s.io/x", "node-role.kubernetes.io/gpu"):
        assert kubelet_refuses(refused), refused


def test_the_karpenter_rule_is_karpenters():
    assert not karpenter_refuses("gpt-oss.platform/node-pool") and not karpenter_refuses("node.kubernetes.io/x")
    for refused in ("karpenter.sh/nodepool", "kubernetes.io/hostname", "karpenter.k8s.aws/anything", "app.kubernetes.io/name"):
        assert karpenter_refuses(refused), refused


def test_node_groups_with_app_kubernetes_io_labels_are_found():
    def plant(registrations):
        for group in (r for r in registrations if r.type == NODE_GROUP):
            group.inputs["labels"] = {**group.inputs["labels"], **OLD_LABELS}

    findings = node_labels.check(stack_of("prod", plant))
    groups = {f.subject for f in findings}
    assert len(groups) == 3 and all("NodeCreationFailure" in f.message for f in findings), messages(findings)


# --- 2. third-party Deployments whose selectors no longer match their pods ----------------------


def test_app_kubernetes_io_labels_in_a_chart_break_its_selectors():
    def plant(registrations):
        values = release(registrations, "kuberay-operator").inputs["values"]
        values["labels"] = values["podLabels"] = OLD_LABELS

    found = messages(selectors.check(stack_of("prod", plant)))
    assert "Deployment kuberay-system/kuberay-operator" in found and "does not match its pod template" in found
    assert "Service kuberay-system/kuberay-operator" in found and "matches no pod" in found


def test_a_pod_disruption_budget_that_selects_nothing_is_found():
    def plant(registrations):
        values = release(registrations, "gpt-oss").inputs["values"]
        values["labels"]["instance"] = "somebody-else"

    stack = stack_of("prod", plant)
    budget = next(m for m in stack.manifests if m.kind == "PodDisruptionBudget" and m.name == "gpt-oss-ray-worker")
    budget.document["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "nobody"
    assert "PodDisruptionBudget gpt-oss/gpt-oss-ray-worker" in messages(selectors.check(stack))


# --- 3. a chart path that does not resolve where Pulumi runs the program -------------------------


def test_a_chart_path_relative_to_the_repository_root_is_found():
    stack = stack_of("dev")
    serving = release(stack.registrations, "gpt-oss")
    assert serving.inputs["chart"] == "../charts/gpt-oss-serving" and unresolved_chart_paths([serving], stack.workdir) == []
    serving.inputs["chart"] = "charts/gpt-oss-serving"  # the first release's path
    (problem,) = unresolved_chart_paths([serving], stack.workdir)
    assert "does not resolve from" in problem and str(stack.workdir).endswith("infra")


# --- 5. custom resources created before their CRDs ---------------------------------------------


def _drop_dependencies(registration) -> None:
    registration.dependencies = set()


def test_a_release_that_does_not_wait_for_the_crds_it_uses_is_found():
    def plant(registrations):
        _drop_dependencies(release(registrations, "kuberay-operator"))
        _drop_dependencies(release(registrations, "gpt-oss"))

    found = messages(ordering.check(stack_of("prod", plant)))
    assert "creates ServiceMonitor" in found and "kube-prometheus-stack" in found  # the KubeRay chart's monitor
    assert "creates RayService" in found and "kuberay-operator" in found
    assert "creates PrometheusRule" in found


def test_the_serving_release_waits_for_kuberay_and_the_monitoring_crds():
    stack = stack_of("prod")
    serving, kuberay, monitoring = (
        release(stack.registrations, n) for n in ("gpt-oss", "kuberay-operator", "kube-prometheus-stack")
    )
    by_urn = stack.by_urn()
    assert ordering.waits_for(serving, kuberay, by_urn) and ordering.waits_for(serving, monitoring, by_urn)
    assert ordering.waits_for(kuberay, monitoring, by_urn)


def test_an_unknown_custom_resource_kind_is_found():
    stack = stack_of("dev")
    rayservice = next(m for m in stack.manifests if m.kind == "RayService")
    rayservice.document["apiVersion"] = "ray.io/v9"
    assert "no CRD for ray.io/v9 RayService" in messages(schemas.check(stack))


def test_an_invalid_built_in_object_is_found_with_its_path_and_the_schema_of_the_cluster_version():
    stack = stack_of("dev")
    deployment = next(m for m in stack.manifests if m.kind == "Deployment")
    deployment.document["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    deployment.document["spec"]["replicas"] = "two"
    found = [f for f in schemas.check(stack) if f.subject == deployment.describe()]
    assert len(found) == 1  # the first error per object, as the API server answers
    assert "spec.replicas" in found[0].message or "imagePullPolice" in found[0].message


def test_a_built_in_kind_the_cluster_version_does_not_serve_is_found():
    stack = stack_of("dev")
    deployment = next(m for m in stack.manifests if m.kind == "Deployment")
    deployment.document["apiVersion"] = "extensions/v1beta1"  # removed in Kubernetes 1.16
    assert deployment.describe() in messages(schemas.check(stack))


def test_an_invalid_custom_resource_is_found_against_its_crd():
    stack = stack_of("dev")
    rayservice = next(m for m in stack.manifests if m.kind == "RayService")
    rayservice.document["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplica"] = 3
    assert "maxReplica" in messages(schemas.check(stack))


# --- 7. scale from zero that never happens ------------------------------------------------------


def test_quantities_and_requests_are_read_as_kubernetes_reads_them():
    assert quantity("500m") == 0.5 and quantity("41Gi") == 41 * 2**30 and quantity("2") == 2
    with pytest.raises(ValueError):
        quantity("lots")
    spec = {
        "containers": [{"resources": {"requests": {"cpu": "1"}}}, {"resources": {"requests": {"cpu": "500m"}}}],
        "initContainers": [{"resources": {"requests": {"cpu": "2"}}}],
    }
    assert pod_requests(spec) == {"cpu": 2.0}


def test_a_zero_group_without_an_ephemeral_storage_tag_is_found():
    """dev's GPU pool is at zero when idle; its workers ask for ephemeral-storage (the weights cache)."""

    def plant(registrations):
        registrations[:] = [
            r
            for r in registrations
            if not (r.type == ASG_TAG and r.inputs["tag"]["key"].endswith("/resources/ephemeral-storage"))
        ]

    found = messages(scale_from_zero.check(stack_of("dev", plant)))
    assert "dev-gpu-l4-spot" in found and "requests ephemeral-storage" in found


def test_a_zero_group_whose_label_tags_miss_what_pods_select_is_found():
    def plant(registrations):
        registrations[:] = [
            r for r in registrations if not (r.type == ASG_TAG and "/label/gpt-oss.platform/node-pool" in r.inputs["tag"]["key"])
        ]

    assert "selects gpt-oss.platform/node-pool=gpu-l4" in messages(scale_from_zero.check(stack_of("dev", plant)))


def test_the_template_node_offers_what_a_real_node_of_the_group_offers():
    stack = stack_of("dev")
    tags = {r.inputs["tag"]["key"]: r.inputs["tag"]["value"] for r in stack.of_type(ASG_TAG)}
    capacity, labels, taints = scale_from_zero.template_node("g6.xlarge", tags)
    assert capacity["nvidia.com/gpu"] == 1 and capacity["ephemeral-storage"] > 41 * 2**30
    assert labels["gpt-oss.platform/node-pool"] == "gpu-l4" and taints == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    ]


# --- likely defects: access entries and the Karpenter controller policy -------------------------


def test_a_second_access_entry_for_a_node_role_is_found():
    """The first release gave Karpenter's nodes the managed node groups' role and an EC2_LINUX
    entry for it, which EKS had already created."""
    stack = stack_of("prod", lambda regs: regs.append(_entry_for_node_role(regs)))
    found = messages(access_entries.check(stack))
    assert "EKS refuses a second one" in found


def _entry_for_node_role(registrations):
    import copy

    from infra.plan.mocks import Registration

    group = next(r for r in registrations if r.type == NODE_GROUP)
    return Registration(
        type="aws:eks/accessEntry:AccessEntry",
        name="karpenter-nodes-on-the-shared-role",
        inputs={"principalArn": copy.deepcopy(group.inputs["nodeRoleArn"]), "type": "EC2_LINUX"},
        custom=True,
        provider=None,
        parent="",
    )


def _karpenter_policy() -> dict:
    from infra.iam_policies import karpenter_controller

    return karpenter_controller(
        "gpt-oss-dev",
        "eu-west-1",
        "arn:aws:iam::123456789012:role/karpenter-nodes",
        "arn:aws:sqs:eu-west-1:123456789012:q",
        "arn:aws:eks:eu-west-1:123456789012:cluster/gpt-oss-dev",
    )


def _reference(policy: dict) -> list[dict]:
    return iam.reference_statements(
        {
            "${AWS::Partition}": "aws",
            "${AWS::Region}": "eu-west-1",
            "${AWS::AccountId}": "123456789012",
            "${ClusterName}": "gpt-oss-dev",
            "${KarpenterNodeRole.Arn}": "arn:aws:iam::123456789012:role/karpenter-nodes",
            "${KarpenterInterruptionQueue.Arn}": "arn:aws:sqs:eu-west-1:123456789012:q",
        }
    )


def test_the_karpenter_policy_covers_the_reference_policy_of_the_pinned_version():
    policy = _karpenter_policy()
    assert iam.uncovered(policy, _reference(policy)) == []


def test_a_region_condition_on_pricing_and_a_missing_action_are_found():
    """The first release scoped pricing:GetProducts to the stack's region (the Price List API
    answers only in us-east-1 and two more) and lacked ec2:DescribeInstanceStatus."""
    policy = _karpenter_policy()
    for statement in policy["Statement"]:
        if statement["Action"] == "pricing:GetProducts":
            statement["Condition"] = {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
        if isinstance(statement["Action"], list) and "ec2:DescribeInstanceStatus" in statement["Action"]:
            statement["Action"].remove("ec2:DescribeInstanceStatus")
    gaps = iam.uncovered(policy, _reference(policy))
    assert any(g.startswith("pricing:GetProducts on *") for g in gaps)
    assert any(g.startswith("ec2:DescribeInstanceStatus") for g in gaps)


def test_the_reference_data_names_its_source():
    reference = json.loads(iam.REFERENCE.read_text())
    assert "website/content/en/v1.14/" in reference["source"] and reference["karpenter_version"] == "1.14.0"


def test_only_the_planted_defect_is_found():
    stack = stack_of(
        "prod", lambda regs: release(regs, "kuberay-operator").inputs["values"].update(labels=OLD_LABELS, podLabels=OLD_LABELS)
    )
    assert {f.check for f in run_checks(stack)} == {"selectors"}
