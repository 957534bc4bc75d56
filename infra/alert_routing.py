"""Alertmanager's configuration from the environment's `alerting` section: receivers, severity
routing and the inhibition rules that silence symptoms while their cause fires.

kube-prometheus-stack renders `alertmanager.config` into the Alertmanager's config Secret and
mounts every Secret listed in `alertmanager.alertmanagerSpec.secrets` at
/etc/alertmanager/secrets/<name>/ (chart values.yaml, kube-prometheus-stack 79.12.0). Receivers
read their secrets from those files (`api_url_file`, `routing_key_file`, `auth_password_file`,
Alertmanager >= 0.25 config/notifiers.go; the chart runs v0.29.0), so no secret value ever
passes through Pulumi, Helm values or this repository.
"""

from __future__ import annotations

from typing import Any

from infra.config.models import SEVERITIES, AlertingConfig, ReceiverConfig

SECRETS_DIR = "/etc/alertmanager/secrets"
NULL_RECEIVER = "null"
GROUP_BY = ["alertname", "environment", "namespace"]
RUNBOOK_TEXT = "{{ range .Alerts }}{{ .Annotations.summary }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}"

# Cause -> symptoms. While the cause fires in an environment (same `environment` and `namespace`
# labels: the chart puts both on every alert), the symptoms it explains stay silent; the cause's
# runbook covers them. A symptom alone still notifies.
INHIBITIONS: list[dict[str, Any]] = [
    {
        # No Serve endpoint at all: the gateway cannot reach the model, falls back, refuses
        # sovereign traffic, and Serve has no healthy replica; one page, not five.
        "cause": ["alertname = GptOssRayServiceNotReady"],
        "symptoms": [
            "GptOssGatewayUpstreamNotReady",
            "GptOssGatewayCircuitOpen",
            "GptOssGatewayHighFallbackRatio",
            "GptOssGatewaySovereignRequestsRefused",
            "GptOssServeReplicasBelowMinimum",
        ],
    },
    {
        # Lost GPU nodes explain missing replicas, pending worker pods and the traffic that left.
        "cause": ["alertname = GptOssGpuNodePoolBelowFloor"],
        "symptoms": ["GptOssServeReplicasBelowMinimum", "GptOssGpuWorkerPodsPending", "GptOssGatewayHighFallbackRatio"],
    },
    {
        # A hung engine explains slow and broken self-hosted answers.
        "cause": ["alertname = GptOssVllmEngineHung"],
        "symptoms": ["GptOssGatewayStreamFailures", "GptOssSelfHostedTtftSloBurn", "GptOssSelfHostedLatencySloBurn"],
    },
    {
        # On-call drained to the managed API on purpose: the spend and the share it causes are expected.
        "cause": ["alertname = GptOssGatewayRouteOverridden", 'route = "managed"'],
        "symptoms": ["GptOssGatewayHighFallbackRatio", "GptOssGatewayManagedSpendHigh"],
    },
]
EQUAL = ["environment", "namespace"]
# kube-prometheus-stack's own defaults (values.yaml `alertmanager.config.inhibit_rules`), kept in
# part: a critical alert silences the warning and info alerts of the same name (our fast and slow
# burn-rate pairs). Its InfoInhibitor rules are left out: they silence every info alert of a
# namespace where nothing worse fires, and the drain switch's info alert must reach the channel
# exactly then. The InfoInhibitor alert itself still goes to the null receiver.
CHART_DEFAULT_INHIBITIONS: list[dict[str, Any]] = [
    {
        "source_matchers": ["severity = critical"],
        "target_matchers": ["severity =~ warning|info"],
        "equal": ["namespace", "alertname"],
    },
    {"source_matchers": ["severity = warning"], "target_matchers": ["severity = info"], "equal": ["namespace", "alertname"]},
]


def secret_file(receiver: ReceiverConfig) -> str:
    assert receiver.secret is not None
    return f"{SECRETS_DIR}/{receiver.secret.name}/{receiver.secret.key}"


def receiver_config(receiver: ReceiverConfig) -> dict[str, Any]:
    """One Alertmanager receiver; every notification links the alert's runbook."""
    out: dict[str, Any] = {"name": receiver.name}
    if receiver.type == "slack":
        out["slack_configs"] = [
            {
                "api_url_file": secret_file(receiver),
                "channel": receiver.channel,
                "send_resolved": receiver.send_resolved,
                "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})",
                "text": RUNBOOK_TEXT,
            }
        ]
    elif receiver.type == "pagerduty":
        out["pagerduty_configs"] = [
            {
                "routing_key_file": secret_file(receiver),
                "send_resolved": receiver.send_resolved,
                "severity": "{{ .CommonLabels.severity }}",
                "description": "{{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }}): {{ .CommonAnnotations.summary }}",
                "links": [{"href": "{{ (index .Alerts 0).Annotations.runbook_url }}", "text": "Runbook"}],
            }
        ]
    else:
        email: dict[str, Any] = {
            "to": ", ".join(receiver.to or []),
            "from": receiver.sender,
            "smarthost": receiver.smarthost,
            "require_tls": True,
            "send_resolved": receiver.send_resolved,
            # Plain text next to the chart's default HTML body, with the runbook links.
            "text": RUNBOOK_TEXT,
        }
        if receiver.auth_username:
            email["auth_username"] = receiver.auth_username
            email["auth_password_file"] = secret_file(receiver)
        out["email_configs"] = [email]
    return out


def routes(alerting: AlertingConfig) -> list[dict[str, Any]]:
    """Watchdog and InfoInhibitor to the null receiver, then each severity to its receivers (all
    of them: `continue` lets one alert reach several)."""
    found: list[dict[str, Any]] = [
        {"receiver": NULL_RECEIVER, "matchers": ['alertname = "Watchdog"']},
        {"receiver": NULL_RECEIVER, "matchers": ['alertname = "InfoInhibitor"']},
    ]
    for severity in SEVERITIES:
        for name in getattr(alerting, severity):
            found.append({"receiver": name, "matchers": [f'severity = "{severity}"'], "continue": True})
    return found


def inhibit_rules() -> list[dict[str, Any]]:
    rules = []
    for rule in INHIBITIONS:
        symptoms = "|".join(rule["symptoms"])
        rules.append(
            {"source_matchers": list(rule["cause"]), "target_matchers": [f'alertname =~ "{symptoms}"'], "equal": list(EQUAL)}
        )
    return rules + [dict(r) for r in CHART_DEFAULT_INHIBITIONS]


def alertmanager_config(alerting: AlertingConfig) -> dict[str, Any]:
    """The complete Alertmanager configuration (it replaces the chart's default one)."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": list(GROUP_BY),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": alerting.repeat_interval,
            "routes": routes(alerting),
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": [{"name": NULL_RECEIVER}, *(receiver_config(r) for r in alerting.receivers)],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def alertmanager_secret_names(alerting: AlertingConfig) -> list[str]:
    """The Secrets the Alertmanager pods mount (each must exist in namespace monitoring)."""
    return sorted({r.secret.name for r in alerting.receivers if r.secret is not None})
