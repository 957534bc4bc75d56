"""The drain switch: a ConfigMap change reaches every gateway pod within seconds through a watch
on the Kubernetes API (a fake one on 127.0.0.1), moves non-sovereign traffic to the managed API or
keeps all of it in-house, never sends sovereign traffic to the managed API, shows as a metric, and
is logged with who and why. A stalled watch costs at most one resync; an unreachable API never
blocks start-up or changes routing."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from contracts import HEADER_SERVED_BY, ROUTE_OVERRIDE_CONFIGMAP
from serving.gateway.route_override import OverrideState, RouteOverride, parse_configmap
from support.fake_kube_api import FakeKubeApi
from tests.serving.harness import wait_until

NS = "gpt-oss"


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi().start()
    yield api
    api.stop()


def _override_settings(kube: FakeKubeApi, tmp_path: Path, resync_s: float = 30.0) -> dict:
    token = tmp_path / "token"
    token.write_text(kube.token)
    return {
        "configmap": ROUTE_OVERRIDE_CONFIGMAP,
        "namespace": NS,
        "api_url": kube.url,
        "token_file": str(token),
        "ca_file": None,
        "resync_s": resync_s,
        "retry_s": 0.1,
    }


def _drain(kube: FakeKubeApi, route: str, notify: bool = True) -> None:
    kube.put(
        NS,
        ROUTE_OVERRIDE_CONFIGMAP,
        {"route": route, "set-by": "jdoe", "reason": "GPU nodes sick", "set-at": "2026-11-30T03:00:00Z"},
        notify,
    )


def _served_by(gateway, key: str = "app", stream: bool = False) -> str:
    response = gateway.chat(key, stream=stream)
    assert response.status_code == 200, response.text
    return response.headers[HEADER_SERVED_BY]


def test_drain_to_managed_moves_traffic_within_a_second_and_back(start_gateway, kube, managed, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="serving.gateway.route_override")
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    assert _served_by(gateway) == "self-hosted"
    wait_until(lambda: gateway.metric("gateway_route_override_watch_healthy") == 1)

    started = time.monotonic()
    _drain(kube, "managed")
    wait_until(lambda: gateway.metric("gateway_route_override", route="managed") == 1, timeout=2)
    assert time.monotonic() - started < 1.0
    assert _served_by(gateway) == "managed"
    assert _served_by(gateway, stream=True) == "managed"
    assert gateway.metric("gateway_route_override", route="auto") == 0
    # Not a fallback: the ratio alert stays quiet, the drain alert speaks instead.
    assert sum(gateway.metric("gateway_fallbacks_total", reason=r) for r in ("not_ready", "circuit_open")) == 0
    assert any("auto -> managed (set by jdoe" in r.getMessage() and "GPU nodes sick" in r.getMessage() for r in caplog.records)

    _drain(kube, "auto")
    wait_until(lambda: gateway.metric("gateway_route_override", route="auto") == 1, timeout=2)
    assert _served_by(gateway) == "self-hosted"


def test_sovereign_traffic_is_never_drained_to_managed(start_gateway, kube, managed, tmp_path):
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    _drain(kube, "managed")
    wait_until(lambda: gateway.metric("gateway_route_override", route="managed") == 1, timeout=2)
    before = len(managed.chat_requests())
    assert _served_by(gateway, key="sovereign") == "self-hosted"
    response = gateway.chat("app", headers={"x-gateway-sovereign": "true"})
    assert response.headers[HEADER_SERVED_BY] == "self-hosted"
    assert len(managed.chat_requests()) == before


def test_self_hosted_only_never_falls_back(start_gateway, kube, primary, managed, tmp_path):
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    _drain(kube, "self-hosted")
    wait_until(lambda: gateway.metric("gateway_route_override", route="self-hosted") == 1, timeout=2)
    primary.set("status", status=500)
    response = gateway.chat("app")
    assert response.status_code >= 500
    assert managed.chat_requests() == []


def test_deleting_the_object_returns_to_automatic_routing(start_gateway, kube, tmp_path):
    import httpx

    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    _drain(kube, "managed")
    wait_until(lambda: gateway.metric("gateway_route_override", route="managed") == 1, timeout=2)
    httpx.delete(
        f"{kube.url}/api/v1/namespaces/{NS}/configmaps/{ROUTE_OVERRIDE_CONFIGMAP}",
        headers={"Authorization": f"Bearer {kube.token}"},
    ).raise_for_status()
    wait_until(lambda: gateway.metric("gateway_route_override", route="auto") == 1, timeout=2)
    assert _served_by(gateway) == "self-hosted"


def test_a_stalled_watch_costs_at_most_one_resync(start_gateway, kube, tmp_path):
    kube.stall_watches = True
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path, resync_s=1.0))
    wait_until(lambda: gateway.metric("gateway_route_override_watch_healthy") == 1)
    _drain(kube, "managed")
    # No event ever arrives; the periodic re-list finds the change.
    wait_until(lambda: gateway.metric("gateway_route_override", route="managed") == 1, timeout=8)
    assert _served_by(gateway) == "managed"


def test_a_gone_watch_is_relisted(start_gateway, kube, tmp_path):
    kube.gone_next_watch = True
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    wait_until(lambda: sum(1 for m, _, q in kube.requests if q.get("watch") == "1") >= 2, timeout=5)
    _drain(kube, "managed")
    wait_until(lambda: gateway.metric("gateway_route_override", route="managed") == 1, timeout=2)


def test_an_unreachable_api_keeps_routing_automatic_and_says_so(start_gateway, kube, tmp_path):
    kube.fail_lists = True
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    assert gateway.http.get("/readyz").status_code == 200
    wait_until(lambda: sum(1 for m, _, q in kube.requests if "watch" not in q) >= 2, timeout=5)
    assert gateway.metric("gateway_route_override_watch_healthy") == 0
    assert gateway.metric("gateway_route_override", route="auto") == 1
    assert _served_by(gateway) == "self-hosted"
    kube.fail_lists = False
    wait_until(lambda: gateway.metric("gateway_route_override_watch_healthy") == 1, timeout=5)


def test_every_request_to_the_api_names_the_one_object_and_carries_the_token(start_gateway, kube, tmp_path):
    start_gateway(route_override=_override_settings(kube, tmp_path))
    wait_until(lambda: len(kube.requests) >= 2)
    for method, path, query in kube.requests:
        assert method == "GET" and path == f"/api/v1/namespaces/{NS}/configmaps"
        assert query["fieldSelector"] == f"metadata.name={ROUTE_OVERRIDE_CONFIGMAP}"


def test_a_misspelt_route_is_refused_and_routing_stays_automatic(start_gateway, kube, tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="serving.gateway.route_override")
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    _drain(kube, "manged")
    wait_until(lambda: any("'manged' is not one of" in r.getMessage() for r in caplog.records), timeout=5)
    assert gateway.metric("gateway_route_override", route="auto") == 1
    assert _served_by(gateway) == "self-hosted"


# -- the hook, without servers ------------------------------------------------------------------


@dataclass(frozen=True)
class _Adapter:
    keeps_data_in_company: bool


@dataclass(frozen=True)
class _Up:
    name: str
    adapter: _Adapter


SELF = _Up("self-hosted", _Adapter(True))
MANAGED = _Up("managed", _Adapter(False))


@pytest.mark.parametrize(
    ("route", "sovereign", "chain", "expected"),
    [
        ("auto", False, (SELF, MANAGED), (SELF, MANAGED)),
        ("managed", False, (SELF, MANAGED), (MANAGED,)),
        ("managed", True, (SELF,), (SELF,)),
        ("self-hosted", False, (SELF, MANAGED), (SELF,)),
        ("self-hosted", True, (SELF,), (SELF,)),
        # No managed upstream (fallback not allowed): draining would refuse everything; ignored.
        ("managed", False, (SELF,), (SELF,)),
    ],
)
def test_candidates_under_each_route(route, sovereign, chain, expected):
    override = RouteOverride(CollectorRegistry(), "test")
    override.apply(OverrideState(route=route))
    assert tuple(override.candidates(chain, sovereign)) == expected


def test_free_text_reaches_the_log_as_one_bounded_line():
    state, problem = parse_configmap({"data": {"route": "managed", "reason": "a\nb\x1b[31m" + "x" * 500, "set-by": "j"}})
    assert problem is None and "\n" not in state.reason and "\x1b" not in state.reason and len(state.reason) == 200


@pytest.mark.parametrize(
    "line",
    [
        b'{"type": "MODIFIED"}',  # no object
        b'{"type": "MODIFIED", "object": null}',
        b'{"type": "ADDED", "object": {"metadata": {"name": "gpt-oss-route-override"}, "data": "oops"}}',  # AttributeError
        b'{"type": "REPLACED", "object": {}}',  # a type the API does not document
        b"[1, 2]",
        b"not json at all",
    ],
    ids=["no-object", "object-null", "data-not-a-map", "unknown-type", "json-array", "not-json"],
)
def test_a_malformed_watch_event_marks_the_watch_unhealthy_and_the_watcher_keeps_going(
    start_gateway, kube, managed, tmp_path, caplog, line
):
    caplog.set_level(logging.WARNING, logger="serving.gateway.route_override")
    gateway = start_gateway(route_override=_override_settings(kube, tmp_path))
    wait_until(lambda: gateway.metric("gateway_route_override_watch_healthy") == 1)
    wait_until(lambda: kube._watchers != [])  # the watch is open
    kube.fail_lists = True  # hold the re-list, so the unhealthy state can be seen
    kube.send_raw_event(NS, line)
    wait_until(lambda: gateway.metric("gateway_route_override_watch_healthy") == 0, timeout=3)
    assert any("cannot read gpt-oss-route-override" in r.getMessage() for r in caplog.records)
    assert gateway.metric("gateway_route_override", route="auto") == 1  # last state kept
    kube.fail_lists = False
    wait_until(lambda: gateway.metric("gateway_route_override_watch_healthy") == 1, timeout=5)
    # The watcher is alive: the next drain applies within a second.
    _drain(kube, "managed")
    wait_until(lambda: gateway.metric("gateway_route_override", route="managed") == 1, timeout=3)
    assert _served_by(gateway) == "managed"


def test_failed_reads_back_off_up_to_the_resync_period(start_gateway, kube, tmp_path):
    kube.fail_lists = True
    start_gateway(route_override=_override_settings(kube, tmp_path, resync_s=0.4))
    time.sleep(2.0)
    lists = sum(1 for _, _, q in kube.requests if "watch" not in q)
    # retry_s 0.1 doubling to the cap 0.4: 0.1 + 0.2 + 0.4 + 0.4 + 0.4 ... -> about 6 in 2 s, not 20.
    assert 3 <= lists <= 9, lists
