"""The governor's controller end to end: its queries against a real Prometheus loaded with
synthetic gateway counters, its Kubernetes calls through the official client against the fake API
server (which enforces the chart's rendered Role), the EKS node group under moto."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
import yaml
from kubernetes import client
from moto import mock_aws

from contracts import ROUTE_OVERRIDE_CONFIGMAP
from infra.cost.governor.sample import START, diurnal_week
from infra.operate.governor import prometheus
from infra.operate.governor.cluster import Cluster, read_floor, with_floor
from infra.operate.governor.controller import Controller
from infra.operate.governor.memory import MEMORY_ANNOTATION
from infra.operate.governor.settings import ControllerSettings
from support import chart_kit
from support.fake_kube_api import TOKEN, FakeKubeApi
from support.prometheus_server import Series, prometheus_with

pytestmark = pytest.mark.slow

HOURS = diurnal_week() + [s.__class__(s.hour + timedelta(days=7), s.tokens, s.sovereign_tokens) for s in diurnal_week()[:24]]
NOW = HOURS[-1].hour + timedelta(hours=1)  # Tuesday 00:00 of the second week
STEP = 300  # seconds between samples, like a scrape


def gateway_series(environment: str, scale: float = 1.0) -> list[Series]:
    """The gateway's token counters for HOURS: prompt 3/4, completion 1/4; sovereign tokens under
    team `secure`, the rest under `web`, split 80/20 between self-hosted and managed."""
    parts = {
        ("secure", "self-hosted"): lambda h: h.sovereign_tokens,
        ("web", "self-hosted"): lambda h: 0.8 * (h.tokens - h.sovereign_tokens),
        ("web", "managed"): lambda h: 0.2 * (h.tokens - h.sovereign_tokens),
    }
    out = []
    for (team, served_by), share in parts.items():
        for name, fraction in (("gateway_prompt_tokens_total", 0.75), ("gateway_completion_tokens_total", 0.25)):
            samples, total, stamp = [(START.timestamp(), 0.0)], 0.0, START.timestamp()
            for hour in HOURS:
                per_step = share(hour) * fraction * scale / (3600 / STEP)
                for _ in range(3600 // STEP):
                    stamp += STEP
                    total += per_step
                    samples.append((stamp, total))
            labels = {"environment": environment, "model": "gpt-oss-120b", "served_by": served_by, "team": team, "client": team}
            out.append(Series(name, labels, samples))
    return out


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    with prometheus_with(gateway_series("prod") + gateway_series("dev", scale=7.0), tmp_path_factory.mktemp("prom")) as url:
        yield url


def prod_settings(url: str, mode: str) -> ControllerSettings:
    values = chart_kit.values("prod")
    raw = values["governor"]["settings"]
    raw = {
        **raw,
        "policy": {**raw["policy"], "mode": mode},
        "prometheus": {**raw["prometheus"], "url": url, "sovereign_teams": ["secure"]},
    }
    return ControllerSettings.model_validate(raw)


def role_rules(mode: str) -> list[dict]:
    values = json.loads(json.dumps(chart_kit.values("prod")))
    values["governor"]["mode"] = mode
    docs = chart_kit.documents(chart_kit.render(values))
    return chart_kit.one(docs, "Role", "gpt-oss-governor")["rules"]


def rayservice_object() -> dict:
    rendered = chart_kit.one(chart_kit.rendered_docs("prod"), "RayService", "gpt-oss")
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "gpt-oss", "namespace": "gpt-oss", "generation": 1},
        "spec": rendered["spec"],  # serveConfigV2 as the chart renders it: a YAML string
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    return obj


@pytest.fixture
def fake(request):
    api = FakeKubeApi().start()
    api.add_custom("ray.io", "rayservices", rayservice_object())
    yield api
    api.stop()


def kube_client(fake: FakeKubeApi) -> client.ApiClient:
    configuration = client.Configuration(host=fake.url)
    configuration.api_key = {"authorization": f"Bearer {TOKEN}"}
    return client.ApiClient(configuration)


def floor_of(fake: FakeKubeApi) -> int:
    obj = fake.get_custom("ray.io", "rayservices", "gpt-oss", "gpt-oss")
    assert obj is not None
    return read_floor(yaml.safe_load(obj["spec"]["serveConfigV2"]), "gpt-oss")


def test_the_history_is_read_from_a_real_prometheus_hour_by_hour(prometheus_url):
    settings = prod_settings(prometheus_url, "recommend").prometheus
    history = prometheus.hourly_history(settings, NOW)
    assert [h.hour for h in history] == [h.hour for h in HOURS]
    for got, sent in zip(history, HOURS, strict=True):
        assert got.tokens == pytest.approx(sent.tokens, rel=1e-6, abs=1)
        assert got.sovereign_tokens == pytest.approx(sent.sovereign_tokens, rel=1e-6, abs=1)
    share = prometheus.instant(settings, prometheus.api_share_query(settings), NOW - timedelta(hours=12))
    noon = next(h for h in HOURS if h.hour == NOW - timedelta(hours=13))
    assert share == pytest.approx(0.2 * (noon.tokens - noon.sovereign_tokens) / noon.tokens, rel=1e-6)


def test_a_prometheus_that_does_not_answer_is_a_named_error():
    settings = prod_settings("http://127.0.0.1:9", "recommend").prometheus
    with pytest.raises(prometheus.PrometheusError, match=r"127\.0\.0\.1:9/api/v1/query_range"):
        prometheus.hourly_history(settings, NOW)


@mock_aws
def test_enforce_lowers_the_floor_in_place_and_the_node_group_with_only_the_roles_rights(prometheus_url, fake):
    settings = prod_settings(prometheus_url, "enforce")
    target = settings.target
    eks = boto3.client("eks", region_name=target.region)
    eks.create_cluster(name=target.cluster_name, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    eks.create_nodegroup(
        clusterName=target.cluster_name,
        nodegroupName=target.node_pool,
        nodeRole="arn:aws:iam::123456789012:role/node",
        subnets=["subnet-0123456789abcdef0"],
        scalingConfig={"minSize": 2, "maxSize": 4, "desiredSize": 2},
    )
    fake.rbac_rules = role_rules("enforce")
    governor = Controller(settings, Cluster(kube_client(fake), target), "governor-a", eks=eks)
    decision = governor.step(NOW)
    assert decision is not None and (decision.action, decision.applied, decision.floor) == ("lower", True, 1)
    assert floor_of(fake) == 1
    scaling = eks.describe_nodegroup(clusterName=target.cluster_name, nodegroupName=target.node_pool)["nodegroup"][
        "scalingConfig"
    ]
    assert scaling["minSize"] == max(0, 1 - target.pinned_nodes) and scaling["desiredSize"] == 2
    events = fake.events("gpt-oss")
    assert [e["reason"] for e in events] == ["GovernorApplied"]
    assert events[0]["involvedObject"]["kind"] == "RayService" and "expected saving $" in events[0]["message"]
    lease = fake.get_custom("coordination.k8s.io", "leases", "gpt-oss", "gpt-oss-governor")
    assert lease is not None and lease["spec"]["holderIdentity"] == "governor-a"
    assert fake.denied == []
    # A second pod stands by while the Lease is fresh, and acts nowhere.
    standby = Controller(settings, Cluster(kube_client(fake), target), "governor-b", eks=eks)
    assert standby.step(NOW + timedelta(seconds=30)) is None
    # ... and takes over once the leader stopped renewing for longer than the Lease's duration.
    assert standby.step(NOW + timedelta(minutes=5)) is not None
    lease = fake.get_custom("coordination.k8s.io", "leases", "gpt-oss", "gpt-oss-governor")
    assert lease is not None
    assert (lease["spec"]["holderIdentity"], lease["spec"]["leaseTransitions"]) == ("governor-b", 1)


def test_recommend_changes_nothing_and_needs_no_write_right_but_the_event(prometheus_url, fake):
    settings = prod_settings(prometheus_url, "recommend")
    fake.rbac_rules = role_rules("recommend")
    decision = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-a").step(NOW)
    assert decision is not None and (decision.target_floor, decision.applied) == (1, False)
    assert floor_of(fake) == 2
    assert not [r for r in fake.requests if r[0] == "PATCH"]
    assert [e["reason"] for e in fake.events("gpt-oss")] == ["GovernorRecommends"]
    assert fake.denied == []


@pytest.mark.parametrize("guard", ["drain", "upgrade"])
def test_the_drain_switch_and_an_upgrade_block_enforce(prometheus_url, fake, guard):
    settings = prod_settings(prometheus_url, "enforce")
    fake.rbac_rules = role_rules("enforce")
    if guard == "drain":
        fake.put("gpt-oss", ROUTE_OVERRIDE_CONFIGMAP, {"route": "managed"})
    else:
        obj = fake.get_custom("ray.io", "rayservices", "gpt-oss", "gpt-oss")
        assert obj is not None
        obj["status"]["conditions"].append({"type": "UpgradeInProgress", "status": "True"})
        fake.add_custom("ray.io", "rayservices", obj)
    governor = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-a")
    decision = governor.step(NOW)
    assert decision is not None and decision.blocked_by and not decision.applied
    assert floor_of(fake) == 2
    assert [e["reason"] for e in fake.events("gpt-oss")] == ["GovernorBlocked"]
    metrics = __import__("prometheus_client").generate_latest(governor.metrics.registry).decode()
    assert 'gpt_oss_governor_enforce_blocked{environment="prod"' in metrics


def floor_set_by_a_helm_upgrade(fake: FakeKubeApi, floor: int) -> None:
    """The RayService as a `pulumi up` leaves it: the configured floor back, reconciled by KubeRay."""
    obj = fake.get_custom("ray.io", "rayservices", "gpt-oss", "gpt-oss")
    assert obj is not None
    serve = yaml.safe_load(obj["spec"]["serveConfigV2"])
    obj["spec"]["serveConfigV2"] = yaml.safe_dump(with_floor(serve, "gpt-oss", floor), sort_keys=False)
    obj["metadata"]["generation"] += 1
    obj["status"]["observedGeneration"] = obj["metadata"]["generation"]
    fake.add_custom("ray.io", "rayservices", obj)


def set_lease_annotations(fake: FakeKubeApi, annotations: dict[str, str] | None) -> None:
    lease = fake.get_custom("coordination.k8s.io", "leases", "gpt-oss", "gpt-oss-governor")
    assert lease is not None
    lease["metadata"]["annotations"] = annotations
    fake.add_custom("coordination.k8s.io", "leases", lease)


@pytest.mark.parametrize("guardrail", ["min_dwell_minutes", "max_changes_per_day"])
def test_a_new_leader_after_failover_respects_the_dwell_time_and_the_daily_count(prometheus_url, fake, guardrail):
    """governor-a lowers the floor and dies; a `pulumi up` puts the configured floor back; governor-b
    takes the Lease over minutes later and would lower it again at once if it started with an empty
    memory (the control at the end shows it does). It reads governor-a's record from the Lease."""
    settings = prod_settings(prometheus_url, "enforce")
    if guardrail == "max_changes_per_day":  # no dwell time: only the daily count can block
        policy = settings.policy.model_copy(update={"min_dwell_minutes": 0, "max_changes_per_day": 1})
        settings = settings.model_copy(update={"policy": policy})
    fake.rbac_rules = role_rules("enforce")
    first = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-a")
    decision = first.step(NOW)
    assert decision is not None and (decision.action, decision.applied, decision.floor) == ("lower", True, 1)
    lease = fake.get_custom("coordination.k8s.io", "leases", "gpt-oss", "gpt-oss-governor")
    assert lease is not None
    assert json.loads(lease["metadata"]["annotations"][MEMORY_ANNOTATION]) == {
        "floor": 1,
        "last_change": NOW.isoformat(),
        "changes": [NOW.isoformat()],
    }
    floor_set_by_a_helm_upgrade(fake, 2)

    takeover = NOW + timedelta(minutes=5)  # the Lease (60 s) has expired; the dwell time (60 min) has not
    second = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-b")
    decision = second.step(takeover)
    limit = getattr(settings.policy, guardrail)
    assert decision is not None and (decision.action, decision.applied) == ("lower", False)
    assert decision.blocked_by == f"{guardrail} {limit}"
    assert floor_of(fake) == 2
    assert fake.denied == []

    # The control: the same takeover with nothing recorded changes the floor again.
    set_lease_annotations(fake, None)
    third = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-c")
    decision = third.step(takeover + timedelta(minutes=2))
    assert decision is not None and (decision.action, decision.applied) == ("lower", True)
    assert floor_of(fake) == 1


