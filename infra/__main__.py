"""The Pulumi program: validate the environment, compose the components, export outputs.

Configuration is validated before the first resource is registered, so a bad stack file
creates nothing. Every AWS resource goes through one provider whose default tags carry the
cost tag set; components add explicit tags where default tags do not reach.

Order of the first `pulumi up` (each step waits for what it names; docs/deploy.md):
1. network, IAM, KMS key, EKS control plane (public endpoint limited to cluster.api_access);
2. the networking add-ons, then the system node group, then CoreDNS;
3. kube-prometheus-stack (installs the ServiceMonitor/PodMonitor/PrometheusRule CRDs), then the
   KubeRay operator (RayService CRD), the device plugin, cluster-autoscaler or Karpenter;
4. GPU node pools (Karpenter pools after the Karpenter release: its CRDs);
5. the serving namespace, its Secrets (managed API key, client keys seeded with the smoke key), the weights bucket,
   the GCS Redis, the budget;
6. the serving chart, after every release that installs a CRD it uses and after its Secrets.
   Until the gateway image digest exists (it is built after the first `up` pushed nothing yet:
   infra/config/bootstrap.py), the program leaves the serving chart out, exports
   `bootstrap_pending` and exits 0; the second `up`, with the digest pinned, installs it. The
   governor's image digest likewise: without it the chart is installed without the governor.
"""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from contracts import GATEWAY_URL, NAMESPACE, RAY_WORKER_SERVICE_ACCOUNT
from infra.chart_values import StackOutputs, chart_values
from infra.components.addons import ClusterAddons, needs_karpenter
from infra.components.budget import EnvironmentBudget
from infra.components.cluster import EksCluster
from infra.components.gcs_redis import GcsRedis
from infra.components.governor_identity import GovernorIdentity, needs_governor_identity
from infra.components.image_cache import RayImageCache, cached_repository, ray_image_values
from infra.components.network import Network
from infra.components.node_pools import gpu_node_pool
from infra.components.node_pools.eks_managed import EksManagedGpuNodePool
from infra.components.oncall_access import OncallAccess
from infra.components.registry import GatewayImageRegistry
from infra.components.secrets import ClientKeys, ManagedApiKey, SmokeKey
from infra.components.serving import ServingNamespace, ServingRelease
from infra.components.spot_role import needs_spot_role, spot_service_linked_role
from infra.components.storage import WeightsBucket
from infra.config import ConfigError
from infra.config.bootstrap import (
    bootstrap_messages,
    governor_pending,
    render_pending_with_placeholders,
    serving_release_pending,
)
from infra.config.load import PREVIEW_IMAGE_DIGEST, ci_role_arn_from_pulumi, environment_from_pulumi, with_ci_admin
from infra.tags import cost_tags, k8s_labels
from infra.versions import RAY_IMAGE_REPOSITORY

try:
    env, managed_api_key = environment_from_pulumi()
    # The deploy workflow's role becomes cluster admin too (docs/deploy.md "CI role").
    env = with_ci_admin(env, ci_role_arn_from_pulumi())
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None

stack = pulumi.get_stack()
tags = cost_tags(env, stack)
# Labels of the Kubernetes objects this program creates itself (namespaces, Secrets, Karpenter
# objects). Nodes and third-party charts get the cost tags only (see ClusterAddons, node_labels).
labels = k8s_labels(env, stack, "gpt-oss-platform")
aws_provider = aws.Provider("aws", region=env.region, default_tags={"tags": tags})
on_aws = pulumi.ResourceOptions(providers=[aws_provider])

network = None
if env.cluster.mode == "create":
    network = Network(f"{env.name}-network", env.cluster.effective_network, env.cluster.name, opts=on_aws)
cluster = EksCluster(
    env.name,
    env.cluster,
    env.region,
    tags,
    karpenter_nodes=needs_karpenter(env),
    protect=env.protect_stateful,
    private_subnet_ids=network.private_subnet_ids if network else None,
    public_subnet_ids=network.public_subnet_ids if network else None,
    opts=on_aws,
)
# Spot capacity needs the account's EC2 Spot service-linked role, which Karpenter cannot create.
spot_role = spot_service_linked_role(f"{env.name}-spot-role", opts=on_aws) if needs_spot_role(env) else None
k8s_provider = k8s.Provider(
    "k8s",
    kubeconfig=cluster.kubeconfig,
    enable_server_side_apply=True,
    opts=pulumi.ResourceOptions(depends_on=[cluster]),
)
on_both = pulumi.ResourceOptions(providers=[aws_provider, k8s_provider])

