"""The CrossGuard policy pack, built from the pure rules in `infra.policy.rules`.

Run with a real preview: `pulumi preview --stack dev --policy-pack infra/policy`.
The offline plan and the tests call the same rules directly.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy import rules


# pulumi_policy types ReportViolation as Callable[[str, Optional[str]], None], so each call passes
# the urn: None, the default of the function it hands us (an optional urn of the resource to tie
# the violation to; ignored when validating a resource).
def _required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    provider_props = args.provider.props if args.provider is not None else None
    for message in rules.required_tags(args.resource_type, args.props, rules.provider_default_tags(provider_props)):
        report(message, None)


def _launched_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for message in rules.launched_resource_tags(args.resource_type, args.props):
        report(message, None)


def _plaintext_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for message in rules.plaintext_secrets(args.resource_type, args.props, None):
        report(message, None)


def _buckets(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = [rules.StackResource(r.resource_type, r.name, r.props) for r in args.resources]
    bucket_ids = {
        r.name: r.props.get("bucket") or r.props.get("id") or r.name for r in args.resources if r.resource_type == rules.BUCKET
    }
    for violation in rules.bucket_violations(resources, bucket_ids):
        report(f"{violation.name}: {violation.message}", None)


def build_pack() -> list:
    mandatory = EnforcementLevel.MANDATORY
    return [
        ResourceValidationPolicy(
            name=rules.REQUIRED_TAGS,
            description="Every taggable AWS resource carries the cost tags (provider default tags count).",
            validate=_required_tags,
            enforcement_level=mandatory,
        ),
        ResourceValidationPolicy(
            name=rules.LAUNCHED_TAGS,
            description="Launch templates tag the instances, volumes and network interfaces they launch.",
            validate=_launched_tags,
            enforcement_level=mandatory,
        ),
        ResourceValidationPolicy(
            name=rules.NO_PLAINTEXT_SECRETS,
            description="No credential given as a plain value in resource inputs or Helm values.",
            validate=_plaintext_secrets,
            enforcement_level=mandatory,
        ),
        StackValidationPolicy(
            name="s3-buckets-private-and-encrypted",
            description="Every bucket blocks public access, has no public ACL and is encrypted by default.",
            validate=_buckets,
            enforcement_level=mandatory,
        ),
    ]


def main() -> None:
    PolicyPack(name="gpt-oss-platform", enforcement_level=EnforcementLevel.MANDATORY, policies=build_pack())
