"""`audit tags` against moto's in-process AWS (`mock_aws`): planted gaps are found, a clean
account is clean.

What moto supports and what it does not (moto 5.2):
- Resource Groups Tagging API GetResources, EC2, EKS, Auto Scaling, STS and Budgets
  (CreateBudget/DescribeBudgets, which keep CostFilters and FilterExpression as given) are
  implemented and used here as the real API would be.
- RunInstances applies TagSpecifications to the instance and its volumes but not to the primary
  network interface, which real EC2 tags at launch (RunInstances, TagSpecifications
  `network-interface`). The "clean" account tags that interface with CreateTags, standing in
  for what EC2 itself does; the untagged case is what moto gives without it.
- DescribeCluster omits resourcesVpcConfig.vpcId; the audit then finds the VPC from the
  cluster's subnets (DescribeSubnets), as it does for a real cluster that does not name it.
- Cost Explorer's ListCostAllocationTags (whether `environment` is an active cost allocation
  tag) is not implemented by moto, so the audit does not claim to check it.
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from cli.__main__ import main as cli_main
from infra.audit.audit import audit_environment
from infra.audit.budget import budget_gaps, selects_environment
from infra.config import environment_from_stack_file
from infra.tags import cost_tags

REGION = "us-east-1"
AMI = "ami-12c6146b"  # one of moto's default AMIs


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    # moto needs credentials to sign with; never real ones.
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _spec(resource_type: str, tags: dict[str, str]) -> dict:
    return {"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def _tag_primary_interface(ec2, instance_id: str, tags: dict[str, str]) -> None:
    """What EC2 does with a launch template's `network-interface` tag specification (moto does not)."""
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.create_tags(Resources=[eni], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def _launch(ec2, subnet: str, tags: dict[str, str]) -> str:
    specs = [_spec(t, tags) for t in ("instance", "volume")] if tags else []
    instance = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="g6.xlarge", SubnetId=subnet, TagSpecifications=specs
    )
    return instance["Instances"][0]["InstanceId"]


def build_account(env, *, budget: bool = True, budget_filter: bool = True) -> dict[str, str]:
    """The environment as `pulumi up` leaves it, inside the active mock: VPC, cluster, a node group
    instance launched from the launch template's tag specifications, and the budget."""
    tags = cost_tags(env, env.name)
    session = boto3.Session(region_name=REGION)
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=[_spec("vpc", tags)])["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{z}", TagSpecifications=[_spec("subnet", tags)]
        )["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    role = session.client("iam").create_role(RoleName="cluster", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    session.client("eks").create_cluster(
        name=env.cluster.name, roleArn=role, resourcesVpcConfig={"subnetIds": subnets}, tags=tags
    )
    node = _launch(ec2, subnets[0], tags | {"eks:cluster-name": env.cluster.name, "eks:nodegroup-name": f"{env.name}-gpu"})
    _tag_primary_interface(ec2, node, tags)
    if budget:
        filters = {"TagKeyValue": [f"user:environment${env.name}"]} if budget_filter else {}
        session.client("budgets").create_budget(
            AccountId=session.client("sts").get_caller_identity()["Account"],
            Budget={
                "BudgetName": f"gpt-oss-platform-{env.name}",
                "BudgetLimit": {"Amount": f"{env.budget.monthly_usd:.2f}", "Unit": "USD"},
                "TimeUnit": "MONTHLY",
                "BudgetType": "COST",
                "CostFilters": filters,
            },
        )
    return {"vpc": vpc, "subnet": subnets[0], "node": node}


@pytest.fixture
def dev():
    return environment_from_stack_file("dev")


