"""The Kubernetes and AWS side of the governor, with the official clients.

- Leader election through a coordination.k8s.io/v1 Lease: the holder renews it every step; another
  pod takes it over only after `leaseDurationSeconds` without a renewal, so at most one governor
  acts (kubernetes.io, "Leases", "Leader election"). Updates carry the Lease's resourceVersion:
  two pods racing for an expired Lease get one 409 Conflict, one winner.
- The RayService (ray.io/v1): `min_replicas` lives in `spec.serveConfigV2` (a YAML string), in
  every LLM config of the Serve application. A change there is applied to the running cluster by
  KubeRay without a new RayCluster: in KubeRay v1.7.0, ray-operator/controllers/ray/
  rayservice_controller.go `checkIfNeedSubmitServeApplications` compares the cached serve config
  with the spec and `updateServeDeployment` submits the new one to the cluster's dashboard; only a
  change of `rayClusterConfig` (its hash, `shouldPrepareNewCluster`) starts a new cluster. The
  patch is a JSON merge patch carrying the resourceVersion read, so a concurrent change (a Helm
  upgrade) makes it fail with 409 rather than be overwritten.
  An upgrade is in progress while the `UpgradeInProgress` condition is True or a pending cluster
  is named (rayservice_types.go v1.7.0); a promotion (a new spec) while `metadata.generation`
  differs from `status.observedGeneration`.
- The drain switch's ConfigMap: its `route` (absent object: `auto`).
- The governor's memory (last change, changes of the last 24 hours, floor): an annotation on the
  same Lease (infra/operate/governor/memory.py), written by the holder with the resourceVersion it
  read before it acts, read by a pod when it becomes the holder.
- Events on the RayService: every decision, so `kubectl describe rayservice` shows them.
- The GPU pool's floor: an EKS managed node group's `minSize` through `eks.update_nodegroup_config`
  (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupConfig.html), keeping
  `desiredSize` within the new bounds. A Karpenter NodePool has no node minimum (spec.limits caps it
  from above; Karpenter provisions for pending pods), so there the RayService's `min_replicas` is the
  floor: the worker pods it keeps are what hold the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from contracts import ROUTE_AUTO, ROUTE_OVERRIDE_ROUTE_KEY
from infra.cost.governor.policy import Decision, Memory
from infra.operate.governor import memory as memory_record
from infra.operate.governor.settings import Target

LEASE_DURATION_S = 60


def _micro(moment: datetime) -> datetime:
    """A MicroTime in UTC (the client serialises it as RFC 3339 with microseconds)."""
    return moment.astimezone(UTC)


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class NotLeader(RuntimeError):
    """This pod does not hold the Lease (any more): it must not act."""


@dataclass(frozen=True)
class RayServiceState:
    floor: int
    upgrade_in_progress: bool
    promotion_in_progress: bool
    resource_version: str
    serve_config: dict[str, Any]


def llm_configs(serve_config: dict[str, Any], application: str) -> list[dict[str, Any]]:
    for app in serve_config.get("applications", []):
        if app.get("name") == application:
            return app.get("args", {}).get("llm_configs", [])
    return []


def read_floor(serve_config: dict[str, Any], application: str) -> int:
    configs = llm_configs(serve_config, application)
    if not configs:
        raise ValueError(f"serveConfigV2 has no application {application!r} with llm_configs")
    return int(configs[0]["deployment_config"]["autoscaling_config"]["min_replicas"])


def with_floor(serve_config: dict[str, Any], application: str, floor: int) -> dict[str, Any]:
    """The serve config with `min_replicas` = `floor` in every LLM config of the application."""
    import copy

    out = copy.deepcopy(serve_config)
    for config in llm_configs(out, application):
        config["deployment_config"]["autoscaling_config"]["min_replicas"] = floor
    return out


class Cluster:
    def __init__(self, api: client.ApiClient, target: Target) -> None:
        self.target = target
        self.coordination = client.CoordinationV1Api(api)
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    # -- leader election --------------------------------------------------------------------------

    def try_lead(self, identity: str, now: datetime) -> bool:
        """Take or renew the Lease; True when this pod holds it."""
        ns, name = self.target.namespace, self.target.lease
        try:
            lease = self.coordination.read_namespaced_lease(name, ns)
        except ApiException as error:
            if error.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=name, namespace=ns),
                spec=client.V1LeaseSpec(
                    holder_identity=identity,
                    lease_duration_seconds=LEASE_DURATION_S,
                    acquire_time=_micro(now),
                    renew_time=_micro(now),
                    lease_transitions=0,
                ),
            )
            try:
                self.coordination.create_namespaced_lease(ns, body)
            except ApiException as race:
                if race.status == 409:
                    return False
                raise
            return True
        spec = lease.spec
        if spec is None:  # a Lease without spec: claim it like a new one
            spec = lease.spec = client.V1LeaseSpec()
        holder = spec.holder_identity
        renewed = _parse_time(spec.renew_time)
        duration = spec.lease_duration_seconds or LEASE_DURATION_S
        expired = renewed is None or now - renewed > timedelta(seconds=duration)
        if holder != identity and not expired:
            return False
        if holder != identity:
            spec.holder_identity = identity
            spec.acquire_time = _micro(now)
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        else:
            spec.acquire_time = _micro(_parse_time(spec.acquire_time) or now)
        spec.renew_time = _micro(now)
        spec.lease_duration_seconds = duration
        try:
            self.coordination.replace_namespaced_lease(name, ns, lease)
        except ApiException as error:
            if error.status == 409:  # another pod renewed or took it first
                return False
            raise
        return True

    # -- the memory on the Lease ------------------------------------------------------------------

    def read_memory(self) -> Memory | None:
        """The memory the last holder recorded on the Lease; None when none was recorded. A record
        that cannot be read raises memory.MemoryRecordError (the caller decides what to assume)."""
        lease = self.coordination.read_namespaced_lease(self.target.lease, self.target.namespace)
        text = ((lease.metadata and lease.metadata.annotations) or {}).get(memory_record.MEMORY_ANNOTATION)
        return None if text is None else memory_record.loads(text)

    def write_memory(self, identity: str, memory: Memory) -> None:
        """Record `memory` on the Lease, only while `identity` holds it: a pod that lost the Lease
        gets NotLeader, and a write racing a takeover gets the API's 409 (resourceVersion)."""
        ns, name = self.target.namespace, self.target.lease
        lease = self.coordination.read_namespaced_lease(name, ns)
        holder = lease.spec.holder_identity if lease.spec else None
        if holder != identity:
            raise NotLeader(f"Lease {ns}/{name} is held by {holder!r}, not {identity!r}: nothing recorded")
        metadata = lease.metadata = lease.metadata or client.V1ObjectMeta(name=name, namespace=ns)
        metadata.annotations = {**(metadata.annotations or {}), memory_record.MEMORY_ANNOTATION: memory_record.dumps(memory)}
        self.coordination.replace_namespaced_lease(name, ns, lease)

    # -- the RayService ----------------------------------------------------------------------------

    def _rayservice(self) -> dict[str, Any]:
        t = self.target
        found = self.custom.get_namespaced_custom_object("ray.io", "v1", t.namespace, "rayservices", t.rayservice)
        if not isinstance(found, dict):
            raise TypeError(f"RayService {t.namespace}/{t.rayservice}: the API answered {type(found).__name__}, not an object")
        return found

    def rayservice(self) -> RayServiceState:
        obj = self._rayservice()
        serve_config = yaml.safe_load(obj["spec"]["serveConfigV2"])
        status = obj.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        pending = (status.get("pendingServiceStatus") or {}).get("rayClusterName")
        generation = obj["metadata"].get("generation")
        observed = status.get("observedGeneration")
        return RayServiceState(
            floor=read_floor(serve_config, self.target.application),
            upgrade_in_progress=conditions.get("UpgradeInProgress") == "True" or bool(pending),
            promotion_in_progress=generation is not None and observed is not None and generation != observed,
            resource_version=obj["metadata"]["resourceVersion"],
            serve_config=serve_config,
        )

    def set_floor(self, state: RayServiceState, floor: int) -> None:
        t = self.target
        serve = yaml.safe_dump(with_floor(state.serve_config, t.application, floor), sort_keys=False)
        body = {"metadata": {"resourceVersion": state.resource_version}, "spec": {"serveConfigV2": serve}}
        self.custom.patch_namespaced_custom_object("ray.io", "v1", t.namespace, "rayservices", t.rayservice, body)

    # -- the drain switch and Events ----------------------------------------------------------------

    def route_override(self) -> str:
        try:
            cm = self.core.read_namespaced_config_map(self.target.route_override_configmap, self.target.namespace)
        except ApiException as error:
            if error.status == 404:
                return ROUTE_AUTO
            raise
        return (cm.data or {}).get(ROUTE_OVERRIDE_ROUTE_KEY, ROUTE_AUTO)

    def event(self, decision: Decision, message: str, now: datetime) -> None:
        t = self.target
        blocked = decision.blocked_by is not None
        reason = "GovernorBlocked" if blocked else ("GovernorApplied" if decision.applied else "GovernorRecommends")
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{t.rayservice}-governor-", namespace=t.namespace),
            involved_object=client.V1ObjectReference(
                api_version="ray.io/v1", kind="RayService", name=t.rayservice, namespace=t.namespace
            ),
            reason=reason,
            message=message[:1024],
            type="Warning" if blocked else "Normal",
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component="gpt-oss-governor"),
        )
        self.core.create_namespaced_event(t.namespace, body)


def set_nodegroup_floor(eks: Any, target: Target, nodes: int) -> dict[str, int]:
    """Set the managed node group's minSize to `nodes` (less the pinned on-demand floor); returns
    the new scaling config."""
    group = eks.describe_nodegroup(clusterName=target.cluster_name, nodegroupName=target.node_pool)["nodegroup"]
    scaling = group["scalingConfig"]
    minimum = max(0, min(nodes - target.pinned_nodes, scaling["maxSize"]))
    new = {"minSize": minimum, "maxSize": scaling["maxSize"], "desiredSize": max(scaling.get("desiredSize", 0), minimum)}
    eks.update_nodegroup_config(clusterName=target.cluster_name, nodegroupName=target.node_pool, scalingConfig=new)
    return new
