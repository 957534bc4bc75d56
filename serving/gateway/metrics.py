"""Prometheus metrics, in a registry owned by the gateway instance (no global default registry).

Label values are bounded: environment, public model, served_by (self-hosted | managed | none),
upstream name, client key *name* and team from the clients file, fallback reason (an enum),
status code. A key itself is never a label. Children are cached per label tuple, because
prometheus-client's `labels()` takes a lock and builds a tuple on every call.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from serving.gateway.circuit import CircuitState

# Latency buckets from a loopback hop (sub-ms) to a long reasoning answer (minutes).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60)
REQUEST_LABELS = ("environment", "model", "served_by", "team", "client", "code")
# The `reason` of a 503 when no upstream was even tried (every candidate filtered out).
NO_CANDIDATE = "no_candidate"
USAGE_LABELS = ("environment", "model", "served_by", "team", "client")

# A Counter, Gauge or Histogram: `child` hands back a child of the metric's own kind.
Metric = TypeVar("Metric", bound=MetricWrapperBase)


class GatewayMetrics:
    def __init__(self, environment: str) -> None:
        self.environment = environment
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_requests",
            "API requests (chat, completions, responses) by who served them and the status returned.",
            REQUEST_LABELS,
            registry=r,
        )
        self.api_requests = Counter(
            "gateway_api_requests",
            "API requests by endpoint (chat, completions, responses) and the status returned.",
            ("environment", "api", "code"),
            registry=r,
        )
        self.prompt_tokens = Counter("gateway_prompt_tokens", "Prompt tokens served.", USAGE_LABELS, registry=r)
        self.completion_tokens = Counter(
            "gateway_completion_tokens", "Completion tokens served (reasoning included).", USAGE_LABELS, registry=r
        )
        self.cost = Counter(
            "gateway_cost_usd",
            "Cost of served requests, USD (managed: list price; self-hosted: amortised fleet).",
            USAGE_LABELS,
            registry=r,
        )
        self.fallbacks = Counter(
            "gateway_fallbacks",
            "Requests that left their primary, by reason.",
            ("environment", "model", "reason"),
            registry=r,
        )
        self.unavailable = Counter(
            "gateway_unavailable",
            "Requests answered 503 because no allowed upstream could serve them, by the primary's "
            'reason; sovereign="true" for keys whose requests never leave the company.',
            ("environment", "model", "reason", "sovereign"),
            registry=r,
        )
        self.replays = Counter(
            "gateway_replays",
            "Requests sent to a second upstream although the first may have processed them.",
            ("environment", "model", "reason"),
            registry=r,
        )
        self.stream_failures = Counter(
            "gateway_stream_failures",
            "Streams ended with an error event after the first byte reached the client.",
            ("environment", "model", "served_by", "reason"),
            registry=r,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited",
            "Requests refused with 429 by the per-key limits.",
            ("environment", "team", "client", "limit"),
            registry=r,
        )
        self.rejected = Counter(
            "gateway_rejected",
            "Requests refused before routing (auth, size, malformed, unknown model, timeouts, limits).",
            ("environment", "code"),
            registry=r,
        )
        self.spend_refused = Counter(
            "gateway_spend_refused",
            "Requests refused with 429 because the key's or its team's monthly spend cap is reached.",
            ("environment", "scope", "team", "client"),
            registry=r,
        )
        self.spend_ratio = Gauge(
            "gateway_spend_cap_ratio",
            'This month\'s spend over its cap, per capped key (scope="key") or team (scope="team"); '
            "shared across pods with the shared store, this pod's own spend without it.",
            ("environment", "scope", "holder"),
            registry=r,
        )
        self.store_up = Gauge(
            "gateway_shared_store_up",
            "1 when the last exchange with the shared store (Redis) succeeded: limits and spend are shared "
            "across pods; 0: each pod counts alone.",
            ("environment",),
            registry=r,
        )
        self.store_errors = Counter(
            "gateway_shared_store_errors",
            "Failed exchanges with the shared store (unreachable or slower than its timeout).",
            ("environment",),
            registry=r,
        )
        self.connections = Gauge(
            "gateway_open_connections",
            "Client connections open on this pod (the cap is server.max_connections).",
            ("environment",),
            registry=r,
        )
        self.circuit_state = Gauge(
            "gateway_circuit_state",
            "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.",
            ("environment", "upstream"),
            registry=r,
        )
        self.circuit_transitions = Counter(
            "gateway_circuit_transitions",
            "Circuit breaker state changes, by the state entered.",
            ("environment", "upstream", "state"),
            registry=r,
        )
        self.upstream_ready = Gauge(
            "gateway_upstream_ready",
            "1 when the upstream's readiness probe passes (or it is not probed).",
            ("environment", "upstream"),
            registry=r,
        )
        self.auth_failures = Counter(
            "gateway_upstream_auth_failures",
            "The upstream refused the gateway's own API key (HTTP 401/403): credential checks "
            "(credential_probe.py) and client requests answered 502 upstream_auth_failed.",
            ("environment", "upstream", "source"),
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_upstream_in_flight",
            "Requests in flight to the upstream from this pod.",
            ("environment", "upstream"),
            registry=r,
        )
        self.usd_per_mtok = Gauge(
            "gateway_upstream_usd_per_mtok",
            "What a million (weighted, for self-hosted) completion tokens cost on this upstream right now.",
            ("environment", "upstream"),
            registry=r,
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds",
            "Time from request received to last byte sent.",
            ("environment", "model", "served_by", "stream"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "gateway_time_to_first_token_seconds",
            "Streaming: time from request received to first event sent.",
            ("environment", "model", "served_by"),
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}

    def child(self, metric: Metric, *labels: str) -> Metric:
        """The labelled child of `metric` for `labels` (environment is prepended)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(self.environment, *labels)
        assert isinstance(found, type(metric)), "the cache key starts with id(metric): its child is of the metric's kind"
        return found

    def prime(self, models: list[str], reasons: list[str]) -> None:
        """Create the bounded counter children at 0, so the first event of a kind is an
        increase Prometheus can see (a series born at 1 has no increase())."""
        for model in models:
            for reason in reasons:
                self.child(self.fallbacks, model, reason)
                self.child(self.replays, model, reason)
                for sovereign in ("true", "false"):
                    self.child(self.unavailable, model, reason, sovereign)
            self.child(self.unavailable, model, NO_CANDIDATE, "true")
            self.child(self.unavailable, model, NO_CANDIDATE, "false")

    def set_circuit(self, upstream: str, state: CircuitState, transition: bool) -> None:
        self.child(self.circuit_state, upstream).set(int(state))
        if transition:
            self.child(self.circuit_transitions, upstream, state.name.lower()).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
