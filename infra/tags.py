"""The cost-allocation tag set, and the matching Kubernetes labels.

One function decides the keys and values; AWS resources get them as tags (through the
provider's default tags, and explicitly where default tags do not reach), Kubernetes objects
get the same key/value pairs as labels so OpenCost/Kubecost allocate by the same dimensions.
Keys are lower-case with hyphens, in exactly one spelling: cost allocation tags are
case-sensitive, and `CostCenter` next to `cost-center` splits a bill in two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.config import EnvironmentConfig

APPLICATION = "gpt-oss-platform"
MANAGED_BY = "pulumi"
REQUIRED_TAG_KEYS = (
    "environment",
    "cost-center",
    "team",
    "owner",
    "application",
    "model",
    "managed-by",
    "stack",
)
# AWS allows 50 user tags per resource; the required set plus extras must stay below that with
# room for the tags AWS services add themselves (eks:, karpenter.sh/, k8s.io/...).
MAX_USER_TAGS = 40


def cost_tags(env: EnvironmentConfig, stack: str) -> dict[str, str]:
    """The tags every taggable AWS resource of this environment carries, sorted by key."""
    tags = {
        "environment": env.name,
        "cost-center": env.tags.cost_center,
        "team": env.tags.team,
        "owner": env.tags.owner,
        "application": APPLICATION,
        "model": env.model.name,
        "managed-by": MANAGED_BY,
        "stack": stack,
    }
    # Extras never override the required set: the required keys are what finance filters on.
    extra = {k: v for k, v in env.tags.extra.items() if k not in tags}
    merged = {**extra, **tags}
    if len(merged) > MAX_USER_TAGS:
        raise ValueError(f"tags.extra: {len(merged)} tags exceed the limit of {MAX_USER_TAGS} per resource")
    return dict(sorted(merged.items()))


def k8s_labels(env: EnvironmentConfig, stack: str, component: str, *, instance: str | None = None) -> dict[str, str]:
    """Cost labels plus the recommended app.kubernetes.io/* labels for one component."""
    labels = cost_tags(env, stack)
    labels.update(
        {
            "app.kubernetes.io/name": component,
            "app.kubernetes.io/instance": instance or f"{APPLICATION}-{env.name}",
            "app.kubernetes.io/part-of": APPLICATION,
            "app.kubernetes.io/managed-by": MANAGED_BY,
        }
    )
    return dict(sorted(labels.items()))


def missing_tag_keys(tags: dict[str, str] | None) -> list[str]:
    """Required keys absent (or empty) in `tags`, in the canonical order."""
    tags = tags or {}
    return [key for key in REQUIRED_TAG_KEYS if not tags.get(key)]
