"""The CrossGuard pack runs the same rules: called directly with ResourceValidationArgs."""

from __future__ import annotations

import json

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra.policy.pack import build_pack
from infra.tags import REQUIRED_TAG_KEYS

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def policies() -> dict:
    return {p.name: p for p in build_pack()}


def provider(tags: dict) -> PolicyProviderResource:
    return PolicyProviderResource("pulumi:providers:aws", {"defaultTags": json.dumps({"tags": tags})}, "urn:p", "aws")


def validate(policy_name: str, resource_type: str, props: dict, provider_tags: dict | None = None) -> list[str]:
    reports: list[str] = []
    args = ResourceValidationArgs(resource_type, props, "urn:r", "r", OPTS, provider(provider_tags or {}))
    policies()[policy_name].validate(args, lambda message, urn=None: reports.append(message))
    return reports


def test_the_pack_has_the_four_mandatory_policies():
    assert set(policies()) == {
        "required-cost-tags",
        "launched-resources-tagged",
        "no-plaintext-secrets",
        "s3-buckets-private-and-encrypted",
    }
    assert all(p.enforcement_level.value == "mandatory" for p in build_pack())


def test_required_tags_reads_the_provider_default_tags():
    full = dict.fromkeys(REQUIRED_TAG_KEYS, "x")
    assert validate("required-cost-tags", "aws:eks/cluster:Cluster", {}, full) == []
    assert validate("required-cost-tags", "aws:eks/cluster:Cluster", {}, {}) != []


def test_plain_credentials_fail_the_preview():
    reports = validate(
        "no-plaintext-secrets", "kubernetes:helm.sh/v3:Release", {"values": {"apiKey": "sk-live-0123456789abcdefgh"}}
    )
    assert reports and "credential-shaped" in reports[0]


def test_stack_policy_finds_a_public_bucket():
    bucket = PolicyResource(
        "aws:s3/bucket:Bucket", {"bucket": "weights-1", "acl": "public-read"}, "urn:b", "weights", OPTS, None, None, [], {}
    )
    reports: list[str] = []
    policies()["s3-buckets-private-and-encrypted"].validate(StackValidationArgs([bucket]), lambda m, urn=None: reports.append(m))
    assert any("public ACL" in r for r in reports) and any("encryption" in r for r in reports)