addons = ClusterAddons(f"{env.name}-addons", env, cluster.handle, tags, opts=on_both)
pools = [
    gpu_node_pool(
        f"{env.name}-{pool.name}",
        pool,
        cluster.handle,
        tags,
        # In enforce mode the governor sets the serving pool's floor; the next `up` must not undo it.
        elastic_floor_by_governor=needs_governor_identity(env) and pool.name == env.serving_pool().name,
        opts=pulumi.ResourceOptions(
            providers=[aws_provider, k8s_provider],
            depends_on=[
                *([addons.karpenter] if pool.provisioner == "karpenter" and addons.karpenter else []),
                *([spot_role] if spot_role is not None and pool.capacity_type == "spot" else []),
            ],
        ),
    )
    for pool in env.node_pools
]
# The governor's AWS access, only where it moves a managed node group's floor (enforce mode).
if needs_governor_identity(env):
    serving_pool = next(p for p in pools if p.pool.name == env.serving_pool().name)
    assert isinstance(serving_pool, EksManagedGpuNodePool)  # needs_governor_identity: a managed node group
    GovernorIdentity(
        f"{env.name}-governor",
        cluster.handle,
        # The elastic group (the last: a spot pool's on-demand floor comes first), as the governor's target.
        serving_pool.node_groups[-1],
        opts=on_aws,
    )
namespace = ServingNamespace(f"{env.name}-serving", labels, opts=on_both)
if env.cluster.oncall_role_arns:
    # What the on-call roles' Kubernetes group may do (their access entries: EksCluster).
    OncallAccess(f"{env.name}-oncall", opts=pulumi.ResourceOptions(providers=[k8s_provider], depends_on=[namespace, addons]))
weights = WeightsBucket(
    f"{env.name}-weights",
    cluster.handle,
    NAMESPACE,
    RAY_WORKER_SERVICE_ACCOUNT,
    protect=env.protect_stateful,
    opts=on_aws,
)
# The first deploy's smoke test needs a client key the gateway knows: the stack seeds one.
smoke_key = SmokeKey(
    f"{env.name}-smoke-key", f"gpt-oss-platform/{env.name}/smoke-key-", protect=env.protect_stateful, opts=on_aws
)
secrets: list[pulumi.Resource] = [
    ClientKeys(
        f"{env.name}-client-keys", namespace.name, labels, smoke_key.sha256, opts=pulumi.ResourceOptions(providers=[k8s_provider])
    ).secret
]
managed_key_secret_name = None
if managed_api_key is not None and env.fallback.allowed:
    managed = ManagedApiKey(
        f"{env.name}-managed-api-key",
        managed_api_key,
        f"gpt-oss-platform/{env.name}/managed-api-key-",
        namespace.name,
        labels,
        protect=env.protect_stateful,
        opts=on_both,
    )
    secrets.append(managed.kubernetes_secret)
    managed_key_secret_name = managed.secret_name
EnvironmentBudget(f"{env.name}-budget", env.name, env.budget, opts=on_aws)
# The gateway image's ECR repository, one per account (docs/operating.md "Release pipeline").
registry = GatewayImageRegistry(f"{env.name}-gateway-images", env.registry, opts=on_aws) if env.registry.create else None
# The governor image's repository beside it, with the same rules (the image workflow pushes both).
governor_registry = (
    GatewayImageRegistry(
        f"{env.name}-governor-images",
        env.registry.model_copy(update={"repository": env.registry.governor_repository}),
        opts=on_aws,
    )
    if env.registry.create
    else None
)
gcs_redis_address = None
if env.serving.gcs_fault_tolerance.managed:
    gcs_redis_address = GcsRedis(
        f"{env.name}-gcs",
        env.serving.gcs_fault_tolerance,
        cluster.handle,
        protect=env.protect_stateful,
        opts=on_aws,
    ).address

