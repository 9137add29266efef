"""S3 replication that copies data to a bucket the stack does not own.

Replication is configured in three places in the AWS provider: `aws.s3.BucketReplicationConfig`
(`rules[].destination.bucket`, `.account`), the deprecated inline `replicationConfiguration` of
`aws.s3.Bucket` (`rules[].destination.bucket`, `.accountId`) and `replicationConfigurations` of
`aws.s3.BucketV2` (`rules[].destinations[].bucket`, `.accountId`). A destination is inside the stack when it is
one of the stack's own buckets (by ARN, by name, or by the property dependency a preview records when the ARN is
still unknown), or when its owner account is pinned to one of the stack's accounts (the AWS providers'
`allowedAccountIds`, plus this rule's `trustedAccounts`). A bucket ARN carries no account: replicating to a
bucket the stack does not declare, with no account pinned, sends the data to whoever owns that name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .knobs import strings_knob
from .values import as_list, is_unknown, iter_strings

REPLICATION_CONFIG = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
AWS_PROVIDER = "pulumi:providers:aws"


def _destinations(resource: StackResource) -> Iterator[dict[str, Any]]:
    if resource.type == REPLICATION_CONFIG:
        configs: list[Any] = [resource.props]
    else:
        configs = as_list(resource.props.get("replicationConfiguration")) + as_list(
            resource.props.get("replicationConfigurations"))
    for config in configs:
        if not isinstance(config, dict):
            continue
        for rule in as_list(config.get("rules")):
            if not isinstance(rule, dict):
                continue
            for destination in as_list(rule.get("destination")) + as_list(rule.get("destinations")):
                if isinstance(destination, dict):
                    yield destination


def stack_accounts(stack: StackView, trusted: list[str]) -> set[str]:
    """Every account the stack's AWS providers are pinned to, plus the trusted ones."""
    accounts = set(trusted)
    for provider in stack.of_type(AWS_PROVIDER):
        value = provider.props.get("allowedAccountIds")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = [value]
        accounts.update(v for v in iter_strings(value) if v.isdigit())
    return accounts


def _own_bucket_arns(stack: StackView) -> set[str]:
    arns = set()
    for bucket in stack.of_type(*BUCKET_TYPES):
        arn = bucket.props.get("arn")
        if isinstance(arn, str):
            arns.add(arn)
        name = bucket.props.get("bucket")
        if isinstance(name, str) and name:
            arns.add(f"arn:aws:s3:::{name}")
    return arns


def _outside(stack: StackView) -> Iterator[tuple[str, str | None]]:
    accounts = stack_accounts(stack, stack.config["trustedAccounts"])
    own = _own_bucket_arns(stack)
    buckets = stack.of_type(*BUCKET_TYPES)
    for resource in stack.of_type(REPLICATION_CONFIG, *BUCKET_TYPES):
        for destination in _destinations(resource):
            target = destination.get("bucket")
            account = destination.get("account", destination.get("accountId"))
            if is_unknown(account):
                continue
            if isinstance(account, str) and account:
                if account not in accounts:
                    shown = ", ".join(sorted(accounts)) or "none pinned"
                    yield (f"'{resource.name}' replicates to account {account}, outside the stack's accounts "
                           f"({shown})", resource.urn)
                continue
            if is_unknown(target):
                if resource.type == REPLICATION_CONFIG and not any(resource.depends_on(b, "rules") for b in buckets):
                    yield (f"'{resource.name}' replicates to a bucket that is not one of this stack's, without "
                           "pinning its owner account (destination.account)", resource.urn)
                continue
            if isinstance(target, str) and target not in own:
                yield (f"'{resource.name}' replicates to {target}, which this stack does not declare, without "
                       "pinning its owner account (destination.account) to one of the stack's accounts",
                       resource.urn)


RULES = [
    stack_rule(
        name="s3-replication-in-stack-accounts",
        description="S3 replication copies data only to the stack's own buckets or to buckets in its accounts.",
        rationale=(
            "Replication silently copies every new object, training data and model artifacts included, to the "
            "destination: a bucket in a foreign account, or a name the stack does not own, is a standing "
            "exfiltration channel."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Replicate to a bucket declared in this stack (pass its .arn), or set destination.account to one of "
            "the stack's accounts (the AWS provider's allowed_account_ids, or this rule's trustedAccounts)."
        ),
        check=_outside,
        knobs={"trustedAccounts": strings_knob("Accounts, besides the providers' allowedAccountIds, that may "
                                               "receive replicas.", [])},
        tags=["s3", "data-protection"],
    ),
]
