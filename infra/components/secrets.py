"""The gateway's Secrets.

- The managed API key: canonical copy in AWS Secrets Manager, delivered to the gateway as a
  Kubernetes Secret (envelope-encrypted with the cluster's KMS key), both from one Pulumi secret.
  The value is only ever a Pulumi secret Output: encrypted in state, masked in previews, never in
  chart values or rendered manifests (the chart references the Secret by name).
- The client keys: created by the stack with one client, the deploy smoke test's key (its hash;
  the key itself is a Pulumi-generated random value kept in Secrets Manager, where the deploy
  workflow reads it for `gpt-oss-platform smoke`), so the first deploy's smoke test can pass.
  Other keys are added afterwards (docs/gateway.md), and the stack never overwrites the file.
"""

from __future__ import annotations

import hashlib
import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from contracts import CLIENT_KEYS_FIELD, CLIENT_KEYS_SECRET, MANAGED_API_KEY_FIELD, MANAGED_API_KEY_SECRET
from infra.components.options import child_options

# The deploy smoke test's client: small limits (it sends a handful of requests per deploy), billed
# to the platform team. Rotated as docs/deploy.md says ("Smoke key").
SMOKE_CLIENT = {"name": "deploy-smoke", "team": "platform", "rpm": 60, "tpm": 20000}
SMOKE_KEY_LENGTH = 48


def seeded_clients(smoke_key_sha256: str) -> str:
    """The clients file the stack creates: only the smoke test's key, by its SHA-256."""
    return json.dumps({"clients": [{**SMOKE_CLIENT, "key_sha256": smoke_key_sha256}]}, sort_keys=True)


def key_sha256(key: str) -> str:
    # The gateway's hash (serving/gateway/auth.py hash_key): lower-case hex SHA-256 of the UTF-8 key.
    return hashlib.sha256(key.encode()).hexdigest()


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


class SmokeKey(pulumi.ComponentResource):
    """The deploy smoke test's client key: random, kept in Secrets Manager for the deploy workflow."""

    def __init__(self, name: str, secret_prefix: str, *, protect: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gptoss:secrets:SmokeKey", name, None, opts)
        key = random.RandomPassword(name, length=SMOKE_KEY_LENGTH, special=False, opts=pulumi.ResourceOptions(parent=self))
        secret = aws.secretsmanager.Secret(
            name,
            name_prefix=secret_prefix,
            description="Client key of the post-deploy smoke test (gpt-oss-platform smoke --key-file)",
            recovery_window_in_days=7,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.secretsmanager.SecretVersion(
            name, secret_id=secret.id, secret_string=key.result, opts=pulumi.ResourceOptions(parent=self)
        )
        # Only the hash leaves this component in plain form; the key stays a secret Output.
        self.sha256 = pulumi.Output.unsecret(key.result.apply(key_sha256))
        self.secret_name = secret.name
        self.register_outputs({"secret_name": secret.name})


class ClientKeys(pulumi.ComponentResource):
    """The Secret the gateway reads client keys from, seeded with the smoke test's key and then left to operators."""

    def __init__(
        self,
        name: str,
        namespace: pulumi.Input[str],
        labels: dict[str, str],
        smoke_key_sha256: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:secrets:ClientKeys", name, None, opts)
        self.secret = k8s.core.v1.Secret(
            name,
            metadata={"name": CLIENT_KEYS_SECRET, "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={CLIENT_KEYS_FIELD: pulumi.Output.from_input(smoke_key_sha256).apply(seeded_clients)},
            # Keys added after creation are the operators'; a later `pulumi up` must not empty the file.
            opts=child_options(self, opts, ignore_changes=["data", "stringData"]),
        )
        self.register_outputs({"name": CLIENT_KEYS_SECRET})
