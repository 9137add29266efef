"""The offline evaluator decides like AWS on the cases the IAM tests rely on."""

from __future__ import annotations

import pytest
from iam_eval import granted_actions, is_allowed


def document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_BUCKETS = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data.example/*"}


def test_actions_match_case_insensitively_and_resources_literally_but_for_wildcards() -> None:
    docs = [document(ALLOW_BUCKETS, {"Effect": "Allow", "Action": "kms:Decrypt",
                                     "Resource": "arn:aws:kms:us-east-1:1:key/ab?d"})]
    assert is_allowed(docs, "S3:getobject", "arn:aws:s3:::data.example/a/b")
    assert not is_allowed(docs, "s3:GetObject", "arn:aws:s3:::dataXexample/a")  # '.' is not a regex dot
    assert not is_allowed(docs, "s3:PutObject", "arn:aws:s3:::data.example/a")
    assert is_allowed(docs, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/abcd")
    assert not is_allowed(docs, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/abd")  # '?' is one character


def test_an_explicit_deny_wins() -> None:
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert not is_allowed([document(ALLOW_BUCKETS), document(deny)], "s3:GetObject", "arn:aws:s3:::data.example/a")


def test_conditions_fail_on_a_missing_key_and_hold_only_when_every_block_holds() -> None:
    statement = {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:ResourceTag/stack": ["dev", "prod"]},
                               "Bool": {"kms:GrantIsForAWSResource": "true"}}}
    docs = [document(statement)]
    assert is_allowed(docs, "kms:CreateGrant", "*", {"aws:ResourceTag/stack": "prod",
                                                     "kms:GrantIsForAWSResource": "true"})
    assert not is_allowed(docs, "kms:CreateGrant", "*", {"aws:ResourceTag/stack": "prod"})
    assert not is_allowed(docs, "kms:CreateGrant", "*", {"aws:ResourceTag/stack": "qa",
                                                         "kms:GrantIsForAWSResource": "true"})
    like = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*",
            "Condition": {"StringLike": {"s3:prefix": ["churn/*"]}}}
    assert is_allowed([document(like)], "s3:ListBucket", "*", {"s3:prefix": "churn/raw/"})
    assert not is_allowed([document(like)], "s3:ListBucket", "*", {"s3:prefix": "fraud/raw/"})


def test_what_it_cannot_judge_is_an_error_not_a_pass() -> None:
    unknown = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
               "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    with pytest.raises(ValueError, match="IpAddress"):
        is_allowed([document(unknown)], "s3:GetObject", "*", {"aws:SourceIp": "10.0.0.1"})
    with pytest.raises(ValueError, match="NotResource"):
        is_allowed([document({"Effect": "Allow", "Action": "s3:*", "NotResource": "x"})], "s3:GetObject", "*")


def test_granted_actions_expand_wildcards_through_the_action_database() -> None:
    granted = granted_actions([document({"Effect": "Allow", "Action": "s3:GetBucket*", "Resource": "*"})])
    assert {"s3:getbucketpolicy", "s3:getbuckettagging"} <= granted
    assert "s3:getobject" not in granted