# The gateway image: the configured repository, or this account's ECR repository of that name,
# at the digest the release pins record (required; the config boundary refuses a missing one).
account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=aws_provider)).account_id
repository = (
    pulumi.Output.from_input(env.gateway.image.repository)
    if env.gateway.image.repository
    else account.apply(lambda account_id: f"{account_id}.dkr.ecr.{env.region}.amazonaws.com/{env.registry.repository}")
)
gateway_image = repository.apply(lambda repo: f"{repo}@{env.gateway.image.digest or PREVIEW_IMAGE_DIGEST}")
# The governor image likewise, from its own repository. Without a digest `up` leaves the governor
# out of the serving release (bootstrap_pending says so); the offline plan renders the placeholder.
governor_repository = (
    pulumi.Output.from_input(env.governor.image.repository)
    if env.governor.image.repository
    else account.apply(lambda account_id: f"{account_id}.dkr.ecr.{env.region}.amazonaws.com/{env.registry.governor_repository}")
)
governor_left_out = governor_pending(env) and not render_pending_with_placeholders()
governor_image: pulumi.Output[str | None] = (
    pulumi.Output.from_input(None)
    if governor_left_out or env.governor.mode == "off"
    else governor_repository.apply(lambda repo: f"{repo}@{env.governor.image.digest or PREVIEW_IMAGE_DIGEST}")
)

# The Ray image through the account's ECR pull-through cache of Docker Hub (account.image_cache).
ray_repository: pulumi.Output[str | None] = pulumi.Output.from_input(None)
if env.account.image_cache != "off":
    node_roles = [
        cluster.handle.node_role_arn,
        *([cluster.handle.karpenter_node_role_arn] if cluster.handle.karpenter_node_role_arn else []),
    ]
    RayImageCache(f"{env.name}-ray-image-cache", env, account, node_roles, opts=on_aws)
    ray_repository = account.apply(lambda account_id: cached_repository(account_id, env.region, RAY_IMAGE_REPOSITORY))

# The serving chart creates a RayService (KubeRay's CRD) and ServiceMonitor, PodMonitor and
# PrometheusRule objects (kube-prometheus-stack's CRDs), and mounts the Secrets above. Left out
# while an input only a later step produces is missing (bootstrap); the offline plan renders it
# with placeholders so that its checks still run.
pending = bootstrap_messages(env)
crd_installers = [addons.kuberay, *([addons.prometheus_stack] if addons.prometheus_stack else [])]
if not serving_release_pending(env) or render_pending_with_placeholders():
    ServingRelease(
        f"{env.name}-serving",
        namespace.name,
        pulumi.Output.all(
            gateway_image, cluster.handle.service_cidr, weights.name, gcs_redis_address, ray_repository, governor_image
        ).apply(
            lambda args: ray_image_values(
                chart_values(
                    env,
                    stack,
                    StackOutputs(
                        gateway_image=args[0],
                        service_cidr=args[1],
                        weights_bucket=args[2],
                        gcs_redis_address=args[3],
                        governor_image=args[5],
                    ),
                ),
                args[4],
                env.account.ray_image_digest,
            )
        ),
        opts=pulumi.ResourceOptions(providers=[k8s_provider], depends_on=[*crd_installers, *secrets]),
        # GitOps-only environments: Argo CD / Flux installs the release from `gpt-oss-platform values`.
        install=env.serving.release_managed_by == "pulumi",
    )

pulumi.export("cluster_name", cluster.handle.name)
pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig))
pulumi.export("weights_bucket", weights.name)
pulumi.export("gcs_redis_address", gcs_redis_address)
pulumi.export("service_cidr", cluster.handle.service_cidr)
pulumi.export("gateway_image", gateway_image if not serving_release_pending(env) else None)
pulumi.export("governor_image", governor_image if not governor_pending(env) else None)
# What the next step is, until the serving release is deployed (docs/deploy.md "Fresh account").
pulumi.export("bootstrap_pending", pending or None)
pulumi.export("managed_api_key_secret", managed_key_secret_name)
# Where the deploy workflow reads the smoke test's client key (docs/deploy.md "Smoke key").
pulumi.export("smoke_key_secret", smoke_key.secret_name)
pulumi.export("serving_namespace", NAMESPACE)
pulumi.export("gateway_url", GATEWAY_URL)
pulumi.export("gateway_image_repository", registry.url if registry else None)
pulumi.export("governor_image_repository", governor_registry.url if governor_registry else None)
pulumi.export(
    "node_pools", [{"name": p.pool.name, "instance_type": p.pool.instance_type, "provisioner": p.pool.provisioner} for p in pools]
)
