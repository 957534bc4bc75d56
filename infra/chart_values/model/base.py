"""The building blocks of the chart values model: the two kinds of model and the constrained
types the sections share.

- `Section`: a block of values.yaml whose keys are documented one by one (`ray:`, `ray.image:`).
- `Item`: a value documented as a whole under one `# --` line (CPU and memory, a worker group,
  an ipBlock), like helm-docs documents `resources:` once for its `cpu` and `memory`.

Every field carries the description that becomes its `# --` line in values.yaml, its row in the
chart README and its `description` in values.schema.json; the default is the chart's default.
Field names are the keys as the chart spells them (camelCase), so a key reads the same in a
template, in values.yaml and here.

The model never emits null (`exclude_none` when dumping): in Helm values a null deletes the key
from the chart's defaults (https://helm.sh/docs/chart_template_guide/values_files/#deleting-a-default-key),
so optional keys (`except` of an ipBlock) are left out instead.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A block of values whose keys are documented one by one."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, validate_default=True)


class Item(BaseModel):
    """A value documented as a whole (its fields still get descriptions in the schema)."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, validate_default=True)


# Kubernetes resource quantities as the chart writes them ("500m", "4Gi"), a subset of
# https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/.
Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")]
# A label value: at most 63 characters, alphanumerics at both ends, `-_.` inside
# (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).
LabelValue = Annotated[str, Field(max_length=63, pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
# An object name that must be a DNS label (RFC 1123): ConfigMaps, ServiceAccounts.
DnsName = Annotated[str, Field(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
Cidr = Annotated[str, Field(pattern=r"^[0-9a-fA-F.:]+/[0-9]{1,3}$")]
# An image digest; empty when the image is pulled by tag.
Digest = Annotated[str, Field(pattern=r"^(sha256:[0-9a-f]{64})?$")]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
# A Prometheus scrape interval or an alert's `for:` duration.
ScrapeInterval = Annotated[str, Field(pattern=r"^[0-9]+(s|m)$")]
Duration = Annotated[str, Field(pattern=r"^[0-9]+(s|m|h)$")]
# Ray's accelerator type names (ray.util.accelerators) of the GPUs the catalog knows or may add.
AcceleratorType = Literal["T4", "A10G", "L4", "L40S", "A100-40G", "A100-80G", "H100", "H200"]
Labels = dict[str, LabelValue]


class Resources(Item):
    """CPU and memory of a container; the chart sets requests = limits."""

    cpu: Quantity = Field(description="CPU, e.g. `500m` or `2`.")
    memory: Quantity = Field(description="Memory, e.g. `512Mi` or `4Gi`.")


class IpBlock(Item):
    """A NetworkPolicy ipBlock
    (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec)."""

    cidr: Cidr = Field(description="Addresses allowed, e.g. `10.0.0.0/8`.")
    except_: list[Cidr] | None = Field(default=None, alias="except", description="Ranges inside `cidr` that are not allowed.")


# The private (RFC 1918), carrier-grade-NAT (RFC 6598) and link-local (RFC 3927) ranges the cluster
# and its VPC live in.
NON_INTERNET_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


def internet() -> list[IpBlock]:
    """Where egress on 443 may go when a policy must reach "the internet" (S3, Hugging Face, the
    managed API): NetworkPolicy cannot name a hostname, so it is everything but NON_INTERNET_RANGES."""
    return [IpBlock.model_validate({"cidr": "0.0.0.0/0", "except": list(NON_INTERNET_RANGES)})]
