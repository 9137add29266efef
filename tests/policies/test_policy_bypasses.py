"""Hostile inputs: each spelling of a forbidden setup that once passed prod fails now, and its honest twin passes.

Families (issue 9, section 1): admin through attachments, wildcards in disguise, trust, S3, KMS, SageMaker.
Each case is a plan that must give a mandatory violation of the named rule in prod; each compliant twin
must give none of that rule. The property-based tests at the end generate equivalent spellings of the
same forbidden policy and demand that every one of them fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_factory import (
    ACCOUNT,
    REPOSITORY,
    PlanBuilder,
    endpoint_stack,
    kms_key,
    of,
    policy_json,
    run,
    secure_bucket,
)

GITHUB = "token.actions.githubusercontent.com"
OIDC_PRINCIPAL = {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"}
BUCKET = "mlops-artifacts-prod"
PINNED = {"iam-github-oidc-trust-pinned": {"allowedRepositories": [REPOSITORY]}}

Build = Callable[[PlanBuilder], Any]


@dataclass(frozen=True)
class Hostile:
    family: str
    name: str
    rule: str
    build: Build
    expect: str = ""


def _role_policy(statement: dict[str, Any] | list[dict[str, Any]], kind: str = "rolePolicy") -> Build:
    statements = statement if isinstance(statement, list) else [statement]
    types = {
        "rolePolicy": ("aws:iam/rolePolicy:RolePolicy", {"role": "worker"}),
        "policy": ("aws:iam/policy:Policy", {}),
        "userPolicy": ("aws:iam/userPolicy:UserPolicy", {"user": "u"}),
        "groupPolicy": ("aws:iam/groupPolicy:GroupPolicy", {"group": "g"}),
    }

    def build(b: PlanBuilder) -> None:
        type_, extra = types[kind]
        b.add(type_, "worker-access", {**extra, "policy": policy_json(*statements)})

    return build


def _attachment(type_: str, prop: str, value: Any) -> Build:
    return lambda b: b.add(type_, "attach", {prop: value, "role": "worker"})


def _trust(statement: dict[str, Any], *, allowed_accounts: list[str] | None = None) -> Build:
    def build(b: PlanBuilder) -> None:
        if allowed_accounts is not None:
            inputs = {**b.provider.inputs, "allowedAccountIds": json.dumps(allowed_accounts)}
            b.provider = b.replace(b.provider, inputs=inputs)
        b.add("aws:iam/role:Role", "deployer", {"assumeRolePolicy": policy_json(statement)})

    return build


def _github(conditions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": OIDC_PRINCIPAL,
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": conditions,
        **extra,
    }


def _aud(operator: str = "StringEquals") -> dict[str, Any]:
    return {operator: {f"{GITHUB}:aud": "sts.amazonaws.com"}}


def _tls_deny(**changes: Any) -> dict[str, Any]:
    statement = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    statement.update(changes)
    return {k: v for k, v in statement.items() if v is not None}


def _bucket_policy(*statements: dict[str, Any]) -> Build:
    def build(b: PlanBuilder) -> None:
        parts = secure_bucket(b)
        b.replace(parts["policy"], inputs={**parts["policy"].inputs, "policy": policy_json(*statements)})

    return build


def _second_policy(first_compliant: bool) -> Build:
    def build(b: PlanBuilder) -> None:
        parts = secure_bucket(b)
        open_policy = policy_json({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                   "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"})
        if not first_compliant:
            b.replace(parts["policy"], inputs={**parts["policy"].inputs, "policy": open_policy})
            open_policy = policy_json(_tls_deny())
        b.add(
            "aws:s3/bucketPolicy:BucketPolicy",
            "artifacts-extra",
            {"bucket": parts["policy"].inputs["bucket"], "policy": open_policy},
            deps={"bucket": [parts["bucket"]]},
        )

    return build


def _acl(**inputs: Any) -> Build:
    def build(b: PlanBuilder) -> None:
        parts = secure_bucket(b)
        b.add("aws:s3/bucketAclV2:BucketAclV2", "artifacts", {"bucket": BUCKET, **inputs},
              deps={"bucket": [parts["bucket"]]})

    return build


def _key_policy(statement: dict[str, Any], type_: str = "aws:kms/key:Key") -> Build:
    if type_ == "aws:kms/key:Key":
        return lambda b: kms_key(b, policy=policy_json(statement))
    return lambda b: b.add(type_, "key-policy", {"keyId": "k", "policy": policy_json(statement)})


def _endpoint(change: Callable[[PlanBuilder, dict[str, Any]], Any] | None = None, **kwargs: Any) -> Build:
    def build(b: PlanBuilder) -> None:
        parts = endpoint_stack(b, **kwargs)
        if change is not None:
            change(b, parts)

    return build


def _config_inputs(**changes: Any) -> Callable[[PlanBuilder, dict[str, Any]], Any]:
    def change(b: PlanBuilder, parts: dict[str, Any]) -> None:
        config = parts["config"]
        inputs = dict(config.inputs)
        for key, value in changes.items():
            if key.startswith("capture_"):
                inputs["dataCaptureConfig"] = {**inputs["dataCaptureConfig"], key.removeprefix("capture_"): value}
            else:
                inputs[key] = value
        b.replace(config, inputs=inputs)

    return change


def _rollout(kind: str, step: dict[str, Any], alarms: list[str] | None = None) -> dict[str, Any]:
    field = "canarySize" if kind == "CANARY" else "linearStepSize"
    return {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": kind, field: step}},
        "autoRollbackConfiguration": {"alarms": [{"alarmName": a} for a in (alarms or ["churn-5xx"])]},
    }


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"

HOSTILE = [
    # --- admin through attachments ---------------------------------------------------------------------
    Hostile("attachments", "RolePolicyAttachment AdministratorAccess", "iam-no-admin-managed-policy",
            _attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "policyArn", ADMIN),
            "every action ('*') on every resource"),
    Hostile("attachments", "UserPolicyAttachment PowerUserAccess", "iam-no-admin-managed-policy",
            _attachment("aws:iam/userPolicyAttachment:UserPolicyAttachment", "policyArn",
                        "arn:aws:iam::aws:policy/PowerUserAccess"), "NotAction with Allow"),
    Hostile("attachments", "GroupPolicyAttachment IAMFullAccess", "iam-no-admin-managed-policy",
            _attachment("aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "policyArn",
                        "arn:aws:iam::aws:policy/IAMFullAccess"), "(iam:*)"),
    Hostile("attachments", "Role managedPolicyArns", "iam-no-admin-managed-policy",
            lambda b: b.add("aws:iam/role:Role", "worker", {"managedPolicyArns": [
                "arn:aws:iam::aws:policy/ReadOnlyAccess", ADMIN]}), "AdministratorAccess"),
    Hostile("attachments", "PolicyAttachment AmazonS3FullAccess", "iam-no-admin-managed-policy",
            _attachment("aws:iam/policyAttachment:PolicyAttachment", "policyArn",
                        "arn:aws:iam::aws:policy/AmazonS3FullAccess"), "(s3:*)"),
    Hostile("attachments", "RolePolicyAttachmentsExclusive job-function admin", "iam-no-admin-managed-policy",
            _attachment("aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive", "policyArns",
                        ["arn:aws:iam::aws:policy/job-function/SystemAdministrator"]), "every action of a service"),
    Hostile("attachments", "AdministratorAccess in another partition", "iam-no-admin-managed-policy",
            _attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "policyArn",
                        "arn:aws-us-gov:iam::aws:policy/AdministratorAccess"), "every action ('*')"),
    Hostile("attachments", "IAM user access key", "iam-no-user-access-keys",
            lambda b: b.add("aws:iam/accessKey:AccessKey", "ci", {"user": "ci"}), "long-lived credential"),
    # --- wildcards in disguise -------------------------------------------------------------------------
    Hostile("wildcards", "NotAction with Allow", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}), "NotAction with Allow"),
    Hostile("wildcards", "NotAction with Allow on one bucket", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "NotAction": ["s3:DeleteBucket"], "Resource": "arn:aws:s3:::b"}),
            "NotAction"),
    Hostile("wildcards", "* with NotResource", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::b"}), "every action"),
    Hostile("wildcards", "Resource arn:*:*:*:*:*", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "*", "Resource": "arn:*:*:*:*:*"}), "every action"),
    Hostile("wildcards", "Action *:* in a policy", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": ["*:*"], "Resource": ["*"]}, "policy"), "every action"),
    Hostile("wildcards", "service-wide s3:* on *", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}), "s3:*"),
    Hostile("wildcards", "service-wide S3:* on every bucket", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "S3:*", "Resource": "arn:aws:s3:::*"}, "userPolicy"),
            "s3:*"),
    Hostile("wildcards", "service-wide iam:* on every IAM resource", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::*:*"}, "groupPolicy"),
            "iam:*"),
    Hostile("wildcards", "service-wide s3:* on the shared buckets", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::mlops-shared-*/*"}),
            "on resources a wildcard shares"),
    Hostile("wildcards", "service-wide sagemaker:* in any account", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "sagemaker:*",
                          "Resource": "arn:aws:sagemaker:us-east-1:*:endpoint/churn"}), "sagemaker:*"),
    Hostile("wildcards", "service-wide iam:* on one role", "iam-no-admin-wildcard",
            _role_policy({"Effect": "Allow", "Action": "IAM:*", "Resource": f"arn:aws:iam::{ACCOUNT}:role/worker"}),
            "controls identities"),
    Hostile("wildcards", "PassRole on arn:*:iam::*:role/*", "iam-no-passrole-wildcard",
            _role_policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:*:iam::*:role/*"}),
            "iam:PassRole"),
    Hostile("wildcards", "PassRole on a bare role* prefix", "iam-no-passrole-wildcard",
            _role_policy({"Effect": "Allow", "Action": "iam:PassRole",
                          "Resource": f"arn:aws:iam::{ACCOUNT}:role*"}), "iam:PassRole"),
    Hostile("wildcards", "PassRole with NotResource", "iam-no-passrole-wildcard",
            _role_policy({"Effect": "Allow", "Action": "iam:PassRole",
                          "NotResource": f"arn:aws:iam::{ACCOUNT}:role/admin"}), "NotResource"),
    Hostile("wildcards", "PassRole spelled iam:P?ssRole", "iam-no-passrole-wildcard",
            _role_policy({"Effect": "Allow", "Action": "iam:P?ssRole", "Resource": "*"}), "iam:PassRole"),
    Hostile("wildcards", "PassRole through NotAction", "iam-no-passrole-wildcard",
            _role_policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"}),
            "iam:PassRole"),
    # --- trust -----------------------------------------------------------------------------------------
    Hostile("trust", "Principal AWS *", "iam-trust-restricted",
            _trust({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}), "any AWS principal"),
    Hostile("trust", "Principal AWS [*]", "iam-trust-restricted",
            _trust({"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]},
                    "Action": "sts:AssumeRole"}), "any AWS principal"),
    Hostile("trust", "Principal *", "iam-trust-restricted",
            _trust({"Effect": "Allow", "Principal": "*", "Action": ["STS:AssumeRole"]}), "any AWS principal"),
    Hostile("trust", "account wildcard", "iam-trust-restricted",
            _trust({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "sts:AssumeRole"}),
            "any AWS principal"),
    Hostile("trust", "NotPrincipal with Allow", "iam-trust-restricted",
            _trust({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole"}), "NotPrincipal"),
    Hostile("trust", "an account the stack does not list", "iam-trust-restricted",
            _trust({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:role/x"},
                    "Action": "sts:AssumeRole"}, allowed_accounts=[ACCOUNT]), "999999999999"),
    Hostile("trust", "sub under StringNotEquals", "iam-github-oidc-trust-pinned",
            _trust(_github({**_aud(), "StringNotEquals": {f"{GITHUB}:sub": "repo:evil/x:ref:refs/heads/main"}})),
            "not a positive match"),
    Hostile("trust", "sub under StringLikeIfExists", "iam-github-oidc-trust-pinned",
            _trust(_github({**_aud(), "StringLikeIfExists": {f"{GITHUB}:sub": f"repo:{REPOSITORY}:*"}})),
            "not a positive match"),
    Hostile("trust", "sub under ForAnyValue:StringLike", "iam-github-oidc-trust-pinned",
            _trust(_github({**_aud(), "ForAnyValue:StringLike": {f"{GITHUB}:sub": f"repo:{REPOSITORY}:*"}})),
            "not a positive match"),
    Hostile("trust", "? wildcard in the repository", "iam-github-oidc-trust-pinned",
            _trust(_github({**_aud(), "StringLike": {f"{GITHUB}:sub": "repo:acme/mlops-platfor?:*"}})),
            "wildcard in the owner or repository"),
    Hostile("trust", "* wildcard in the repository, key in another case", "iam-github-oidc-trust-pinned",
            _trust(_github({**_aud(), "StringLike": {f"{GITHUB}:SUB": "repo:acme/mlops-*:*"}})),
            "wildcard in the owner or repository"),
    Hostile("trust", "aud under StringEqualsIfExists", "iam-github-oidc-trust-pinned",
            _trust(_github({**_aud("StringEqualsIfExists"),
                            "StringEquals": {f"{GITHUB}:sub": f"repo:{REPOSITORY}:ref:refs/heads/main"}})),
            "must require StringEquals"),
    Hostile("trust", "aud under StringLike *", "iam-github-oidc-trust-pinned",
            _trust(_github({"StringLike": {f"{GITHUB}:aud": "*"},
                            "StringEquals": {f"{GITHUB}:sub": f"repo:{REPOSITORY}:ref:refs/heads/main"}})),
            "must require StringEquals"),
    Hostile("trust", "web identity through NotAction, no sub", "iam-github-oidc-trust-pinned",
            _trust({"Effect": "Allow", "Principal": OIDC_PRINCIPAL, "NotAction": "sts:AssumeRole",
                    "Condition": _aud()}), "does not restrict"),
    # --- S3 --------------------------------------------------------------------------------------------
    Hostile("s3", "TLS deny on another bucket", "s3-tls-only",
            _bucket_policy(_tls_deny(Resource=["arn:aws:s3:::other", "arn:aws:s3:::other/*"])), "SecureTransport"),
    Hostile("s3", "TLS deny narrowed by an extra condition", "s3-tls-only",
            _bucket_policy(_tls_deny(Condition={"Bool": {"aws:SecureTransport": "false"},
                                                "StringEquals": {"aws:PrincipalAccount": ACCOUNT}})),
            "SecureTransport"),
    Hostile("s3", "TLS deny on s3:TlsVersion only", "s3-tls-only",
            _bucket_policy(_tls_deny(Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}})), "SecureTransport"),
    Hostile("s3", "TLS deny of some actions only", "s3-tls-only",
            _bucket_policy(_tls_deny(Action=["s3:GetObject", "s3:PutObject"])), "SecureTransport"),
    Hostile("s3", "TLS deny with NotAction", "s3-tls-only",
            _bucket_policy(_tls_deny(Action=None, NotAction="s3:GetObject")), "SecureTransport"),
    Hostile("s3", "TLS deny on the objects only", "s3-tls-only",
            _bucket_policy(_tls_deny(Resource=f"arn:aws:s3:::{BUCKET}/*")), "SecureTransport"),
    Hostile("s3", "second policy beside a compliant one", "s3-tls-only", _second_policy(True), "2 bucket policies"),
    Hostile("s3", "compliant policy declared after another", "s3-tls-only", _second_policy(False),
            "2 bucket policies"),
    Hostile("s3", "bucket's own policy input beside a compliant BucketPolicy", "s3-tls-only",
            lambda b: b.replace((parts := secure_bucket(b))["bucket"], inputs={
                **parts["bucket"].inputs, "policy": policy_json({"Effect": "Allow", "Principal": "*",
                                                                 "Action": "s3:GetObject", "Resource": "*"})}),
            "2 bucket policies"),
    Hostile("s3", "Allow to Principal AWS [*]", "s3-public-access-blocked",
            _bucket_policy(_tls_deny(), {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject",
                                         "Resource": f"arn:aws:s3:::{BUCKET}/*"}), "allows everyone"),
    Hostile("s3", "public-read canned ACL", "s3-public-access-blocked", _acl(acl="public-read"), "public-read"),
    Hostile("s3", "ACL grant to AllUsers", "s3-public-access-blocked",
            _acl(accessControlPolicy={"grants": [{"permission": "READ", "grantee": {
                "type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}}],
                "owner": {"id": "o"}}), "AllUsers"),
    # --- KMS -------------------------------------------------------------------------------------------
    Hostile("kms", "key policy kms:* to *", "kms-key-policy-restricted",
            _key_policy({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}), "kms:*"),
    Hostile("kms", "KeyPolicy KMS:* to AWS [*]", "kms-key-policy-restricted",
            _key_policy({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["KMS:*"], "Resource": "*"},
                        "aws:kms/keyPolicy:KeyPolicy"), "kms:*"),
    Hostile("kms", "kms:Decrypt to * without an account pin", "kms-key-policy-restricted",
            _key_policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
                         "Condition": {"StringNotEquals": {"kms:CallerAccount": "999999999999"}}}),
            "without a condition"),
    Hostile("kms", "ExternalKey", "kms-key-rotation",
            lambda b: b.add("aws:kms/externalKey:ExternalKey", "imported", {"description": "x"}), "never rotates"),
    Hostile("kms", "ReplicaExternalKey", "kms-key-rotation",
            lambda b: b.add("aws:kms/replicaExternalKey:ReplicaExternalKey", "imported", {"description": "x"}),
            "never rotates"),
    Hostile("kms", "customKeyStoreId skips rotation", "kms-key-rotation",
            lambda b: kms_key(b, customKeyStoreId="cks-1234", enableKeyRotation=False), "custom key store"),
    # --- SageMaker -------------------------------------------------------------------------------------
    Hostile("sagemaker", "alias/aws/sagemaker for volumes", "sagemaker-endpoint-kms",
            _endpoint(_config_inputs(kmsKeyArn="alias/aws/sagemaker")), "AWS-managed key"),
    Hostile("sagemaker", "AWS-managed key by alias ARN", "sagemaker-endpoint-kms",
            _endpoint(_config_inputs(kmsKeyArn=f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/sagemaker")),
            "AWS-managed key"),
    Hostile("sagemaker", "AWS-managed key for async output", "sagemaker-endpoint-kms",
            _endpoint(_config_inputs(asyncInferenceConfig={"outputConfig": {"s3OutputPath": "s3://b/o",
                                                                            "kmsKeyId": "alias/aws/s3"}})),
            "AWS-managed key"),
    Hostile("sagemaker", "AWS-managed key for capture", "sagemaker-data-capture",
            _endpoint(_config_inputs(capture_kmsKeyId="alias/aws/s3")), "AWS-managed key"),
    Hostile("sagemaker", "capture of the output only", "sagemaker-data-capture",
            _endpoint(_config_inputs(capture_captureOptions=[{"captureMode": "Output"}])), "requires Input"),
    Hostile("sagemaker", "canary of 100 %", "sagemaker-endpoint-safe-deployment",
            _endpoint(deployment=_rollout("CANARY", {"type": "CAPACITY_PERCENT", "value": 100})), "all-at-once"),
    Hostile("sagemaker", "linear of 100 %", "sagemaker-endpoint-safe-deployment",
            _endpoint(deployment=_rollout("LINEAR", {"type": "CAPACITY_PERCENT", "value": 100})), "all-at-once"),
    Hostile("sagemaker", "canary of the whole fleet by instance count", "sagemaker-endpoint-safe-deployment",
            _endpoint(deployment=_rollout("CANARY", {"type": "INSTANCE_COUNT", "value": 2})), "whole fleet"),
    Hostile("sagemaker", "linear step beyond the fleet", "sagemaker-endpoint-safe-deployment",
            _endpoint(deployment=_rollout("LINEAR", {"type": "INSTANCE_COUNT", "value": 5})), "whole fleet"),
    Hostile("sagemaker", "canary of 90 %", "sagemaker-endpoint-safe-deployment",
            _endpoint(deployment=_rollout("CANARY", {"type": "CAPACITY_PERCENT", "value": 90})), "at most 50 %"),
    Hostile("sagemaker", "whole fleet hidden behind shadow variants", "sagemaker-endpoint-safe-deployment",
            _endpoint(_config_inputs(shadowProductionVariants=[{"variantName": "shadow", "modelName": "m",
                                                                "instanceType": "ml.c5.xlarge",
                                                                "initialInstanceCount": 2}]),
                      deployment=_rollout("CANARY", {"type": "INSTANCE_COUNT", "value": 2})), "whole fleet"),
    Hostile("sagemaker", "rollback on an alarm of something else", "sagemaker-endpoint-safe-deployment",
            _endpoint(deployment=_rollout("CANARY", {"type": "CAPACITY_PERCENT", "value": 10}, ["billing-alarm"])),
            "not an alarm of this stack"),
]

COMPLIANT = [
    ("attachments", "ReadOnlyAccess attachment", "iam-no-admin-managed-policy",
     _attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "policyArn",
                 "arn:aws:iam::aws:policy/ReadOnlyAccess")),
    ("attachments", "customer-managed policy named like an AWS one", "iam-no-admin-managed-policy",
     _attachment("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "policyArn",
                 f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess")),
    ("attachments", "a user without keys", "iam-no-user-access-keys",
     lambda b: b.add("aws:iam/user:User", "u", {"name": "u"})),
    ("wildcards", "scoped S3 actions on objects", "iam-no-admin-wildcard",
     _role_policy({"Effect": "Allow", "Action": ["s3:Get*", "s3:PutObject"], "Resource": f"arn:aws:s3:::{BUCKET}/*"})),
    ("wildcards", "s3:* on the objects of one bucket", "iam-no-admin-wildcard",
     _role_policy({"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*"})),
    ("wildcards", "deny * on *", "iam-no-admin-wildcard",
     _role_policy({"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"})),
    ("wildcards", "PassRole on named roles", "iam-no-passrole-wildcard",
     _role_policy({"Effect": "Allow", "Action": "IAM:PassRole",
                   "Resource": [f"arn:aws:iam::{ACCOUNT}:role/churn-execution",
                                f"arn:aws:iam::{ACCOUNT}:role/sagemaker/churn-*"]})),
    ("trust", "service principal", "iam-trust-restricted",
     _trust({"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"})),
    ("trust", "a listed account", "iam-trust-restricted",
     _trust({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
            allowed_accounts=[ACCOUNT])),
    ("trust", "sub pinned with StringLike on the ref", "iam-github-oidc-trust-pinned",
     _trust(_github({**_aud(), "StringLike": {f"{GITHUB}:sub": f"repo:{REPOSITORY}:*"}}))),
    ("trust", "positive sub pin narrowed by a StringNotEquals", "iam-github-oidc-trust-pinned",
     _trust(_github({**_aud(), "StringLike": {f"{GITHUB}:sub": f"repo:{REPOSITORY}:*"},
                     "StringNotEquals": {f"{GITHUB}:sub": "repo:evil/x:pull_request"}}))),
    ("s3", "TLS deny spelled differently", "s3-tls-only",
     _bucket_policy(_tls_deny(Principal={"AWS": ["*"]}, Action=["S3:*"], Resource=f"arn:aws:s3:::{BUCKET}*",
                              Condition={"BoolIfExists": {"aws:SecureTransport": False}}))),
    ("s3", "public Allow pinned to the organization", "s3-public-access-blocked",
     _bucket_policy(_tls_deny(), {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                  "Resource": f"arn:aws:s3:::{BUCKET}/*",
                                  "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})),
    ("s3", "private canned ACL", "s3-public-access-blocked", _acl(acl="private")),
    ("kms", "public principal pinned to the caller account", "kms-key-policy-restricted",
     _key_policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt"], "Resource": "*",
                  "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT,
                                                 "kms:ViaService": "s3.amazonaws.com"}}})),
    ("kms", "rotating key", "kms-key-rotation", lambda b: kms_key(b)),
    ("sagemaker", "capture InputAndOutput", "sagemaker-data-capture",
     _endpoint(_config_inputs(capture_captureOptions=[{"captureMode": "InputAndOutput"}]))),
    ("sagemaker", "canary of one instance of two", "sagemaker-endpoint-safe-deployment",
     _endpoint(deployment=_rollout("CANARY", {"type": "INSTANCE_COUNT", "value": 1}))),
    ("sagemaker", "linear of 25 % on the endpoint's own alarm", "sagemaker-endpoint-safe-deployment",
     _endpoint(deployment=_rollout("LINEAR", {"type": "CAPACITY_PERCENT", "value": 25}))),
]


def test_every_family_of_the_issue_is_covered() -> None:
    families = {h.family for h in HOSTILE}
    assert families == {"attachments", "wildcards", "trust", "s3", "kms", "sagemaker"}
    assert families == {c[0] for c in COMPLIANT}


@pytest.mark.parametrize("case", HOSTILE, ids=[f"{h.family}: {h.name}" for h in HOSTILE])
def test_hostile_input_is_a_mandatory_violation_in_prod(case: Hostile) -> None:
    b = PlanBuilder()
    case.build(b)
    found = of(run(b.plan(), overrides=PINNED), case.rule)
    assert found, f"{case.rule} let '{case.name}' pass"
    assert all(v.enforcement == "mandatory" for v in found)
    assert any(case.expect in v.message for v in found), [v.message for v in found]


@pytest.mark.parametrize("case", COMPLIANT, ids=[f"{c[0]}: {c[1]}" for c in COMPLIANT])
def test_compliant_twin_passes(case: tuple[str, str, str, Build]) -> None:
    _, _, rule, build = case
    b = PlanBuilder()
    build(b)
    assert [v.message for v in of(run(b.plan(), overrides=PINNED), rule)] == []


# --- equivalent spellings (property-based) ------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _cased(text: str) -> st.SearchStrategy[str]:
    """The same IAM action in any letter case (actions are case-insensitive)."""
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flags: "".join(c.upper() if f else c.lower() for c, f in zip(text, flags, strict=True))
    )


def _one_or_list(values: st.SearchStrategy[str], extra: list[str]) -> st.SearchStrategy[Any]:
    """A single string, or a list holding it among harmless extras, in any order."""
    extras = st.lists(st.sampled_from(extra), max_size=2) if extra else st.just([])
    return st.one_of(values, st.tuples(values, extras).flatmap(lambda t: st.permutations([t[0], *t[1]])))


_EVERY_ACTION = st.one_of(st.just("*"), st.just("*:*"), st.just("*:?*"), st.just("*?"))
_EVERY_RESOURCE = st.sampled_from(["*", "arn:*:*:*:*:*", "arn:aws:*:*:*:*", "arn:*", "*:*"])
_SCOPED_ACTIONS = ["s3:GetObject", "sagemaker:DescribeEndpoint"]
_SCOPED_RESOURCES = [f"arn:aws:s3:::{BUCKET}/*"]


@st.composite
def _admin_statement(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow"}
    if draw(st.booleans()):
        statement["Sid"] = draw(st.sampled_from(["Admin", "x", "ReadOnly"]))
    if draw(st.integers(0, 3)) == 0:
        statement["NotAction"] = draw(_one_or_list(_cased("iam:CreateUser"), []))
    else:
        statement["Action"] = draw(_one_or_list(_EVERY_ACTION, _SCOPED_ACTIONS))
    if draw(st.integers(0, 3)) == 0:
        statement["NotResource"] = draw(_one_or_list(st.just(f"arn:aws:s3:::{BUCKET}"), []))
    else:
        statement["Resource"] = draw(_one_or_list(_EVERY_RESOURCE, _SCOPED_RESOURCES))
    keys = draw(st.permutations(list(statement)))
    return {k: statement[k] for k in keys}


_CARRIERS = ["rolePolicy", "policy", "userPolicy", "groupPolicy", "inline"]


@PROPERTY_SETTINGS
@given(statement=_admin_statement(), carrier=st.sampled_from(_CARRIERS), position=st.integers(0, 2),
       single=st.booleans())
def test_every_spelling_of_admin_fails(statement: dict[str, Any], carrier: str, position: int, single: bool) -> None:
    harmless = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": _SCOPED_RESOURCES[0]}] * 2
    statements = harmless[:position] + [statement] + harmless[position:]
    document = {"Version": "2012-10-17", "Statement": statement if single else statements}
    b = PlanBuilder()
    if carrier == "inline":
        b.add("aws:iam/role:Role", "worker", {"assumeRolePolicy": policy_json(
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}),
            "inlinePolicies": [{"name": "p", "policy": json.dumps(document)}]})
    else:
        kind, extra = {
            "rolePolicy": ("aws:iam/rolePolicy:RolePolicy", {"role": "worker"}),
            "policy": ("aws:iam/policy:Policy", {}),
            "userPolicy": ("aws:iam/userPolicy:UserPolicy", {"user": "u"}),
            "groupPolicy": ("aws:iam/groupPolicy:GroupPolicy", {"group": "g"}),
        }[carrier]
        b.add(kind, "p", {**extra, "policy": json.dumps(document)})
    found = of(run(b.plan()), "iam-no-admin-wildcard")
    assert found and all(v.enforcement == "mandatory" for v in found), document


@PROPERTY_SETTINGS
@given(
    action=st.one_of(
        _cased("iam:PassRole"), st.sampled_from(["iam:Pass*", "iam:*", "*", "iam:P?ssRole", "IAM:Pass?ole"])
    ),
    resource=st.sampled_from(
        ["*", f"arn:aws:iam::{ACCOUNT}:role/*", "arn:*:iam::*:role/*", f"arn:aws:iam::{ACCOUNT}:role*",
         "arn:aws:iam::*:*", f"arn:aws:iam::{ACCOUNT}:role/?*", f"arn:aws:iam::{ACCOUNT}:*"]
    ),
    as_list=st.booleans(),
    not_resource=st.booleans(),
)
def test_every_spelling_of_pass_role_on_any_role_fails(
    action: str, resource: str, as_list: bool, not_resource: bool
) -> None:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": [action, "sagemaker:CreateModel"] if as_list else action}
    if not_resource:
        statement["NotResource"] = f"arn:aws:iam::{ACCOUNT}:role/admin"
    else:
        statement["Resource"] = [resource] if as_list else resource
    b = PlanBuilder()
    _role_policy(statement)(b)
    assert of(run(b.plan()), "iam-no-passrole-wildcard"), statement


@PROPERTY_SETTINGS
@given(
    principal=st.sampled_from(
        ["*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]},
         {"AWS": "arn:aws:iam::*:root"}, {"AWS": "arn:aws:iam::*:role/ci"}, {"AWS": " * "}]
    ),
    action=st.one_of(_cased("sts:AssumeRole"), st.sampled_from(["sts:*", "*", "sts:Assume*"])),
    as_list=st.booleans(),
)
def test_every_spelling_of_a_public_trust_fails(principal: Any, action: str, as_list: bool) -> None:
    b = PlanBuilder()
    _trust({"Effect": "Allow", "Principal": principal, "Action": [action] if as_list else action})(b)
    assert of(run(b.plan()), "iam-trust-restricted"), principal


@PROPERTY_SETTINGS
@given(
    operator=st.sampled_from(
        ["StringNotEquals", "StringNotLike", "StringLikeIfExists", "StringEqualsIfExists",
         "ForAnyValue:StringLike", "ForAllValues:StringEquals", "ForAnyValue:StringEquals"]
    ),
    key_case=_cased(f"{GITHUB}:sub"),
    subject=st.sampled_from([f"repo:{REPOSITORY}:ref:refs/heads/main", f"repo:{REPOSITORY}:*", "repo:evil/x:*"]),
)
def test_every_non_positive_spelling_of_the_sub_pin_fails(operator: str, key_case: str, subject: str) -> None:
    b = PlanBuilder()
    _trust(_github({**_aud(), operator: {key_case: subject}}))(b)
    found = of(run(b.plan(), overrides=PINNED), "iam-github-oidc-trust-pinned")
    assert found and all(v.enforcement == "mandatory" for v in found), (operator, key_case)
