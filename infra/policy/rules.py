"""The policy rules as pure functions, shared by the CrossGuard pack and the offline plan.

Each rule returns messages (empty when the resource complies). Tags are compared by exact
key: cost allocation tags are case-sensitive.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.node_pool_shape import LAUNCHED_RESOURCE_TYPES
from infra.policy.taggable import is_taggable
from infra.tags import REQUIRED_TAG_KEYS, missing_tag_keys

MANDATORY = "mandatory"

REQUIRED_TAGS = "required-cost-tags"
LAUNCHED_TAGS = "launched-resources-tagged"
BUCKET_PRIVATE = "s3-bucket-private"
BUCKET_ENCRYPTED = "s3-bucket-encrypted"
NO_PLAINTEXT_SECRETS = "no-plaintext-secrets"

# Inputs that hold a secret and must arrive marked secret (encrypted in state, masked in output).
SECRET_INPUTS = {
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretString", "secretBinary"),
    "kubernetes:core/v1:Secret": ("stringData", "data"),
}
# Names that say "this is a credential" when they show up as plain values elsewhere.
SECRETISH_NAME = re.compile(r"(api[_-]?key|secret|password|passwd|token|credential)s?$", re.IGNORECASE)
# Shapes of real credentials: OpenAI keys, AWS access key ids, bearer tokens.
SECRETISH_VALUE = re.compile(r"(sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|Bearer\s+[A-Za-z0-9._-]{16,})")
# Keys whose value is a *reference* to a secret (a name or a path), not the secret itself.
SECRET_REFERENCE_KEY = re.compile(r"(secret(name|ref|keyref)?|existingsecret|secretname|key(ref)?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Violation:
    policy: str
    resource_type: str
    name: str
    message: str
    enforcement: str = MANDATORY

    def as_dict(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "type": self.resource_type,
            "name": self.name,
            "message": self.message,
            "enforcement": self.enforcement,
        }


def _mapping(value: Any) -> dict:
    """Provider inputs arrive JSON-encoded from the engine; resource inputs as objects."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def provider_default_tags(provider_props: Mapping[str, Any] | None) -> dict[str, str]:
    default_tags = _mapping((provider_props or {}).get("defaultTags"))
    return {k: str(v) for k, v in _mapping(default_tags.get("tags")).items()}


def effective_tags(props: Mapping[str, Any], default_tags: Mapping[str, str]) -> dict[str, str]:
    return {**default_tags, **_mapping(props.get("tags"))}


def required_tags(resource_type: str, props: Mapping[str, Any], default_tags: Mapping[str, str]) -> list[str]:
    if not is_taggable(resource_type):
        return []
    missing = missing_tag_keys(effective_tags(props, default_tags))
    return [f"missing required tags: {', '.join(missing)}"] if missing else []


def launched_resource_tags(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Launch templates must tag the instances, volumes and ENIs they launch."""
    if resource_type != "aws:ec2/launchTemplate:LaunchTemplate":
        return []
    by_type = {spec.get("resourceType"): _mapping(spec.get("tags")) for spec in props.get("tagSpecifications") or []}
    found = []
    for kind in LAUNCHED_RESOURCE_TYPES:
        if kind not in by_type:
            found.append(f"no tag specification for launched {kind}s")
        elif missing := missing_tag_keys(by_type[kind]):
            found.append(f"launched {kind}s miss required tags: {', '.join(missing)}")
    return found


def plaintext_secrets(resource_type: str, props: Mapping[str, Any], secret_paths: set[str] | None) -> list[str]:
    """A secret input that is not marked secret, or a credential-looking plain value anywhere.

    `secret_paths` (input paths marked secret) is known to the offline plan; CrossGuard hands
    policies decrypted values without that mark, so there only the value scan applies.
    """
    found = []
    if secret_paths is not None:
        for field in SECRET_INPUTS.get(resource_type, ()):
            if props.get(field) and not any(p == field or p.startswith(f"{field}.") for p in secret_paths):
                found.append(f"{field} is not marked secret: it would be stored in plain text in the state")
    allowed = set(SECRET_INPUTS.get(resource_type, ()))
    for path, value in _walk(props):
        if path.split(".")[0] in allowed or not isinstance(value, str) or not value:
            continue
        leaf = path.rsplit(".", 1)[-1].split("[")[0]
        if SECRETISH_VALUE.search(value):
            found.append(f"{path} holds a credential-shaped value in plain text")
        elif SECRETISH_NAME.search(leaf) and not SECRET_REFERENCE_KEY.search(leaf) and not _is_reference(value):
            found.append(f"{path} looks like a credential given as a plain value; mount it from a Secret")
    return found


def _is_reference(value: str) -> bool:
    """A Secret name, a file path or an ARN: where a secret lives, not the secret."""
    return value.startswith(("/", "arn:", "secret://")) or bool(re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value))


def _walk(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


@dataclass(frozen=True)
class StackResource:
    """The little the bucket rules need to know about any resource in the stack."""

    resource_type: str
    name: str
    props: Mapping[str, Any]


BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}


def bucket_violations(resources: list[StackResource], bucket_ids: Mapping[str, str]) -> list[Violation]:
    """Every bucket has a full public access block and default encryption, and no public ACL.

    `bucket_ids` maps a bucket resource's name to the id its companions refer to.
    """
    found = []
    by_type: dict[str, list[StackResource]] = {}
    for resource in resources:
        by_type.setdefault(resource.resource_type, []).append(resource)
    for bucket in by_type.get(BUCKET, []):
        bucket_id = bucket_ids.get(bucket.name, bucket.name)
        blocks = [r for r in by_type.get(PUBLIC_ACCESS_BLOCK, []) if r.props.get("bucket") == bucket_id]
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if not blocks or not all(all(block.props.get(flag) is True for flag in flags) for block in blocks):
            found.append(
                Violation(BUCKET_PRIVATE, BUCKET, bucket.name, f"needs a public access block with {', '.join(flags)} all true")
            )
        if bucket.props.get("acl") in PUBLIC_ACLS or any(
            r.props.get("bucket") == bucket_id and r.props.get("acl") in PUBLIC_ACLS for r in by_type.get(BUCKET_ACL, [])
        ):
            found.append(Violation(BUCKET_PRIVATE, BUCKET, bucket.name, "has a public ACL"))
        encryption = [r for r in by_type.get(ENCRYPTION, []) if r.props.get("bucket") == bucket_id]
        algorithms = {
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for r in encryption
            for rule in r.props.get("rules") or []
        }
        if not algorithms & {"aws:kms", "aws:kms:dsse", "AES256"}:
            found.append(Violation(BUCKET_ENCRYPTED, BUCKET, bucket.name, "has no default server-side encryption"))
    return found


__all__ = [
    "BUCKET_ENCRYPTED",
    "BUCKET_PRIVATE",
    "LAUNCHED_TAGS",
    "NO_PLAINTEXT_SECRETS",
    "REQUIRED_TAGS",
    "REQUIRED_TAG_KEYS",
    "StackResource",
    "Violation",
    "bucket_violations",
    "effective_tags",
    "launched_resource_tags",
    "plaintext_secrets",
    "provider_default_tags",
    "required_tags",
]
