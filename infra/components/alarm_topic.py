"""Where an environment's alarms go: one encrypted SNS topic that on-call tooling subscribes to."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core.iam import service_publishes
from infra.core.naming import Naming


@dataclass(frozen=True)
class AlarmTopicArgs:
    naming: Naming
    kms_key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]


class AlarmTopic(pulumi.ComponentResource):
    """`mlops:monitoring:AlarmTopic`: the SNS route of every alarm in the environment."""

    topic: aws.sns.Topic
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:monitoring:AlarmTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(name, name=args.naming.topic("alarms"), kms_master_key_id=args.kms_key_arn,
                                   opts=child)
        aws.sns.TopicPolicy(
            name,
            arn=self.topic.arn,
            policy=service_publishes("CloudWatchPublishesAlarms", "cloudwatch.amazonaws.com", self.topic.arn,
                                     args.account_id),
            opts=child,
        )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})
