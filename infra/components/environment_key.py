"""An environment's own customer-managed KMS key: endpoint volumes and the alarm topic.

It lives in the environment's account, so serving never depends on another account's key for its disks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core.arns import Arns
from infra.core.iam import account_administers_key, policy_document, service_encrypts_with_key
from infra.core.naming import Naming


@dataclass(frozen=True)
class EnvironmentKeyArgs:
    naming: Naming
    account_id: pulumi.Input[str]
    partition: str
    region: str
    protect: bool = False
    """Protect the key (what it encrypted is unreadable without it); the alias stays changeable."""


class EnvironmentKey(pulumi.ComponentResource):
    """`mlops:security:EnvironmentKey`: a rotating key that CloudWatch alarms may publish through."""

    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: EnvironmentKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:security:EnvironmentKey", name, None, opts)
        account = args.account_id
        self.key = aws.kms.Key(
            name,
            description=f"{args.naming.prefix}: endpoint volumes and alarm notifications",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy_document(
                [
                    account_administers_key(Arns(args.partition, args.region, account).account_root()),
                    # Alarms publish to the encrypted SNS topic; CloudWatch needs the data key for that.
                    service_encrypts_with_key("CloudWatchPublishesEncrypted", "cloudwatch.amazonaws.com", account),
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.kms.Alias(
            name,
            name=args.naming.kms_alias(),
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
