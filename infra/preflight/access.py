"""Who can reach and administer the cluster on day one.

- The caller's egress address inside `cluster.api_access.public_cidrs`: with a public endpoint
  limited to those CIDRs (EKS `publicAccessCidrs`), `pulumi up` from elsewhere times out on the
  Kubernetes provider. GitHub-hosted runners have no small stable egress range: use self-hosted
  runners in the VPC, or list the runners' egress (docs/deploy.md).
- The CI role in `cluster.admin_role_arns` (or given to the stack as `ciRoleArn`): only the identity
  that created the cluster is admin otherwise, and the deploy workflow gets Unauthorized.
"""

from __future__ import annotations

import ipaddress

from infra.preflight import Context, Result, aws_error_code

EGRESS_DESCRIPTION = (
    "the caller's egress IP (--egress-ip, else looked up at checkip.amazonaws.com) lies inside "
    "cluster.api_access.public_cidrs when the API endpoint is public"
)
CI_ROLE_DESCRIPTION = (
    "the CI role (--ci-role-arn or GPT_OSS_CI_ROLE_ARN) exists and is cluster admin: listed in cluster.admin_role_arns "
    "or passed to the stack as `pulumi config set ciRoleArn`"
)


def egress(context: Context) -> list[Result]:
    access = context.env.cluster.api_access
    if access.mode != "public":
        return [Result("api-egress", "skip", f"api_access.mode is {access.mode}: reach the endpoint from inside the VPC")]
    if not context.egress_ip:
        return [Result("api-egress", "fail", "no egress IP (lookup failed)", "pass --egress-ip <your public address>")]
    try:
        address = ipaddress.ip_address(context.egress_ip)
    except ValueError:
        return [
            Result(
                "api-egress", "fail", f"--egress-ip {context.egress_ip!r} is not an IP address", "pass an IPv4 or IPv6 address"
            )
        ]
    cidrs = access.public_cidrs
    inside = [c for c in cidrs if address in ipaddress.ip_network(c, strict=False)]
    if inside:
        return [Result("api-egress", "pass", f"{address} is inside {inside[0]}")]
    wanted = f"{address}/32" if address.version == 4 else f"{address}/128"
    return [
        Result(
            "api-egress",
            "fail",
            f"{address} is outside cluster.api_access.public_cidrs ({', '.join(cidrs)}): the Kubernetes API will not answer",
            f"add {wanted} (or your VPN/runner range) to cluster.api_access.public_cidrs in environments/"
            f"{context.env.name}.yaml, then `gpt-oss-platform envs render`",
        )
    ]


def ci_role(context: Context) -> list[Result]:
    arn = context.ci_role_arn
    if not arn:
        return [
            Result(
                "ci-role-admin",
                "fail",
                "no CI role given: the deploy workflow's role must be cluster admin",
                "pass --ci-role-arn arn:aws:iam::<account>:role/<deploy role> (or set GPT_OSS_CI_ROLE_ARN)",
            )
        ]
    name = arn.rsplit("/", 1)[-1]
    try:
        context.client("iam").get_role(RoleName=name)
    except Exception as error:
        code = aws_error_code(error) or type(error).__name__
        return [
            Result(
                "ci-role-admin",
                "fail",
                f"{arn}: {code}",
                "create the deploy role with the GitHub OIDC trust policy (docs/deploy.md, 'CI role')",
            )
        ]
    if arn in context.env.cluster.admin_role_arns:
        return [Result("ci-role-admin", "pass", f"{arn} is in cluster.admin_role_arns")]
    return [
        Result(
            "ci-role-admin",
            "fail",
            f"{arn} is not in cluster.admin_role_arns: unless the deploy workflow passes it as ciRoleArn, CI gets Unauthorized",
            f"add it to cluster.admin_role_arns in environments/{context.env.name}.yaml (then `envs render`), or have the "
            f"deploy workflow run `pulumi config set ciRoleArn {arn}` before `pulumi up`",
        )
    ]