def test_a_clean_account_is_reported_clean(dev, capsys):
    with mock_aws():
        build_account(dev)
        result = audit_environment(dev, boto3.Session(region_name=REGION))
        assert result.clean, [g.describe() for g in result.tag_gaps] + [g.problem for g in result.budget_gaps]
        kinds = {r.kind for r in result.resources}
        assert {"eks:cluster", "ec2:instance", "ec2:volume", "ec2:network-interface", "ec2:vpc"} <= kinds
        assert cli_main(["audit", "tags", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "CLEAN" in out and "gpt-oss-platform-dev" in out


def test_planted_gaps_are_all_found_and_exit_1(dev, capsys):
    with mock_aws():
        account = build_account(dev, budget=False)
        ec2 = boto3.client("ec2", region_name=REGION)
        untagged = _launch(ec2, account["subnet"], {})
        wrong_case = {("Environment" if k == "environment" else k): v for k, v in cost_tags(dev, "dev").items()}
        shouted = _launch(ec2, account["subnet"], wrong_case)
        result = audit_environment(dev, boto3.Session(region_name=REGION))
        assert cli_main(["audit", "tags", "--env", "dev", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    gaps = {(g.resource, g.problem, g.key) for g in result.tag_gaps}
    assert (untagged, "missing", "environment") in gaps and (untagged, "missing", "cost-center") in gaps
    assert (shouted, "wrong-case", "environment") in gaps
    assert next(g for g in result.tag_gaps if g.resource == shouted).found_key == "Environment"
    assert (account["node"], "missing", "environment") not in gaps, "the tagged node is not a gap"
    untagged_volume = [g for g in result.tag_gaps if g.kind == "ec2:volume" and untagged in g.via]
    assert untagged_volume, "the untagged instance's volume is found through its attachment"
    assert [g.problem for g in result.budget_gaps] == [
        "no budget named 'gpt-oss-platform-dev' and none filters on the tag user:environment$dev"
    ]
    assert data["clean"] is False and len(data["tag_gaps"]) == len(result.tag_gaps)


def test_a_budget_that_does_not_filter_on_the_environment_is_a_gap(dev):
    with mock_aws():
        build_account(dev, budget_filter=False)
        result = audit_environment(dev, boto3.Session(region_name=REGION))
    assert [g.problem for g in result.budget_gaps] == [
        "does not filter on the environment tag (cost filter TagKeyValue user:environment$dev)"
    ]


def test_instances_of_another_environment_are_left_alone(dev):
    with mock_aws():
        build_account(dev)
        ec2 = boto3.client("ec2", region_name=REGION)
        other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
        other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
        _launch(ec2, other_subnet, {"environment": "prod"})
        _launch(ec2, other_subnet, {})
        result = audit_environment(dev, boto3.Session(region_name=REGION))
    assert result.clean


def test_missing_credentials_are_one_clear_error(dev, monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert cli_main(["audit", "tags", "--env", "dev"]) == 2
    assert "no AWS credentials" in capsys.readouterr().err


def test_the_filter_expression_form_also_selects_the_environment():
    budget = {
        "FilterExpression": {
            "And": [
                {"Tags": {"Key": "environment", "Values": ["dev"]}},
                {"Dimensions": {"Key": "REGION", "Values": ["us-east-1"]}},
            ]
        }
    }
    assert selects_environment(budget, "dev") and not selects_environment(budget, "prod")
    wrong = {
        "BudgetName": "gpt-oss-platform-dev",
        "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": "99.00", "Unit": "USD"},
        "CostFilters": {"TagKeyValue": ["user:Environment$dev"]},
    }
    gaps, _ = budget_gaps([wrong], "dev", 1600)
    problems = [g.problem for g in gaps]
    assert any("does not filter on the environment tag" in p for p in problems), "the tag key is case-sensitive"
    assert "limit is 99.00 USD, the config says 1600.00 USD" in problems


def test_an_account_without_the_cluster_says_so_and_still_audits_what_is_tagged(dev):
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=[_spec("vpc", {"environment": "dev"})])["Vpc"]["VpcId"]
        result = audit_environment(dev, boto3.Session(region_name=REGION))
    assert "EKS cluster 'gpt-oss-dev' not found in us-east-1" in result.notes
    assert {(g.resource, g.key) for g in result.tag_gaps} >= {(vpc, "cost-center"), (vpc, "team")}
