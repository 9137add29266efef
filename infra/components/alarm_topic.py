"""Where an environment's alarms go: one encrypted SNS topic that on-call tooling subscribes to."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.service_resources import encrypted_topic
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
        self.topic = encrypted_topic(name, args.naming.topic("alarms"), args.kms_key_arn,
                                     "CloudWatchPublishesAlarms", "cloudwatch.amazonaws.com", args.account_id, self)
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})
