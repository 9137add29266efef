"""The IAM normalisation the rules judge with: wildcard matching, condition meaning, managed policy grants."""

from __future__ import annotations

from pathlib import Path

import policyuniverse
import pytest

from policies.rules.iam_model import (
    ALL_ACTIONS,
    action_matches,
    arn_matches,
    managed_policy_grant,
    statements,
)


def test_the_action_list_ships_in_the_wheel() -> None:
    # Read from policyuniverse's own data.json at import: no network, no download at run time.
    assert (Path(policyuniverse.__file__).parent / "data.json").is_file()
    assert len(ALL_ACTIONS) > 10_000
    assert {"iam:passrole", "s3:getobject", "kms:decrypt", "sts:assumerolewithwebidentity"} <= ALL_ACTIONS


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("IAM:PassRole", "iam:passrole", True),
        ("iam:Pass?ole", "iam:passrole", True),
        ("iam:Pass*", "iam:passrole", True),
        ("*", "anything:at-all", True),
        ("iam:Pass", "iam:passrole", False),  # whole-string match, not a prefix
        ("s3:Get[O]bject", "s3:getobject", False),  # '[' is literal in IAM, not a character class
    ],
)
def test_actions_match_with_iam_wildcards_and_any_case(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


def test_arns_match_case_sensitively() -> None:
    assert arn_matches("arn:aws:s3:::Bucket/*", "arn:aws:s3:::Bucket/key")
    assert not arn_matches("arn:aws:s3:::bucket/*", "arn:aws:s3:::Bucket/key")


@pytest.mark.parametrize(
    ("operator", "positive"),
    [
        ("StringEquals", True),
        ("StringLike", True),
        ("ArnLike", True),
        ("StringNotEquals", False),
        ("StringNotLike", False),
        ("StringEqualsIfExists", False),
        ("StringLikeIfExists", False),
        ("ForAnyValue:StringLike", False),
        ("ForAllValues:StringEquals", False),
        ("Null", False),
        ("NumericLessThan", False),
    ],
)
def test_condition_operators_are_read_for_their_meaning(operator: str, positive: bool) -> None:
    [statement] = statements({"Statement": {"Effect": "Allow", "Condition": {operator: {"Aws:SourceAccount": "1"}}}})
    assert statement.pinned("aws:sourceaccount") is positive  # keys compare case-insensitively


def test_statements_normalise_every_spelling() -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "NotResource": ["arn:aws:s3:::b"]},
            {"Effect": "Deny", "Action": ["S3:*"], "Resource": "*", "Principal": {"AWS": ["*"]}},
        ]
    }
    allow, deny = statements(document)
    assert allow.allows and allow.grants("s3:GetObject") and not allow.grants("iam:PassRole")
    assert allow.every_resource() and allow.covers("arn:aws:s3:::other") and not allow.covers("arn:aws:s3:::b")
    assert deny.denies and "s3" in deny.services_fully_granted() and deny.public_principal()
    assert statements("not a document") is not None and list(statements([1, 2])) == []


@pytest.mark.parametrize(
    ("arn", "grants"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", "every action ('*') on every resource"),
        ("arn:aws:iam::aws:policy/PowerUserAccess", "NotAction with Allow"),
        ("arn:aws:iam::aws:policy/IAMFullAccess", "(iam:*)"),
        ("arn:aws:iam::aws:policy/AmazonSageMakerFullAccess", "(sagemaker:*)"),
        ("arn:aws:iam::aws:policy/job-function/NetworkAdministrator", "every action of a service"),
        ("arn:aws-cn:iam::aws:policy/AdministratorAccess", "every action ('*') on every resource"),
        # names that say nothing of what the document grants, both ways:
        ("arn:aws:iam::aws:policy/AWSLambdaExecute", "(logs:*)"),
        ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "(ssmmessages:*)"),
        ("arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess", None),  # all of a service that only reads
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", None),
        ("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", None),
        ("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", None),
        ("arn:aws:iam::aws:policy/x7q-NotYetPublishedPolicy", "not in the pack's snapshot"),
        ("arn:aws:iam::444444444444:policy/AdministratorAccess", None),  # customer-managed: judged by content
    ],
)
def test_managed_policies_are_known_by_what_they_grant(arn: str, grants: str | None) -> None:
    found = managed_policy_grant(arn)
    assert (found is None) if grants is None else (grants.lower() in (found or "").lower())
