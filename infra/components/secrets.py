"""The gateway's Secrets.

- The managed API key: canonical copy in AWS Secrets Manager, delivered to the gateway as a
  Kubernetes Secret (envelope-encrypted with the cluster's KMS key), both from one Pulumi secret.
  The value is only ever a Pulumi secret Output: encrypted in state, masked in previews, never in
  chart values or rendered manifests (the chart references the Secret by name).
- The client keys: created empty by the stack, so the gateway starts (and answers 401) before
  anyone adds a key; keys are added to it afterwards (docs/gateway.md), and the stack never
  overwrites them.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from contracts import CLIENT_KEYS_FIELD, CLIENT_KEYS_SECRET, MANAGED_API_KEY_FIELD, MANAGED_API_KEY_SECRET
from infra.components.options import child_options

# An empty clients file: every request is refused with 401 until a key is added.
EMPTY_CLIENTS = '{"clients": []}'


class ManagedApiKey(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        api_key: pulumi.Output[str],
        secret_prefix: str,
        namespace: pulumi.Input[str],
        labels: dict[str, str],
        *,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:secrets:ManagedApiKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # A prefix, not a fixed name: a deleted secret keeps its name for the recovery window
        # (7-30 days, Secrets Manager DeleteSecret), so a fixed name would block re-creating the
        # environment within that time.
        secret = aws.secretsmanager.Secret(
            name,
            name_prefix=secret_prefix,
            description="API key of the managed fallback model, used by the gateway",
            recovery_window_in_days=7,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.secretsmanager.SecretVersion(name, secret_id=secret.id, secret_string=pulumi.Output.secret(api_key), opts=child)
        self.kubernetes_secret = k8s.core.v1.Secret(
            name,
            metadata={"name": MANAGED_API_KEY_SECRET, "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={MANAGED_API_KEY_FIELD: pulumi.Output.secret(api_key)},
            opts=child,
        )
        self.arn = secret.arn
        self.secret_name = secret.name
        self.register_outputs({"secret_arn": secret.arn})


class ClientKeys(pulumi.ComponentResource):
    """The Secret the gateway reads client keys from, created empty and then left to operators."""

    def __init__(
        self,
        name: str,
        namespace: pulumi.Input[str],
        labels: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:secrets:ClientKeys", name, None, opts)
        self.secret = k8s.core.v1.Secret(
            name,
            metadata={"name": CLIENT_KEYS_SECRET, "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={CLIENT_KEYS_FIELD: EMPTY_CLIENTS},
            # Keys added after creation are the operators'; a later `pulumi up` must not empty the file.
            opts=child_options(self, opts, ignore_changes=["data", "stringData"]),
        )
        self.register_outputs({"name": CLIENT_KEYS_SECRET})
