"""Names, paths, ports and secrets shared by the Pulumi program, the serving chart and the gateway.

The one place such a name is defined. `infra/` (the program and the chart values it computes),
`serving/` (the gateway) and the CLI import it; it imports nothing of theirs, so the rooms
depend on it and never on each other. Every constant carries a `#:` comment: docs/contracts.md
is generated from them (`gpt-oss-platform reference --write`), and a test fails when it is stale.
"""

from __future__ import annotations

# -- Kubernetes: where the serving stack lives --------------------------------------------------

#: Namespace of the RayService, the gateway and their Secrets.
NAMESPACE = "gpt-oss"
#: Helm release name of charts/gpt-oss-serving; the chart's objects are named after it.
RELEASE = "gpt-oss"
#: The serving chart, relative to the repository root (its version is in its Chart.yaml).
CHART_PATH = "charts/gpt-oss-serving"
#: Name of the Serve application inside the RayService.
SERVE_APPLICATION = "gpt-oss"
#: Port of the Serve HTTP proxy (KubeRay's `<rayservice>-serve-svc`).
SERVE_PORT = 8000
#: The self-hosted model's OpenAI-compatible base URL, as the gateway reaches it in-cluster.
PRIMARY_BASE_URL = f"http://{RELEASE}-serve-svc.{NAMESPACE}.svc.cluster.local:{SERVE_PORT}/v1"
#: Port of the gateway container and of its ClusterIP Service `<release>-gateway`.
GATEWAY_PORT = 8080
#: Port of the gateway's /metrics listener: for Prometheus only (the chart's NetworkPolicy), never
#: on the client port, since the series name keys, teams and spend.
GATEWAY_METRICS_PORT = 9090
#: The endpoint clients inside the cluster use.
GATEWAY_URL = f"http://{RELEASE}-gateway.{NAMESPACE}.svc.cluster.local:{GATEWAY_PORT}/v1"
#: Service account of Ray worker pods; EKS Pod Identity lets it (only it) read the weights bucket.
RAY_WORKER_SERVICE_ACCOUNT = "gpt-oss-ray"
#: Service account of the Ray head pod (no AWS access).
RAY_HEAD_SERVICE_ACCOUNT = "gpt-oss-ray-head"

# -- Secrets: created by the stack, mounted into the gateway as files ---------------------------

#: Secret holding the client keys (SHA-256 hashes and per-key policy); the stack creates it empty.
CLIENT_KEYS_SECRET = "gpt-oss-gateway-clients"
#: Key of CLIENT_KEYS_SECRET that holds the JSON document.
CLIENT_KEYS_FIELD = "clients.json"
#: Secret holding the managed API key, created by the stack from the Pulumi secret `managedApiKey`.
MANAGED_API_KEY_SECRET = "gpt-oss-managed-api-key"
#: Key of MANAGED_API_KEY_SECRET that holds the key.
MANAGED_API_KEY_FIELD = "api-key"

# -- The gateway container's file layout ---------------------------------------------------------

#: Directory where the gateway's settings ConfigMap is mounted.
GATEWAY_CONFIG_DIR = "/etc/gateway/config"
#: The settings file (ConfigMap key) the gateway loads at start-up.
GATEWAY_CONFIG_FILE = f"{GATEWAY_CONFIG_DIR}/gateway.json"
#: Directory where CLIENT_KEYS_SECRET is mounted.
GATEWAY_CLIENTS_DIR = "/etc/gateway/clients"
#: The client keys file the gateway re-reads on rotation.
GATEWAY_CLIENTS_FILE = f"{GATEWAY_CLIENTS_DIR}/{CLIENT_KEYS_FIELD}"
#: Directory where MANAGED_API_KEY_SECRET is mounted.
GATEWAY_MANAGED_DIR = "/etc/gateway/managed"
#: The managed API key file the gateway re-reads on rotation.
GATEWAY_MANAGED_API_KEY_FILE = f"{GATEWAY_MANAGED_DIR}/{MANAGED_API_KEY_FIELD}"
#: Name of the gateway image repository (the stack's ECR repository unless gateway.image.repository says otherwise).
GATEWAY_IMAGE_NAME = "gpt-oss-gateway"
#: Name of the cost governor image repository (the stack's ECR repository unless governor.image.repository says otherwise).
GOVERNOR_IMAGE_NAME = "gpt-oss-governor"
#: Non-root user and group the gateway image runs as (numeric, so runAsNonRoot can verify it).
GATEWAY_UID = 10001

# -- Upstream names: metric labels, `x-gateway-served-by` values, settings keys -----------------

