"""`preflight` against moto's in-process AWS (`mock_aws`): a ready account passes, and each planted
failure is found with its fix.

What moto (5.2) lacks, and how it is covered instead:
- Service Quotas for EC2: moto implements only the `vpc` service (GetServiceQuota answers
  NoSuchResourceException, GetAWSDefaultServiceQuota is not implemented). The quota check is fed
  the response shape of GetServiceQuota as the Service Quotas API reference documents it, through
  botocore's Stubber on a real client; the moto path proves an unreadable quota is a failure.
- `iam create-service-linked-role --aws-service-name spot.amazonaws.com` names the role
  `AWSServiceRoleForspot` in moto; AWS names it AWSServiceRoleForEC2Spot under
  /aws-service-role/spot.amazonaws.com/, which the test creates as AWS would.
- AWS-owned SSM parameters (/aws/service/eks/...) cannot be written through the API (reserved
  prefix); they are seeded into moto's parameter store the way moto seeds its own public AMI ones.
- An unreachable Cost Explorer (AccessDeniedException) is planted with the Stubber.
"""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any, cast

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws, settings
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ssm.models import Parameter, ssm_backends

from cli.__main__ import main as cli_main
from infra.config.load import PROJECT, read_stack_file, validate_environment
from infra.preflight import Context, checks, run_preflight
from infra.preflight.images import ami_parameter
from infra.preflight.quotas import vcpu_needs

REGION = "us-east-1"
CI_ROLE = "gpt-oss-deploy"
EGRESS = "10.99.1.7"


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    # moto needs credentials to sign with; never real ones.
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def quota_response(code: str, value: float) -> dict:
    """GetServiceQuota's response, as the Service Quotas API reference shows it."""
    return {
        "Quota": {
            "ServiceCode": "ec2",
            "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
            "QuotaArn": f"arn:aws:servicequotas:{REGION}:{DEFAULT_ACCOUNT_ID}:ec2/{code}",
            "QuotaCode": code,
            "QuotaName": "Running On-Demand P instances",
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
            "UsageMetric": {
                "MetricNamespace": "AWS/Usage",
                "MetricName": "ResourceCount",
                "MetricDimensions": {"Class": "P/OnDemand", "Resource": "vCPU", "Service": "EC2", "Type": "Resource"},
                "MetricStatisticRecommendation": "Maximum",
            },
        }
    }


def stubbed_quotas(env, values: dict[str, float]):
    client = boto3.client("service-quotas", region_name=REGION)
    stubber = Stubber(client)
    for need in vcpu_needs(env):
        stubber.add_response(
            "get_service_quota",
            quota_response(need.code, values.get(need.code, 10_000)),
            {"ServiceCode": "ec2", "QuotaCode": need.code},
        )
    stubber.activate()
    return client


def seed_public_parameter(name: str, value: str) -> None:
    store = cast(Any, ssm_backends[DEFAULT_ACCOUNT_ID][REGION])._parameters
    store[name].append(
        Parameter(
            account_id=DEFAULT_ACCOUNT_ID,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.datetime.now(datetime.UTC),
            version=1,
            data_type="aws:ec2:image",
        )
    )


def ready_account(env_name: str = "prod", mutate=None):
    """A ready account inside mock_aws, and the environment that matches it."""
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=CI_ROLE, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="gpt-oss-gateway")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": []})
    digest = ecr.put_image(repositoryName="gpt-oss-gateway", imageManifest=manifest, imageTag="0.1.0")["image"]["imageId"][
        "imageDigest"
    ]
    certificate = boto3.client("acm", region_name=REGION).request_certificate(
        DomainName="gw.corp.internal", ValidationMethod="DNS"
    )["CertificateArn"]
    raw = copy.deepcopy(read_stack_file(env_name)[f"{PROJECT}:environment"])
    raw["cluster"]["api_access"]["public_cidrs"] = ["10.99.0.0/16"]
    raw["cluster"]["admin_role_arns"] = [role]
    raw.setdefault("gateway", {}).setdefault("image", {})["digest"] = digest
    if (raw["gateway"].get("ingress") or {}).get("enabled"):
        raw["gateway"]["ingress"]["certificate_arn"] = certificate
    if mutate:
        mutate(raw)
    env = validate_environment(raw, stack=env_name)
    for pool in env.node_pools:
        seed_public_parameter(ami_parameter(pool, env.cluster.kubernetes_version), "ami-0123456789abcdef0")
    return env, role


def run(env, role, *, quotas: dict[str, float] | None = None, egress: str = EGRESS, clients=None) -> dict[str, list]:
    context = Context(env=env, session=boto3.Session(region_name=REGION), egress_ip=egress, ci_role_arn=role)
    context.clients["service-quotas"] = stubbed_quotas(env, quotas or {})
    context.clients.update(clients or {})
    by_check: dict[str, list] = {}
    for result in run_preflight(context):
        by_check.setdefault(result.check, []).append(result)
    return by_check


def failures(by_check) -> dict[str, list]:
    return {
        name: [r for r in results if r.status == "fail"]
        for name, results in by_check.items()
        if any(r.status == "fail" for r in results)
    }


