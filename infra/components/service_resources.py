"""Resource pairs that several components declare the same way: a role an AWS service assumes with its one inline
policy, and an encrypted SNS topic one service publishes to.

Functions, not components: their resources stay children of the calling component under the caller's names, so
the resource graph (and every URN) is what it was when each component declared them itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.core.iam import policy_document, service_publishes, service_trust


def service_role(name: str, role_name: str, service: str, account_id: pulumi.Input[str],
                 statements: Sequence[Mapping[str, Any]], parent: pulumi.Resource,
                 tags: Mapping[str, str] | None = None) -> aws.iam.Role:
    """A role `service` assumes for this account only (`service_trust`), with exactly `statements` inline."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(name, name=role_name, assume_role_policy=service_trust(service, account_id), tags=tags,
                        opts=child)
    aws.iam.RolePolicy(name, role=role.id, policy=policy_document(statements), opts=child)
    return role


def encrypted_topic(name: str, topic_name: str, kms_key_arn: pulumi.Input[str], publisher_sid: str,
                    publisher: str, account_id: pulumi.Input[str], parent: pulumi.Resource) -> aws.sns.Topic:
    """An SNS topic encrypted with `kms_key_arn` that the service `publisher` of this account may publish to (the
    key's policy must let that service use the key: `infra.core.iam.service_encrypts_with_key`)."""
    child = pulumi.ResourceOptions(parent=parent)
    topic = aws.sns.Topic(name, name=topic_name, kms_master_key_id=kms_key_arn, opts=child)
    aws.sns.TopicPolicy(name, arn=topic.arn,
                        policy=service_publishes(publisher_sid, publisher, topic.arn, account_id), opts=child)
    return topic
