"""Images the first nodes and pods need, resolvable in this account and region.

- The gateway image at the pinned digest in ECR (ecr:DescribeImages). Before the first image
  build there is no digest: that is the bootstrap (infra/config/bootstrap.py), not a failure.
- Every GPU node image as the SSM parameter EKS or Karpenter resolves (ssm:GetParameter). The
  names are Karpenter's (pkg/providers/amifamily: al2023.go, bottlerocket.go) and the EKS user
  guide's ("Retrieve recommended Amazon Linux AMI IDs", "Retrieve recommended Bottlerocket AMI IDs").
"""

from __future__ import annotations

from infra.config.models import EnvironmentConfig, NodePoolConfig
from infra.preflight import Context, Result, aws_error_code
from infra.versions import KARPENTER_AMI_ALIAS_VERSIONS

GATEWAY_DESCRIPTION = (
    "the gateway image at gateway.image.digest exists in the ECR repository (skipped, with the next step, "
    "before the first image build)"
)
AMI_DESCRIPTION = "every GPU pool's node image resolves as the SSM parameter EKS/Karpenter reads (pinned release or recommended)"


def ami_parameter(pool: NodePoolConfig, kubernetes: str) -> str:
    """The SSM parameter holding the AMI id the pool's nodes boot."""
    release = pool.ami_release
    if pool.provisioner == "karpenter":
        release = release or KARPENTER_AMI_ALIAS_VERSIONS[pool.ami_family]
    if pool.ami_family == "al2023":
        base = f"/aws/service/eks/optimized-ami/{kubernetes}/amazon-linux-2023/x86_64/nvidia"
        if release is None:
            return f"{base}/recommended/image_id"
        # A managed node group's release version `1.33.5-20251112` is the AMI release v20251112.
        version = release if release.startswith("v") else "v" + release.rsplit("-", 1)[-1]
        return f"{base}/amazon-eks-node-al2023-x86_64-nvidia-{kubernetes}-{version}/image_id"
    base = f"/aws/service/bottlerocket/aws-k8s-{kubernetes}-nvidia/x86_64"
    if release is None:
        return f"{base}/latest/image_id"
    return f"{base}/{release.removeprefix('v').split('-')[0]}/image_id"


def ami_parameters(context: Context) -> list[Result]:
    ssm = context.client("ssm")
    results = []
    kubernetes = context.env.cluster.kubernetes_version
    for pool in context.env.node_pools:
        name = ami_parameter(pool, kubernetes)
        try:
            ami = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except Exception as error:
            code = aws_error_code(error) or type(error).__name__
            fix = (
                f"pin a release that exists for Kubernetes {kubernetes} in {context.env.region} "
                f"(node_pools[].ami_release or infra/versions.py; list them: aws ssm get-parameters-by-path "
                f"--path {name.rsplit('/', 2)[0]} --region {context.env.region})"
            )
            results.append(Result("ami-parameters", "fail", f"pool {pool.name}: {name}: {code}", fix))
            continue
        results.append(Result("ami-parameters", "pass", f"pool {pool.name}: {name} -> {ami}"))
    return results


def gateway_repository(env: EnvironmentConfig) -> str | None:
    """The ECR repository name of the gateway image; None when it lives outside this account's ECR."""
    if env.gateway.image.repository is None:
        return env.registry.repository
    host, _, path = env.gateway.image.repository.partition("/")
    return path if ".dkr.ecr." in host else None


def gateway_image(context: Context) -> list[Result]:
    env = context.env
    digest = env.gateway.image.digest
    if digest is None:
        return [
            Result(
                "gateway-image",
                "skip",
                "gateway.image.digest is not set: the first `pulumi up` deploys everything but the serving release "
                "(bootstrap); then run the gateway-image workflow, merge its pins PR and `pulumi up` again",
            )
        ]
    repository = gateway_repository(env)
    if repository is None:
        return [Result("gateway-image", "skip", f"{env.gateway.image.repository} is not an ECR repository: not checked")]
    try:
        context.client("ecr").describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    except Exception as error:
        code = aws_error_code(error) or type(error).__name__
        if code == "RepositoryNotFoundException":
            fix = (
                f"the repository {repository} is created by this stack's first `pulumi up` (registry.create) or by the "
                "stack that owns it (registry.create: false elsewhere); run that first"
            )
        else:
            fix = (
                "run the gateway-image workflow for this commit, or set gateway.image.digest to a digest it pushed "
                f"(aws ecr describe-images --repository-name {repository} --region {env.region})"
            )
        return [Result("gateway-image", "fail", f"{repository}@{digest}: {code}", fix)]
    return [Result("gateway-image", "pass", f"{repository}@{digest} is in ECR")]
