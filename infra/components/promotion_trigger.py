"""Turns "a model package was approved" into a promotion request on an SNS topic.

The delivery workflow subscribes to the topic and opens the one-line pull request that pins the version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.iam import policy_document
from infra.naming import Naming


@dataclass(frozen=True)
class PromotionTriggerArgs:
    naming: Naming
    package_group_names: list[str]
    kms_key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]


def approval_event_pattern(package_group_names: list[str]) -> str:
    """The EventBridge pattern of an approval in any of the given model package groups."""
    return json.dumps(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {
                "ModelPackageGroupName": sorted(package_group_names),
                "ModelApprovalStatus": ["Approved"],
            },
        },
        sort_keys=True,
    )


class PromotionTrigger(pulumi.ComponentResource):
    """`mlops:delivery:PromotionTrigger`: approval events of every model's group routed to one topic."""

    topic: aws.sns.Topic
    rule: aws.cloudwatch.EventRule

    def __init__(self, name: str, args: PromotionTriggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:delivery:PromotionTrigger", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            name, name=args.naming.topic("promotions"), kms_master_key_id=args.kms_key_arn, opts=child
        )
        aws.sns.TopicPolicy(
            name,
            arn=self.topic.arn,
            policy=policy_document(
                [
                    {
                        "Sid": "EventBridgePublishesPromotions",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                    }
                ]
            ),
            opts=child,
        )
        self.rule = aws.cloudwatch.EventRule(
            name,
            name=args.naming.approval_rule(),
            description="A model package was approved: request its promotion",
            event_pattern=approval_event_pattern(args.package_group_names),
            opts=child,
        )
        aws.cloudwatch.EventTarget(name, rule=self.rule.name, arn=self.topic.arn, opts=child)
        self.register_outputs({"topicArn": self.topic.arn, "ruleName": self.rule.name})