#: The self-hosted model (RayService).
UPSTREAM_SELF_HOSTED = "self-hosted"
#: The managed API behind it.
UPSTREAM_MANAGED = "managed"

# -- HTTP headers of the gateway's API ------------------------------------------------------------

#: Response header: which upstream answered (UPSTREAM_SELF_HOSTED or UPSTREAM_MANAGED).
HEADER_SERVED_BY = "x-gateway-served-by"
#: Response header: why the request did not go to (or stay on) the primary.
HEADER_FALLBACK_REASON = "x-gateway-fallback-reason"
#: Response header: the request id, also in the access log.
HEADER_REQUEST_ID = "x-gateway-request-id"
#: Response header: the upstream model that answered.
HEADER_MODEL = "x-gateway-model"
#: Response header: this request's cost in USD.
HEADER_COST = "x-gateway-cost-usd"
#: Request header: `true` keeps this request on self-hosted upstreams (a key's policy can only be tightened).
HEADER_SOVEREIGN = "x-gateway-sovereign"

# -- Cost allocation: the tag keys on every AWS resource, also labels on every Kubernetes object --

#: The keys every taggable resource and every object carries, lower-case with hyphens in exactly
#: one spelling (cost allocation tags are case-sensitive: `CostCenter` next to `cost-center`
#: splits a bill in two).
REQUIRED_TAG_KEYS = ("environment", "cost-center", "team", "owner", "application", "model", "managed-by", "stack")
#: Most user tags a resource may carry: AWS allows 50, and leaves room for those its services add
#: (eks:, karpenter.sh/, k8s.io/...).
MAX_USER_TAGS = 40
#: Value of the `application` tag.
APPLICATION = "gpt-oss-platform"
#: Value of the `managed-by` tag.
MANAGED_BY = "pulumi"

# -- Nodes: labels and taints the node pools carry and the chart's pods select ----------------

#: Node label naming the pool a node belongs to (`system` for CPU nodes). Not in the kubelet's
#: restricted `kubernetes.io`/`k8s.io` domains, so the kubelet accepts it as a node label.
NODE_POOL_LABEL = "gpt-oss.platform/node-pool"
#: Node label with the GPU model (L4, H100, ...).
NODE_GPU_LABEL = "gpt-oss.platform/gpu"
#: Node label with the capacity type (`on-demand` or `spot`).
NODE_CAPACITY_LABEL = "gpt-oss.platform/capacity"
#: NODE_POOL_LABEL value of the CPU system nodes (Ray head, gateway, operators).
SYSTEM_POOL = "system"
#: Taint key every GPU node carries; only pods that tolerate it land there (EKS user guide, GPU workloads).
GPU_TAINT_KEY = "nvidia.com/gpu"
#: Taint value of GPU_TAINT_KEY.
GPU_TAINT_VALUE = "true"
#: Taint effect of GPU_TAINT_KEY.
GPU_TAINT_EFFECT = "NoSchedule"
#: Extended resource a GPU pod requests (advertised by the NVIDIA device plugin).
GPU_RESOURCE = "nvidia.com/gpu"

# -- Drain switch: the route override on-call sets without `pulumi up` or a pod restart --------

#: ConfigMap in NAMESPACE holding the route override; absent means automatic routing. Written by
#: `gpt-oss-platform drain`, watched by every gateway pod (a Role limits it to this one name).
ROUTE_OVERRIDE_CONFIGMAP = "gpt-oss-route-override"
#: Key of ROUTE_OVERRIDE_CONFIGMAP with the route: ROUTE_AUTO, UPSTREAM_MANAGED or UPSTREAM_SELF_HOSTED.
ROUTE_OVERRIDE_ROUTE_KEY = "route"
#: Key of ROUTE_OVERRIDE_CONFIGMAP with who set it (the Kubernetes user, or --who).
ROUTE_OVERRIDE_SET_BY_KEY = "set-by"
#: Key of ROUTE_OVERRIDE_CONFIGMAP with why it was set (free text from --reason).
ROUTE_OVERRIDE_REASON_KEY = "reason"
#: Key of ROUTE_OVERRIDE_CONFIGMAP with when it was set (UTC, ISO 8601).
ROUTE_OVERRIDE_SET_AT_KEY = "set-at"
#: Route value: the gateway's own routing (self-hosted first, managed as the fallback).
ROUTE_AUTO = "auto"
#: Service account of the gateway pods (the only identity that may read ROUTE_OVERRIDE_CONFIGMAP).
GATEWAY_SERVICE_ACCOUNT = "gpt-oss-gateway"