def test_an_unreadable_record_blocks_changes_for_the_dwell_time_and_is_counted(prometheus_url, fake):
    settings = prod_settings(prometheus_url, "enforce")
    fake.rbac_rules = role_rules("enforce")
    Controller(settings, Cluster(kube_client(fake), settings.target), "governor-a").step(NOW - timedelta(hours=3))
    floor_set_by_a_helm_upgrade(fake, 2)
    set_lease_annotations(fake, {MEMORY_ANNOTATION: "{not json"})
    governor = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-b")
    decision = governor.step(NOW)
    assert decision is not None and not decision.applied
    assert decision.blocked_by == f"min_dwell_minutes {settings.policy.min_dwell_minutes}"
    metrics = __import__("prometheus_client").generate_latest(governor.metrics.registry).decode()
    assert 'gpt_oss_governor_errors_total{environment="prod",stage="memory_record"} 1.0' in metrics
    # Past the dwell time it acts, and its record replaces the unreadable one.
    decision = governor.step(NOW + timedelta(minutes=settings.policy.min_dwell_minutes + 1))
    assert decision is not None and decision.applied
    lease = fake.get_custom("coordination.k8s.io", "leases", "gpt-oss", "gpt-oss-governor")
    assert lease is not None and json.loads(lease["metadata"]["annotations"][MEMORY_ANNOTATION])["floor"] == decision.floor


def test_a_leader_whose_first_step_failed_still_reads_the_record_before_it_acts(prometheus_url, fake):
    """governor-b takes the Lease over, but its step fails before it reads the record (the
    RayService is briefly gone); its next step must read the record, not start from nothing."""
    settings = prod_settings(prometheus_url, "enforce")
    fake.rbac_rules = role_rules("enforce")
    first = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-a").step(NOW)
    assert first is not None and first.applied
    floor_set_by_a_helm_upgrade(fake, 2)
    key = ("ray.io", "rayservices", "gpt-oss", "gpt-oss")
    rayservice = fake.custom.pop(key)
    second = Controller(settings, Cluster(kube_client(fake), settings.target), "governor-b")
    with pytest.raises(client.exceptions.ApiException):
        second.step(NOW + timedelta(minutes=5))
    fake.custom[key] = rayservice
    decision = second.step(NOW + timedelta(minutes=6))
    assert decision is not None and (decision.action, decision.applied) == ("lower", False)
    assert decision.blocked_by == f"min_dwell_minutes {settings.policy.min_dwell_minutes}"
