"""The Pulumi program, run under Pulumi's mock engine: what it would create, and how."""

from __future__ import annotations

import hashlib
import json

import pytest

from contracts import NODE_POOL_LABEL as POOL_LABEL
from infra.config import environment_from_stack_file
from infra.config.load import PREVIEW_IMAGE_DIGEST
from infra.node_pool_shape import CA_TAG_PREFIX
from infra.tags import cost_tags
from infra.versions import CLUSTER_AUTOSCALER, KARPENTER, KUBERAY_OPERATOR, NVIDIA_DEVICE_PLUGIN
from support.crds import crd_errors

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG_TAG = "aws:autoscaling/tag:Tag"
RELEASE = "kubernetes:helm.sh/v3:Release"


def differences(got, want, path="values") -> list[str]:
    """Paths where two JSON-like values differ (a readable failure instead of a truncated repr)."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [d for key in sorted(set(got) | set(want)) for d in differences(got.get(key), want.get(key), f"{path}.{key}")]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True)) for d in differences(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def asg_tags_for(run, node_group_name: str) -> dict[str, dict]:
    from infra.plan.mocks import asg_name

    asg = asg_name(node_group_name)
    return {r.inputs["tag"]["key"]: r.inputs["tag"] for r in run.of_type(ASG_TAG) if r.inputs["autoscalingGroupName"] == asg}


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_every_aws_resource_goes_through_the_tagged_provider(program, env_name):
    run = program(env_name)
    provider = run.named("pulumi:providers:aws", "aws")
    default_tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert default_tags == cost_tags(run.run.env, env_name)
    aws = [r for r in run.registrations if r.custom and r.type.startswith("aws:")]
    assert aws and all(r.provider_name == "aws" for r in aws), [r.name for r in aws if r.provider_name != "aws"]


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_every_kubernetes_object_goes_through_the_cluster_provider(program, env_name):
    run = program(env_name)
    objects = [r for r in run.registrations if r.custom and r.type.startswith("kubernetes:")]
    assert objects and all(r.provider_name == "k8s" for r in objects), [r.name for r in objects if r.provider_name != "k8s"]


def test_stacks_disable_default_providers():
    from infra.config import read_stack_file

    for env_name in ("dev", "staging", "prod"):
        assert read_stack_file(env_name)["pulumi:disable-default-providers"] == ["aws", "kubernetes"]


def test_prod_gpu_pool_is_an_on_demand_floor_plus_spot_burst(program):
    run = program("prod")
    od = run.named(NODE_GROUP, "prod-gpu-h100-od")
    spot = run.named(NODE_GROUP, "prod-gpu-h100-spot")
    assert (od.inputs["capacityType"], od.inputs["scalingConfig"]["minSize"], od.inputs["scalingConfig"]["maxSize"]) == (
        "ON_DEMAND",
        2,
        2,
    )
    assert (spot.inputs["capacityType"], spot.inputs["scalingConfig"]["minSize"], spot.inputs["scalingConfig"]["maxSize"]) == (
        "SPOT",
        0,
        4,
    )
    for group in (od, spot):
        assert group.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert group.inputs["instanceTypes"] == ["p5.4xlarge"]
        assert group.inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
        assert group.inputs["labels"][POOL_LABEL] == "gpu-h100"
        assert group.inputs["labels"]["cost-center"] == "cc-ml-prod"


def test_gpu_launch_template_tags_what_it_launches_and_locks_down_the_node(program):
    run = program("prod")
    template = run.named(LAUNCH_TEMPLATE, "prod-gpu-h100-lt")
    specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
    assert set(specs) == {"instance", "volume", "network-interface"}
    expected = cost_tags(run.run.env, "prod")
    for tags in specs.values():
        assert {k: tags[k] for k in expected} == expected
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    disk = template.inputs["blockDeviceMappings"][0]
    assert disk["ebs"]["volumeSize"] == 300 and disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
    od = run.named(NODE_GROUP, "prod-gpu-h100-od")
    assert od.inputs["launchTemplate"]["id"] == template.resource_id


def test_scale_from_zero_tags_reach_the_spot_group_asg(program):
    run = program("dev")
    tags = asg_tags_for(run, "dev-gpu-l4-spot")
    assert tags[f"{CA_TAG_PREFIX}/taint/nvidia.com/gpu"]["value"] == "true:NoSchedule"
    assert tags[f"{CA_TAG_PREFIX}/resources/nvidia.com/gpu"]["value"] == "1"
    assert tags[f"{CA_TAG_PREFIX}/label/{POOL_LABEL}"]["value"] == "gpu-l4"
    assert tags["cost-center"]["value"] == "cc-ml-dev"
    assert all(tag["propagateAtLaunch"] is False for tag in tags.values()), "instances are tagged by the launch template"
    group = run.named(NODE_GROUP, "dev-gpu-l4-spot")
    assert group.inputs["scalingConfig"]["minSize"] == 0, "dev scales to zero"


def test_the_system_node_group_asg_carries_cost_tags_too(program):
    run = program("dev")
    tags = asg_tags_for(run, "dev-system")
    assert {k: v["value"] for k, v in tags.items()} == cost_tags(run.run.env, "dev")


def test_karpenter_pools_are_valid_custom_resources_with_floor_first(program):
    run = program("staging")
    node_class = run.named("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "staging-gpu-h100-nodeclass")
    pools = {r.name: r for r in run.of_type("kubernetes:karpenter.sh/v1:NodePool")}
    assert set(pools) == {"staging-gpu-h100-od", "staging-gpu-h100-spot"}
    od, spot = pools["staging-gpu-h100-od"].inputs, pools["staging-gpu-h100-spot"].inputs
    assert od["spec"]["weight"] > spot["spec"]["weight"], "on-demand floor fills first"
    assert od["spec"]["limits"] == {"nvidia.com/gpu": "1"}
    requirement = {r["key"]: r["values"] for r in spot["spec"]["template"]["spec"]["requirements"]}
    assert requirement["karpenter.sh/capacity-type"] == ["spot"]
    assert requirement["node.kubernetes.io/instance-type"] == ["p5.4xlarge"]
    assert spot["spec"]["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert node_class.inputs["spec"]["tags"]["environment"] == "staging", "Karpenter tags what it launches"
    for registration in (node_class, *pools.values()):
        document = {"apiVersion": registration.inputs["apiVersion"], "kind": registration.inputs["kind"], **registration.inputs}
        assert crd_errors(document) == []


def test_karpenter_gets_its_controller_queue_and_node_access(program):
    run = program("staging")
    releases = {r.inputs["name"]: r for r in run.of_type(RELEASE)}
    assert releases["karpenter"].inputs["version"] == KARPENTER.version
    assert len(run.of_type("aws:cloudwatch/eventRule:EventRule")) == 4
    assert run.of_type("aws:sqs/queue:Queue")
    (entry,) = run.of_type("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["type"] == "EC2_LINUX"
    # Karpenter's nodes have a role of their own: EKS already made an entry for the node groups' role
    # and refuses a second one (infra/plan/checks/access_entries.py).
    group_roles = {g.inputs["nodeRoleArn"] for g in run.of_type(NODE_GROUP)}
    assert entry.inputs["principalArn"] not in group_roles
    node_class = run.named("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "staging-gpu-h100-nodeclass")
    assert node_class.inputs["spec"]["role"] in entry.inputs["principalArn"]
    identities = {
        (r.inputs["namespace"], r.inputs["serviceAccount"])
        for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    assert ("kube-system", "karpenter") in identities


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_add_ons_are_pinned_releases(program, env_name):
    releases = {r.inputs["name"]: r.inputs for r in program(env_name).of_type(RELEASE)}
    assert releases["kuberay-operator"]["version"] == KUBERAY_OPERATOR.version
    assert releases["nvidia-device-plugin"]["version"] == NVIDIA_DEVICE_PLUGIN.version
    assert releases["cluster-autoscaler"]["version"] == CLUSTER_AUTOSCALER.version
    assert releases["cluster-autoscaler"]["values"]["image"]["tag"].startswith("v1.35.")


def test_bottlerocket_pools_need_no_device_plugin(variant):
    def bottlerocket(env):
        env["node_pools"][0]["ami_family"] = "bottlerocket"

    run = variant("dev", bottlerocket)
    releases = {r.inputs["name"] for r in run.of_type(RELEASE)}
    assert "nvidia-device-plugin" not in releases
    group = run.named(NODE_GROUP, "dev-gpu-l4-spot")
    assert group.inputs["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    template = run.named(LAUNCH_TEMPLATE, "dev-gpu-l4-lt")
    assert template.inputs["blockDeviceMappings"][0]["deviceName"] == "/dev/xvdb"


def test_an_existing_cluster_is_attached_not_created(variant):
    def existing(env):
        env["cluster"] = {
            "mode": "existing",
            "name": "shared-gpu",
            "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
            # The runner sits in the cluster's VPC (a private endpoint).
            "api_access": {"mode": "private"},
        }

    run = variant("dev", existing)
    assert not run.of_type("aws:eks/cluster:Cluster") and not run.of_type("aws:ec2/vpc:Vpc")
    group = run.named(NODE_GROUP, "dev-gpu-l4-spot")
    assert group.inputs["clusterName"] == "shared-gpu"
    assert group.inputs["subnetIds"] == ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]


def test_weights_bucket_is_private_encrypted_versioned_and_readable_by_ray_only(program):
    run = program("prod")
    block = run.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert run.of_type("aws:s3/bucketVersioning:BucketVersioning")[0].inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = run.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0].inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    reader = run.named("aws:eks/podIdentityAssociation:PodIdentityAssociation", "prod-weights-reader-identity").inputs
    assert (reader["namespace"], reader["serviceAccount"]) == ("gpt-oss", "gpt-oss-ray")
    policy = json.loads(run.named("aws:iam/rolePolicy:RolePolicy", "prod-weights-reader-policy").inputs["policy"])
    assert {a for s in policy["Statement"] for a in s["Action"]} == {"s3:GetObject", "s3:ListBucket"}


def test_the_managed_api_key_is_a_secret_everywhere(program):
    run = program("prod")
    version = run.of_type("aws:secretsmanager/secretVersion:SecretVersion")[0]
    assert "secretString" in version.secret_paths
    secret = run.named("kubernetes:core/v1:Secret", "prod-managed-api-key")
    assert any(p.startswith("stringData") for p in secret.secret_paths)
    assert secret.inputs["metadata"]["name"] == "gpt-oss-managed-api-key"


def test_no_fallback_means_no_managed_key_anywhere(variant):
    def no_fallback(env):
        env["fallback"]["allowed"] = False
        env["gateway"].get("image", {}).pop("digest", None)  # whatever the live pins hold: the preview's placeholder

    run = variant("dev", no_fallback)
    # Only the smoke test's key in Secrets Manager; no managed API key.
    assert [r.name for r in run.of_type("aws:secretsmanager/secret:Secret")] == ["dev-smoke-key"]
    # The client keys (seeded with the smoke key's hash) and Grafana's password.
    assert sorted(r.name for r in run.of_type("kubernetes:core/v1:Secret")) == ["dev-addons-grafana-admin", "dev-client-keys"]
    assert run.run.placeholders == ["gateway.image.digest"], "no secret placeholder: nothing secret is needed"


def test_the_budget_filters_on_the_environment_tag(program):
    budget = program("prod").of_type("aws:budgets/budget:Budget")[0].inputs
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:environment$prod"]}]
    assert budget["limitAmount"] == "60000.00"
    thresholds = sorted((n["notificationType"], n["threshold"]) for n in budget["notifications"])
    assert thresholds == [("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]


def test_prod_cluster_encrypts_secrets_and_opens_the_api_to_the_listed_runners_only(program):
    cluster = program("prod").of_type("aws:eks/cluster:Cluster")[0].inputs
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    # The runner of `pulumi up` reaches the API over the public endpoint, from the listed CIDRs only;
    # nodes use the private endpoint.
    assert cluster["vpcConfig"]["endpointPublicAccess"] is True and cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    nat = program("prod").of_type("aws:ec2/natGateway:NatGateway")
    assert len(nat) == 3, "prod runs one NAT gateway per zone"


def test_the_serving_release_gets_values_from_the_typed_config(program):
    run = program("prod")
    release = run.named(RELEASE, "prod-serving").inputs
    env = environment_from_stack_file("prod")
    from infra.chart_values import StackOutputs, chart_values

    bucket = run.of_type("aws:s3/bucket:Bucket")[0].resource_id
    redis = release["values"]["rayService"]["gcsFaultTolerance"]["redisAddress"]
    assert redis.startswith("prod-gcs-") and redis.endswith(":6379"), "the ElastiCache endpoint the program created"
    image = release["values"]["gateway"]["image"]
    governor = release["values"]["governor"]["image"]
    # The offline plan renders the governor with the placeholder digest until CI has recorded one.
    assert governor["digest"] == PREVIEW_IMAGE_DIGEST and governor["repository"].endswith("/gpt-oss-governor")
    outputs = StackOutputs(
        f"{image['repository']}@{image['digest']}",
        "172.20.0.0/16",
        bucket,
        redis,
        governor_image=f"{governor['repository']}@{governor['digest']}",
    )
    expected = json.loads(json.dumps(chart_values(env, "prod", outputs)))
    assert differences(release["values"], expected) == []
    # Pulumi runs the program in `main` (infra/); the chart path must resolve from there.
    assert release["chart"] == "../charts/gpt-oss-serving" and release["namespace"] == "gpt-oss"


def test_the_observability_stack_selects_every_monitor_and_has_no_default_password(program):
    run = program("prod")
    release = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "kube-prometheus-stack").inputs
    spec = release["values"]["prometheus"]["prometheusSpec"]
    assert spec["ruleSelectorNilUsesHelmValues"] is False and spec["podMonitorSelectorNilUsesHelmValues"] is False
    assert release["values"]["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    admin = run.named("kubernetes:core/v1:Secret", "prod-addons-grafana-admin")
    assert "stringData" in admin.secret_paths, "the generated password is a Pulumi secret"
    allow = release["values"]["kube-state-metrics"]["metricLabelsAllowlist"]
    assert any("gpt-oss.platform/node-pool" in entry for entry in allow)


def test_prometheus_stack_can_be_left_to_an_existing_install(variant):
    run = variant("dev", lambda env: env.update(observability={"install_prometheus_stack": False}))
    assert "kube-prometheus-stack" not in {r.inputs["name"] for r in run.of_type(RELEASE)}


def test_network_policies_are_enforced_by_the_vpc_cni(program):
    addon = program("prod").named("aws:eks/addon:Addon", "prod-vpc-cni").inputs
    assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_prod_gcs_store_is_a_private_two_zone_elasticache(program):
    run = program("prod")
    group = run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")[0].inputs
    assert group["numCacheClusters"] == 2 and group["multiAzEnabled"] is True and group["atRestEncryptionEnabled"] is True
    rule = run.of_type("aws:ec2/securityGroup:SecurityGroup")[0].inputs["ingress"][0]
    assert (rule["fromPort"], rule["toPort"]) == (6379, 6379) and rule["securityGroups"] and not rule.get("cidrBlocks")
    values = run.named(RELEASE, "prod-serving").inputs["values"]
    address = values["rayService"]["gcsFaultTolerance"]["redisAddress"]
    assert address.endswith(".cache.amazonaws.com:6379")
    assert not program("dev").of_type("aws:elasticache/replicationGroup:ReplicationGroup")


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_each_stack_creates_its_gateway_image_registry(program, env_name):
    """ECR: immutable tags, scan on push, KMS at rest, never force-deleted, lifecycle expiring
    untagged layers first and keeping the newest images (the `any` rule last)."""
    import json

    run = program(env_name)
    # The gateway's and the governor's (the image workflow pushes both), with the same rules.
    repos = run.of_type("aws:ecr/repository:Repository")
    assert sorted(r.inputs["name"] for r in repos) == ["gpt-oss-gateway", "gpt-oss-governor"]
    for repo in repos:
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
        assert repo.inputs.get("forceDelete") is not True
    policies = run.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert len(policies) == 2
    for policy in policies:
        rules = json.loads(policy.inputs["policy"])["rules"]
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
        assert [r["rulePriority"] for r in rules] == [1, 2]
        assert rules[1]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 200}


def test_a_stack_sharing_an_account_names_the_repository_without_creating_it(variant):
    run = variant("staging", lambda env: env.update(registry={"create": False}))
    assert run.of_type("aws:ecr/repository:Repository") == []


def test_the_cluster_starts_without_self_managed_add_ons_and_networking_comes_before_nodes(program):
    run = program("prod")
    cluster = run.of_type("aws:eks/cluster:Cluster")[0].inputs
    assert cluster["bootstrapSelfManagedAddons"] is False
    assert cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "172.20.0.0/16"
    addons = {r.inputs["addonName"]: r for r in run.of_type("aws:eks/addon:Addon")}
    assert all(a.inputs["resolveConflictsOnCreate"] == "OVERWRITE" for a in addons.values())
    system = run.named(NODE_GROUP, "prod-system")
    assert {addons[name].urn for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")} <= system.dependencies
    assert system.urn in addons["coredns"].dependencies, "CoreDNS needs nodes to become ACTIVE"


@pytest.mark.parametrize(("env_name", "protected"), [("dev", False), ("prod", True)])
def test_what_holds_state_is_protected_where_the_environment_says_so(program, env_name, protected):
    run = program(env_name)
    stateful = [
        *run.of_type("aws:s3/bucket:Bucket"),
        *run.of_type("aws:kms/key:Key"),
        *run.of_type("aws:secretsmanager/secret:Secret"),
        *run.of_type("aws:elasticache/replicationGroup:ReplicationGroup"),
    ]
    assert stateful and all(r.protect is protected for r in stateful), [(r.name, r.protect) for r in stateful]


def test_the_managed_api_key_secret_can_be_recreated_within_its_recovery_window(program):
    secrets = {r.name: r for r in program("prod").of_type("aws:secretsmanager/secret:Secret")}
    assert set(secrets) == {"prod-managed-api-key", "prod-smoke-key"}
    # A name prefix, not a fixed name: a deleted secret keeps its name for the recovery window.
    for name, prefix in (("prod-managed-api-key", "managed-api-key-"), ("prod-smoke-key", "smoke-key-")):
        assert "name" not in secrets[name].inputs and secrets[name].inputs["namePrefix"] == f"gpt-oss-platform/prod/{prefix}"


def test_the_client_keys_secret_is_seeded_with_the_smoke_key_and_then_left_to_operators(program):
    from infra.plan.mocks import PLACEHOLDER_GENERATED_SECRET

    run = program("dev")
    secret = run.named("kubernetes:core/v1:Secret", "dev-client-keys")
    assert secret.inputs["metadata"]["name"] == "gpt-oss-gateway-clients"
    (client,) = json.loads(secret.inputs["stringData"]["clients.json"])["clients"]
    # Only the hash of the generated key; the key itself goes to Secrets Manager, as a secret.
    assert (
        client["name"] == "deploy-smoke"
        and client["key_sha256"] == hashlib.sha256(PLACEHOLDER_GENERATED_SECRET.encode()).hexdigest()
    )
    version = run.named("aws:secretsmanager/secretVersion:SecretVersion", "dev-smoke-key")
    assert "secretString" in version.secret_paths
    assert set(secret.ignore_changes) == {"data", "stringData"}
    serving = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "gpt-oss")
    assert secret.urn in serving.dependencies, "the gateway mounts it: it must exist first"


def test_the_offline_plan_renders_the_serving_release_with_a_placeholder_digest_before_bootstrap(tmp_path, monkeypatch):
    """`pulumi up` leaves the release out until the digest exists (tests/infra/components/test_bootstrap.py);
    the offline plan renders it with a placeholder so that its checks still run."""
    from infra.config import environment_from_stack_file
    from infra.config.load import STACKS_DIR_ENV
    from infra.plan.runner import run_program
    from support.environments import build_environments

    # The tests' own environments: dev without a gateway digest, whatever the live pins hold.
    root = build_environments(tmp_path / "repo")
    assert environment_from_stack_file("dev", root).gateway.image.digest is None
    monkeypatch.setenv(STACKS_DIR_ENV, str(root))
    serving = next(r for r in run_program("dev", root).registrations if r.type == RELEASE and r.inputs["name"] == "gpt-oss")
    assert serving.inputs["values"]["gateway"]["image"]["digest"] == "sha256:" + "0" * 64


def test_a_gitops_environment_leaves_the_serving_release_to_argo_cd_or_flux(variant):
    """serving.release_managed_by: gitops: Pulumi builds everything around the release, never the release."""

    def gitops(env):
        env["serving"]["release_managed_by"] = "gitops"
        env["gateway"].setdefault("image", {})["digest"] = "sha256:" + "a" * 64

    run = variant("dev", gitops)
    assert not [r for r in run.of_type(RELEASE) if r.inputs["name"] == "gpt-oss"]
    assert [r for r in run.of_type(RELEASE) if r.inputs["name"] == "kuberay-operator"], "the add-ons are still Pulumi's"
