"""EnvironmentKey, AlarmTopic and PromotionTrigger, each declared alone with hand-made args."""

from __future__ import annotations

import json

from declare import ACCOUNT, KEY_ARN, NAMING, PARTITION, REGION, declare
from planned import one, policy_of, statements_by_sid

from infra.components.alarm_topic import AlarmTopic, AlarmTopicArgs
from infra.components.environment_key import EnvironmentKey, EnvironmentKeyArgs
from infra.components.promotion_trigger import PromotionTrigger, PromotionTriggerArgs


# -- EnvironmentKey --------------------------------------------------------------------------------------------
def test_environment_key_rotates_is_administered_by_the_account_and_usable_by_cloudwatch_alarms() -> None:
    plan = declare(lambda: EnvironmentKey("environment", EnvironmentKeyArgs(
        naming=NAMING, account_id=ACCOUNT, partition=PARTITION, region=REGION)))
    key = one(plan, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    by_sid = statements_by_sid(key)
    assert set(by_sid) == {"AccountAdministersKey", "CloudWatchPublishesEncrypted"}
    assert by_sid["AccountAdministersKey"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    cloudwatch = by_sid["CloudWatchPublishesEncrypted"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}  # no confused deputy
    alias = one(plan, "aws:kms/alias:Alias")
    assert (alias.inputs["name"], alias.inputs["targetKeyId"]) == ("alias/mlops-test", key.outputs["keyId"])


# -- AlarmTopic ------------------------------------------------------------------------------------------------
def test_alarm_topic_is_encrypted_and_only_this_accounts_cloudwatch_may_publish() -> None:
    plan = declare(lambda: AlarmTopic("alarms", AlarmTopicArgs(naming=NAMING, kms_key_arn=KEY_ARN,
                                                               account_id=ACCOUNT)))
    topic = one(plan, "aws:sns/topic:Topic")
    assert topic.inputs["name"] == "mlops-test-alarms"
    assert topic.inputs["kmsMasterKeyId"] == KEY_ARN
    policy = one(plan, "aws:sns/topicPolicy:TopicPolicy")
    assert policy.inputs["arn"] == topic.outputs["arn"]
    (statement,) = policy_of(policy)["Statement"]
    assert statement == {
        "Sid": "CloudWatchPublishesAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish", "Resource": topic.outputs["arn"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }


# -- PromotionTrigger ------------------------------------------------------------------------------------------
def test_promotion_trigger_routes_approvals_of_exactly_the_given_groups_to_an_encrypted_topic() -> None:
    plan = declare(lambda: PromotionTrigger("promotion", PromotionTriggerArgs(
        naming=NAMING, package_group_names=["mlops-test-fraud", "mlops-test-churn"], kms_key_arn=KEY_ARN,
        account_id=ACCOUNT)))
    rule = one(plan, "aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["name"] == "mlops-test-package-approved"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": ["mlops-test-churn", "mlops-test-fraud"],
                   "ModelApprovalStatus": ["Approved"]},
    }
    topic = one(plan, "aws:sns/topic:Topic")
    assert (topic.inputs["name"], topic.inputs["kmsMasterKeyId"]) == ("mlops-test-promotions", KEY_ARN)
    target = one(plan, "aws:cloudwatch/eventTarget:EventTarget")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.outputs["name"], topic.outputs["arn"])
    (statement,) = policy_of(one(plan, "aws:sns/topicPolicy:TopicPolicy"))["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
