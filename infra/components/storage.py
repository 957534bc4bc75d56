"""The model weights bucket: private, encrypted, versioned, TLS-only, readable by Ray workers."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra import iam_policies
from infra.components.cluster import ClusterHandle
from infra.components.pod_identity import pod_identity_role


class WeightsBucket(pulumi.ComponentResource):
    """S3 bucket for staged weights and tiktoken files, plus the Pod Identity role that lets the
    serving namespace's Ray service account read it (and nothing else)."""

    def __init__(
        self,
        name: str,
        cluster: ClusterHandle,
        namespace: str,
        service_account: str,
        *,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:storage:WeightsBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Staged weights take an hour and tens of GB to re-upload: protected where state matters.
        self.bucket = aws.s3.Bucket(name, force_destroy=False, opts=pulumi.ResourceOptions(parent=self, protect=protect))
        aws.s3.BucketOwnershipControls(name, bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketVersioning(name, bucket=self.bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}],
            opts=child,
        )
        aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(lambda arn: iam_policies.dumps(iam_policies.deny_insecure_transport(arn))),
            opts=child,
        )
        pod_identity_role(
            f"{name}-reader",
            cluster,
            namespace,
            service_account,
            self.bucket.arn.apply(lambda arn: iam_policies.dumps(iam_policies.weights_reader(arn))),
            self,
        )
        self.name = self.bucket.bucket
        self.register_outputs({"bucket": self.bucket.bucket})
