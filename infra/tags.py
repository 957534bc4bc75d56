"""The cost-allocation tag set, and the matching Kubernetes labels.

One function decides the keys and values; AWS resources get them as tags (through the
provider's default tags, and explicitly where default tags do not reach), Kubernetes objects
get the same key/value pairs as labels so OpenCost/Kubecost allocate by the same dimensions.
Keys are lower-case with hyphens, in exactly one spelling: cost allocation tags are
case-sensitive, and `CostCenter` next to `cost-center` splits a bill in two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts import APPLICATION, MANAGED_BY, REQUIRED_TAG_KEYS

if TYPE_CHECKING:
    from infra.config.models import EnvironmentConfig


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
    # The count is checked at the config boundary (TagsConfig), before any resource exists.
    return dict(sorted({**extra, **tags}.items()))


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
