"""An S3 bucket that is private, KMS-encrypted, versioned and TLS-only by construction.

pulumi-aws v7 splits a bucket's settings into companion resources; forgetting one silently weakens the
bucket. This component always declares all of them, so callers cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.core.iam import policy_document


@dataclass(frozen=True)
class LifecycleSettings:
    """How long objects live; the defaults keep history for audits without paying for it forever."""

    noncurrent_version_expiration_days: int = 90
    current_version_expiration_days: int | None = None
    infrequent_access_after_days: int | None = None
    abort_incomplete_upload_days: int = 7


@dataclass(frozen=True)
class SecureBucketArgs:
    """What a caller may choose about a bucket; the security settings are not among them."""

    bucket_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    lifecycle: LifecycleSettings = LifecycleSettings()
    extra_policy_statements: Sequence[Any] = field(default_factory=tuple)
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect the bucket itself (it holds the data); its policy, lifecycle and settings stay changeable."""


class SecureBucket(pulumi.ComponentResource):
    """`mlops:storage:SecureBucket`: a bucket with every companion resource that makes it safe."""

    bucket: aws.s3.Bucket
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, resource_name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:storage:SecureBucket", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            resource_name, bucket=args.bucket_name, tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.arn = self.bucket.arn
        self.name = self.bucket.bucket
        self._ownership(resource_name, child)
        access_block = self._block_public_access(resource_name, child)
        self._encrypt(resource_name, args.kms_key_arn, child)
        self._enable_versioning(resource_name, child)
        self._lifecycle(resource_name, args.lifecycle, child)
        self._policy(resource_name, args.extra_policy_statements, access_block)
        self.register_outputs({"arn": self.arn, "name": self.name})

    def _ownership(self, name: str, opts: pulumi.ResourceOptions) -> None:
        # BucketOwnerEnforced disables ACLs entirely, so access is decided by policies alone.
        aws.s3.BucketOwnershipControls(
            name,
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=opts,
        )

    def _block_public_access(self, name: str, opts: pulumi.ResourceOptions) -> aws.s3.BucketPublicAccessBlock:
        return aws.s3.BucketPublicAccessBlock(
            name,
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )

    def _encrypt(self, name: str, kms_key_arn: pulumi.Input[str], opts: pulumi.ResourceOptions) -> None:
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=(
                        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                        )
                    ),
                    # Bucket keys cut KMS request costs by orders of magnitude for busy buckets.
                    bucket_key_enabled=True,
                )
            ],
            opts=opts,
        )

    def _enable_versioning(self, name: str, opts: pulumi.ResourceOptions) -> None:
        aws.s3.BucketVersioning(
            name,
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=opts,
        )

    def _lifecycle(self, name: str, settings: LifecycleSettings, opts: pulumi.ResourceOptions) -> None:
        transitions = (
            [
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=settings.infrequent_access_after_days, storage_class="STANDARD_IA"
                )
            ]
            if settings.infrequent_access_after_days
            else None
        )
        expiration = (
            aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=settings.current_version_expiration_days)
            if settings.current_version_expiration_days
            else None
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="retention",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=(
                        aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=settings.abort_incomplete_upload_days
                        )
                    ),
                    noncurrent_version_expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=settings.noncurrent_version_expiration_days
                        )
                    ),
                    transitions=transitions,
                    expiration=expiration,
                )
            ],
            opts=opts,
        )

    def _policy(self, name: str, extra: Sequence[Any], access_block: aws.s3.BucketPublicAccessBlock) -> None:
        deny_insecure_transport = {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=policy_document([deny_insecure_transport, *extra]),
            # S3 rejects a policy written while the public access block is still being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access_block]),
        )
