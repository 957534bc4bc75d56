"""The managed API key: canonical copy in AWS Secrets Manager, delivered to the gateway as a
Kubernetes Secret (envelope-encrypted with the cluster's KMS key), both from one Pulumi secret.

The value is only ever a Pulumi secret Output: encrypted in state, masked in previews, never
in chart values or rendered manifests (the chart references the Secret by name).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from contracts import MANAGED_API_KEY_FIELD, MANAGED_API_KEY_SECRET


class ManagedApiKey(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        api_key: pulumi.Output[str],
        secret_path: str,
        namespace: pulumi.Input[str],
        labels: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:secrets:ManagedApiKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret = aws.secretsmanager.Secret(
            name,
            name=secret_path,
            description="API key of the managed fallback model, used by the gateway",
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            name, secret_id=secret.id, secret_string=pulumi.Output.secret(api_key), opts=child
        )
        self.kubernetes_secret = k8s.core.v1.Secret(
            name,
            metadata={"name": MANAGED_API_KEY_SECRET, "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={MANAGED_API_KEY_FIELD: pulumi.Output.secret(api_key)},
            opts=child,
        )
        self.arn = secret.arn
        self.register_outputs({"secret_arn": secret.arn})
