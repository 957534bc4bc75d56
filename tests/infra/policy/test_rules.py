"""Policy rules, fed good and bad resources directly."""

from __future__ import annotations

import json

import pytest

from infra.policy import rules
from infra.tags import REQUIRED_TAG_KEYS

FULL_TAGS = dict.fromkeys(REQUIRED_TAG_KEYS, "x")


def test_a_taggable_resource_without_tags_is_reported_with_the_missing_keys():
    messages = rules.required_tags("aws:ec2/vpc:Vpc", {}, {"team": "ml"})
    assert messages == [f"missing required tags: {', '.join(k for k in REQUIRED_TAG_KEYS if k != 'team')}"]


def test_provider_default_tags_count_and_resource_tags_add_to_them():
    defaults = {k: v for k, v in FULL_TAGS.items() if k != "owner"}
    assert rules.required_tags("aws:ec2/vpc:Vpc", {"tags": {"owner": "jdoe"}}, defaults) == []


def test_tag_keys_are_case_sensitive():
    tags = {**{k: v for k, v in FULL_TAGS.items() if k != "cost-center"}, "Cost-Center": "x"}
    assert rules.required_tags("aws:s3/bucket:Bucket", {"tags": tags}, {}) == ["missing required tags: cost-center"]


def test_resources_without_tags_are_not_judged():
    assert rules.required_tags("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {}, {}) == []
    assert rules.required_tags("aws:autoscaling/tag:Tag", {}, {}) == []


def test_provider_default_tags_arrive_json_encoded():
    props = {"defaultTags": json.dumps({"tags": {"team": "ml"}})}
    assert rules.provider_default_tags(props) == {"team": "ml"}
    assert rules.provider_default_tags({"defaultTags": {"tags": {"team": "ml"}}}) == {"team": "ml"}
    assert rules.provider_default_tags(None) == {}


def test_launch_templates_must_tag_instances_volumes_and_interfaces():
    lt = "aws:ec2/launchTemplate:LaunchTemplate"
    assert rules.launched_resource_tags(lt, {}) == [
        "no tag specification for launched instances",
        "no tag specification for launched volumes",
        "no tag specification for launched network-interfaces",
    ]
    partial = {
        "tagSpecifications": [
            {"resourceType": "instance", "tags": FULL_TAGS},
            {"resourceType": "volume", "tags": {"team": "x"}},
            {"resourceType": "network-interface", "tags": FULL_TAGS},
        ]
    }
    messages = rules.launched_resource_tags(lt, partial)
    assert len(messages) == 1 and messages[0].startswith("launched volumes miss required tags: environment")


def test_secret_inputs_must_be_marked_secret():
    version = "aws:secretsmanager/secretVersion:SecretVersion"
    assert rules.plaintext_secrets(version, {"secretString": "s3cr3t"}, set()) == [
        "secretString is not marked secret: it would be stored in plain text in the state"
    ]
    assert rules.plaintext_secrets(version, {"secretString": "s3cr3t"}, {"secretString"}) == []
    secret = "kubernetes:core/v1:Secret"
    assert rules.plaintext_secrets(secret, {"stringData": {"api-key": "v"}}, {"stringData.api-key"}) == []


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"values": {"gateway": {"apiKey": "sk-proj-abcdefghijklmnop1234"}}}, "credential-shaped value"),
        ({"values": {"env": [{"name": "X", "value": "AKIAABCDEFGHIJKLMNOP"}]}}, "credential-shaped value"),
        ({"values": {"redis": {"password": "hunter2!"}}}, "looks like a credential"),
        ({"values": json.dumps({"hf": {"token": "hf_abcdef0123"}})}, "looks like a credential"),
    ],
)
def test_credentials_given_as_plain_values_are_reported(props, expected):
    messages = rules.plaintext_secrets("kubernetes:helm.sh/v3:Release", props, None)
    assert messages and expected in messages[0]


@pytest.mark.parametrize(
    "props",
    [
        {"values": {"gateway": {"managedApiKeySecret": "gpt-oss-managed-api-key"}}},
        {"values": {"redis": {"passwordSecret": "gcs-redis-auth"}}},
        {"values": {"keyFile": "/etc/gateway/managed/api-key"}},
        {"values": {"secretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x"}},
        {"values": {"tokens": 3}},
    ],
)
def test_references_to_secrets_are_fine(props):
    assert rules.plaintext_secrets("kubernetes:helm.sh/v3:Release", props, None) == []


def bucket_stack(*, block=True, flags_ok=True, acl=None, encryption="aws:kms") -> list[rules.StackResource]:
    resources = [rules.StackResource(rules.BUCKET, "weights", {"acl": acl} if acl else {})]
    if block:
        flags = dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
        if not flags_ok:
            flags["restrictPublicBuckets"] = False
        resources.append(rules.StackResource(rules.PUBLIC_ACCESS_BLOCK, "weights", {"bucket": "b-1", **flags}))
    if encryption:
        rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": encryption}}
        resources.append(rules.StackResource(rules.ENCRYPTION, "weights", {"bucket": "b-1", "rules": [rule]}))
    return resources


def test_a_private_encrypted_bucket_passes():
    assert rules.bucket_violations(bucket_stack(), {"weights": "b-1"}) == []


@pytest.mark.parametrize(
    ("stack", "policy", "fragment"),
    [
        (bucket_stack(block=False), rules.BUCKET_PRIVATE, "public access block"),
        (bucket_stack(flags_ok=False), rules.BUCKET_PRIVATE, "public access block"),
        (bucket_stack(acl="public-read"), rules.BUCKET_PRIVATE, "public ACL"),
        (bucket_stack(encryption=None), rules.BUCKET_ENCRYPTED, "no default server-side encryption"),
    ],
)
def test_public_or_unencrypted_buckets_are_violations(stack, policy, fragment):
    violations = rules.bucket_violations(stack, {"weights": "b-1"})
    assert [(v.policy, fragment in v.message) for v in violations] == [(policy, True)]
