"""The shared artifact store: one customer-managed KMS key and the data, artifacts and capture buckets.

Environment accounts (`readerAccountIds`) may read model artifacts and write data capture: granted here,
by bucket policy and key policy, because the resources live in the shared account.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.secure_bucket import LifecycleSettings, SecureBucket, SecureBucketArgs
from infra.core.arns import Arns
from infra.core.iam import account_administers_key, policy_document, service_encrypts_with_key
from infra.core.naming import BUCKET_ROLES, Naming

BUCKET_LIFECYCLES: dict[str, LifecycleSettings] = {
    # Raw and processed training data: keep old versions a quarter for reproducibility audits.
    "data": LifecycleSettings(noncurrent_version_expiration_days=90),
    # Model artifacts and evaluations: registered packages point here, so keep a year, tier after 30 days.
    "artifacts": LifecycleSettings(noncurrent_version_expiration_days=365, infrequent_access_after_days=30),
    # Endpoint data capture: high volume, only needed for drift windows.
    "capture": LifecycleSettings(noncurrent_version_expiration_days=7, current_version_expiration_days=90),
}
assert set(BUCKET_LIFECYCLES) == set(BUCKET_ROLES), "every bucket of the store has its lifecycle"


@dataclass(frozen=True)
class ArtifactStoreArgs:
    naming: Naming
    account_id: pulumi.Input[str]
    partition: str
    region: str
    reader_account_ids: list[str]
    protect: bool = False
    """Protect the key and the buckets (the stateful children) only; policies and the alias stay changeable."""


class ArtifactStore(pulumi.ComponentResource):
    """`mlops:storage:ArtifactStore`: the KMS key and the three buckets every model uses."""

    key: aws.kms.Key
    buckets: dict[str, SecureBucket]

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:storage:ArtifactStore", name, None, opts)
        self._args = args
        self._arns = Arns(args.partition, args.region, args.account_id)
        self.key = self._key(name)
        self.buckets = {
            role: SecureBucket(
                f"{name}-{role}",
                SecureBucketArgs(
                    bucket_name=self._bucket_name(role),
                    kms_key_arn=self.key.arn,
                    lifecycle=lifecycle,
                    extra_policy_statements=self._reader_statements(role),
                    protect=args.protect,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for role, lifecycle in BUCKET_LIFECYCLES.items()
        }
        self.register_outputs(
            {"keyArn": self.key.arn, **{f"{role}Bucket": b.name for role, b in self.buckets.items()}}
        )

    def _bucket_name(self, role: str) -> pulumi.Output[str]:
        return pulumi.Output.from_input(self._args.account_id).apply(lambda a: self._args.naming.bucket(role, a))

    def _key(self, name: str) -> aws.kms.Key:
        key = aws.kms.Key(
            name,
            description=f"{self._args.naming.prefix}: artifacts, data, capture, registries and pipelines",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=self._key_policy(),
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )
        aws.kms.Alias(
            name,
            name=self._args.naming.kms_alias(),
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key

    def _key_policy(self) -> pulumi.Output[str]:
        account = self._args.account_id
        statements = [
            account_administers_key(self._arns.account_root()),
            # EventBridge publishes promotion requests to the KMS-encrypted SNS topic.
            service_encrypts_with_key("EventBridgePublishesEncrypted", "events.amazonaws.com", account),
        ]
        if self._args.reader_account_ids:
            statements.append(
                {
                    "Sid": "EnvironmentAccountsUseKeyThroughServices",
                    "Effect": "Allow",
                    "Principal": {"AWS": [self._arns.account_root(a) for a in self._args.reader_account_ids]},
                    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {
                        "StringLike": {"kms:ViaService": ["s3.*.amazonaws.com", "sagemaker.*.amazonaws.com"]}
                    },
                }
            )
        return policy_document(statements)

    def _reader_statements(self, role: str) -> list[dict]:
        readers = self._args.reader_account_ids
        if not readers:
            return []
        principals = {"AWS": [self._arns.account_root(a) for a in readers]}
        bucket = self._bucket_name(role)
        bucket_arn, objects = self._arns.bucket(bucket), self._arns.objects(bucket, "*")
        if role == "artifacts":
            return [
                {
                    "Sid": "EnvironmentAccountsReadModels",
                    "Effect": "Allow",
                    "Principal": principals,
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [bucket_arn, objects],
                }
            ]
        if role == "capture":
            return [
                {
                    "Sid": "EnvironmentAccountsWriteCapture",
                    "Effect": "Allow",
                    "Principal": principals,
                    "Action": ["s3:PutObject"],
                    "Resource": [objects],
                }
            ]
        return []