@pytest.fixture
def issued_at_once(monkeypatch):
    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", -1)


def test_a_ready_account_passes_every_check(issued_at_once):
    with mock_aws():
        env, role = ready_account()
        by_check = run(env, role)
    assert failures(by_check) == {}
    assert set(by_check) == set(checks())
    assert [r.status for r in by_check["acm-certificate"]] == ["pass"]
    assert "does not exist yet: `pulumi up` creates it" in by_check["spot-service-linked-role"][0].detail


def test_the_pools_needs_are_max_nodes_times_vcpus_per_capacity_type():
    env = validate_environment(read_stack_file("prod")[f"{PROJECT}:environment"], stack="prod")
    needs = {n.code: n.vcpus for n in vcpu_needs(env)}
    # prod: p5.4xlarge (16 vCPUs), 2 on-demand floor nodes + up to 4 spot nodes.
    assert needs == {"L-417A185B": 32, "L-7212CCBC": 64}
    dev = validate_environment(read_stack_file("dev")[f"{PROJECT}:environment"], stack="dev")
    assert {n.code: n.vcpus for n in vcpu_needs(dev)} == {"L-3819A6DF": 8}  # g6.xlarge (4 vCPUs) x 2 spot


def test_a_quota_below_the_need_fails_with_the_increase_command(issued_at_once):
    with mock_aws():
        env, role = ready_account()
        found = failures(run(env, role, quotas={"L-417A185B": 0, "L-7212CCBC": 32}))
    (on_demand, spot) = found.pop("gpu-quotas")
    assert found == {}
    assert "L-417A185B Running On-Demand P instances is 0 vCPUs (applied); the pools need 32" in on_demand.detail
    assert on_demand.fix == (
        "aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-417A185B --desired-value 32 --region us-east-1"
    )
    assert "L-7212CCBC All P Spot Instance Requests is 32 vCPUs" in spot.detail and "--desired-value 64" in spot.fix


def test_an_unreadable_quota_is_a_failure_under_moto_which_has_no_ec2_quotas(issued_at_once):
    with mock_aws():
        env, role = ready_account()
        context = Context(env=env, session=boto3.Session(region_name=REGION), egress_ip=EGRESS, ci_role_arn=role)
        results = run_preflight(context, ["gpu-quotas"])
    assert results and all(r.status == "fail" and "cannot read it" in r.detail for r in results)


def test_an_existing_spot_role_fails_with_the_import_command(issued_at_once):
    with mock_aws():
        env, role = ready_account()
        boto3.client("iam").create_role(
            RoleName="AWSServiceRoleForEC2Spot", Path="/aws-service-role/spot.amazonaws.com/", AssumeRolePolicyDocument="{}"
        )
        (failure,) = failures(run(env, role))["spot-service-linked-role"]
    assert failure.fix.startswith(
        "pulumi import aws:iam/serviceLinkedRole:ServiceLinkedRole prod-spot-role "
        f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot --stack prod"
    )


def test_a_missing_spot_role_that_the_stack_does_not_create_fails(issued_at_once):
    def elsewhere(raw):
        raw["account"] = {"create_spot_service_linked_role": False}

    with mock_aws():
        env, role = ready_account(mutate=elsewhere)
        (failure,) = failures(run(env, role))["spot-service-linked-role"]
    assert "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com" in failure.fix


def test_a_certificate_pending_validation_fails(monkeypatch):
    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 10**6)
    with mock_aws():
        env, role = ready_account()
        (failure,) = failures(run(env, role))["acm-certificate"]
    assert "is PENDING_VALIDATION, not ISSUED" in failure.detail and "complete its DNS validation" in failure.fix


def test_a_certificate_in_another_region_fails(issued_at_once):
    def other_region(raw):
        arn = raw["gateway"]["ingress"]["certificate_arn"]
        raw["gateway"]["ingress"]["certificate_arn"] = arn.replace(":us-east-1:", ":eu-west-1:")

    with mock_aws():
        env, role = ready_account(mutate=other_region)
        (failure,) = failures(run(env, role))["acm-certificate"]
    assert "is in eu-west-1, the load balancer in us-east-1" in failure.detail


def test_a_digest_not_in_ecr_fails_and_no_digest_is_the_bootstrap(issued_at_once):
    with mock_aws():
        env, role = ready_account(mutate=lambda raw: raw["gateway"]["image"].update(digest="sha256:" + "ab" * 32))
        (failure,) = failures(run(env, role))["gateway-image"]
    assert "ImageNotFoundException" in failure.detail and "run the gateway-image workflow" in failure.fix
    with mock_aws():
        env, role = ready_account(mutate=lambda raw: raw["gateway"]["image"].update(digest=None))
        (skipped,) = run(env, role)["gateway-image"]
    assert skipped.status == "skip" and "merge its pins PR" in skipped.detail


def test_an_ami_parameter_that_does_not_resolve_fails(issued_at_once):
    with mock_aws():
        env, role = ready_account()
        ssm_backends[DEFAULT_ACCOUNT_ID][REGION]._parameters.clear()
        (failure,) = failures(run(env, role))["ami-parameters"]
    assert "/1.35/amazon-linux-2023/x86_64/nvidia/recommended/image_id: ParameterNotFound" in failure.detail
    assert (
        "aws ssm get-parameters-by-path --path /aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/nvidia "
        in failure.fix
    )


def test_the_parameter_names_are_karpenters_and_eks():
    env = validate_environment(read_stack_file("staging")[f"{PROJECT}:environment"], stack="staging")
    (pool,) = env.node_pools  # karpenter, al2023, alias from infra/versions.py
    assert ami_parameter(pool, "1.35") == (
        "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260714/image_id"
    )
    bottlerocket = pool.model_copy(update={"ami_family": "bottlerocket", "ami_release": None})
    assert ami_parameter(bottlerocket, "1.33") == "/aws/service/bottlerocket/aws-k8s-1.33-nvidia/x86_64/1.63.0/image_id"
    managed = pool.model_copy(update={"provisioner": "managed_node_group", "ami_release": None})
    assert ami_parameter(managed, "1.33").endswith("/x86_64/nvidia/recommended/image_id")
    pinned = managed.model_copy(update={"ami_release": "1.33.5-20251112"})
    assert ami_parameter(pinned, "1.33").endswith("amazon-eks-node-al2023-x86_64-nvidia-1.33-v20251112/image_id")


def test_an_egress_ip_outside_public_cidrs_fails_naming_the_cidr_to_add(issued_at_once):
    with mock_aws():
        env, role = ready_account()
        (failure,) = failures(run(env, role, egress="198.51.100.23"))["api-egress"]
    assert "198.51.100.23 is outside cluster.api_access.public_cidrs (10.99.0.0/16)" in failure.detail
    assert failure.fix.startswith("add 198.51.100.23/32 (or your VPN/runner range) to cluster.api_access.public_cidrs")


def test_a_ci_role_that_is_not_admin_or_does_not_exist_fails(issued_at_once):
    with mock_aws():
        env, role = ready_account(mutate=lambda raw: raw["cluster"].update(admin_role_arns=[]))
        (not_admin,) = failures(run(env, role))["ci-role-admin"]
        (missing,) = failures(run(env, f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/nobody"))["ci-role-admin"]
        (absent,) = failures(run(env, None))["ci-role-admin"]
    assert "is not in cluster.admin_role_arns" in not_admin.detail and f"pulumi config set ciRoleArn {role}" in not_admin.fix
    assert "NoSuchEntity" in missing.detail and "--ci-role-arn" in absent.fix


def test_an_unreachable_cost_explorer_fails_with_how_to_enable_it(issued_at_once):
    with mock_aws():
        env, role = ready_account()
        ce = boto3.client("ce", region_name=REGION)
        stubber = Stubber(ce)
        stubber.add_client_error("get_cost_and_usage", "AccessDeniedException", "User not enabled for cost explorer access")
        stubber.activate()
        (failure,) = failures(run(env, role, clients={"ce": ce}))["budgets-cost-explorer"]
    assert failure.detail == "Cost Explorer: AccessDeniedException" and "enable Cost Explorer" in failure.fix


def test_preflight_help_documents_every_check(capsys):
    with pytest.raises(SystemExit):
        cli_main(["preflight", "--help"])
    text = capsys.readouterr().out
    for name, (description, _) in checks().items():
        assert name in text and description.split()[0] in text
    for code in ("L-417A185B", "L-DB2E81BA", "L-7212CCBC", "L-3819A6DF", "AWSServiceRoleForEC2Spot", "ISSUED", "admin_role_arns"):
        assert code in text


def test_the_cli_exits_1_and_prints_each_fix(tmp_path, capsys, issued_at_once):
    # A dev stack whose runners' CIDR is a documentation range and with no CI role among the admins.
    config = copy.deepcopy(read_stack_file("dev"))
    config[f"{PROJECT}:environment"]["cluster"]["api_access"]["public_cidrs"] = ["203.0.113.0/24"]
    config[f"{PROJECT}:environment"]["cluster"]["admin_role_arns"] = []
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    env = validate_environment(config[f"{PROJECT}:environment"], stack="dev")
    with mock_aws():
        for pool in env.node_pools:
            seed_public_parameter(ami_parameter(pool, env.cluster.kubernetes_version), "ami-0123456789abcdef0")
        only = "api-egress,ami-parameters,ci-role-admin"
        code = cli_main(["preflight", "--env", "dev", "--stacks", str(tmp_path), "--egress-ip", EGRESS, "--only", only])
    out = capsys.readouterr()
    assert code == 1 and "PREFLIGHT FAILED (dev)" in out.err
    assert "[FAIL] api-egress: 10.99.1.7 is outside cluster.api_access.public_cidrs (203.0.113.0/24)" in out.out
    assert "[PASS] ami-parameters" in out.out and "[FAIL] ci-role-admin: no CI role given" in out.out
    assert "fix: add 10.99.1.7/32" in out.out


def test_an_unknown_check_name_is_bad_input(capsys):
    assert cli_main(["preflight", "--env", "dev", "--only", "quotas"]) == 2
    assert "unknown check(s) quotas; known: gpu-quotas" in capsys.readouterr().err
