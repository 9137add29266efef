"""Edge cases of the S3, KMS and ECR rules: pairing, unknown values, AWS-managed keys, exemptions."""

from __future__ import annotations

import json

from policy_factory import UNKNOWN, PlanBuilder, ecr_repository, kms_key, of, run, secure_bucket


def test_bucket_without_any_companion_fails_every_s3_rule() -> None:
    b = PlanBuilder()
    b.add("aws:s3/bucket:Bucket", "naked", {"bucket": "naked"}, protect=True)
    violations = run(b.plan())
    for rule in ("s3-public-access-blocked", "s3-sse-kms-cmk", "s3-versioning-enabled", "s3-tls-only"):
        found = of(violations, rule)
        assert len(found) == 1 and found[0].resource_name == "naked", rule


def test_companions_pair_by_known_bucket_name_without_dependencies() -> None:
    b = PlanBuilder()
    parts = secure_bucket(b, unknown_id=False)
    for key in ("block", "sse", "versioning", "policy"):
        b.replace(parts[key], property_dependencies={}, dependencies=())
    assert run(b.plan()) == []


def test_companion_of_another_bucket_does_not_count() -> None:
    b = PlanBuilder()
    first = secure_bucket(b, "first")
    other = b.add("aws:s3/bucket:Bucket", "second", {"bucket": "second"}, protect=True)
    violations = of(run(b.plan()), "s3-public-access-blocked")
    assert [v.resource_name for v in violations] == ["second"]
    assert first["block"].property_dependencies["bucket"] == (first["bucket"].urn,)
    assert other.urn not in first["block"].dependencies


def test_unknown_public_access_flags_are_not_violations() -> None:
    b = PlanBuilder()
    parts = secure_bucket(b)
    b.replace(parts["block"], inputs={**parts["block"].inputs, "blockPublicAcls": UNKNOWN})
    assert run(b.plan()) == []


def test_aws_managed_key_and_missing_key_are_violations() -> None:
    for key_id, expected in (("alias/aws/s3", "AWS-managed key"), (None, "kmsMasterKeyId is not set")):
        b = PlanBuilder()
        parts = secure_bucket(b)
        default = {"sseAlgorithm": "aws:kms", **({"kmsMasterKeyId": key_id} if key_id else {})}
        b.replace(
            parts["sse"],
            inputs={**parts["sse"].inputs, "rules": [{"applyServerSideEncryptionByDefault": default}]},
        )
        messages = [v.message for v in of(run(b.plan()), "s3-sse-kms-cmk")]
        assert len(messages) == 1 and expected in messages[0]


def test_unknown_kms_key_id_is_not_a_violation() -> None:
    b = PlanBuilder()
    parts = secure_bucket(b)
    rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": UNKNOWN}}]
    b.replace(parts["sse"], inputs={**parts["sse"].inputs, "rules": rules})
    assert run(b.plan()) == []


def test_v2_companion_types_are_accepted() -> None:
    b = PlanBuilder()
    parts = secure_bucket(b)
    b.replace(parts["versioning"], type="aws:s3/bucketVersioningV2:BucketVersioningV2")
    b.replace(
        parts["sse"],
        type="aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    )
    assert run(b.plan()) == []


def test_bucket_policy_without_tls_denial_and_unknown_policy() -> None:
    b = PlanBuilder()
    parts = secure_bucket(b)
    allow_only = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::1:root"},
                    "Action": "s3:GetObject",
                    "Resource": "*",
                }
            ]
        }
    )
    b.replace(parts["policy"], inputs={**parts["policy"].inputs, "policy": allow_only})
    assert "aws:SecureTransport is false" in of(run(b.plan()), "s3-tls-only")[0].message

    b = PlanBuilder()
    parts = secure_bucket(b)
    b.replace(parts["policy"], inputs={**parts["policy"].inputs, "policy": UNKNOWN})
    assert run(b.plan()) == []


def test_a_tls_version_condition_alone_is_not_tls_only() -> None:
    # Plain-HTTP requests carry no s3:TlsVersion, so NumericLessThan on it never denies them.
    b = PlanBuilder()
    parts = secure_bucket(b)
    statement = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
    }
    b.replace(
        parts["policy"], inputs={**parts["policy"].inputs, "policy": json.dumps({"Statement": [statement]})}
    )
    assert "aws:SecureTransport is false" in of(run(b.plan()), "s3-tls-only")[0].message


def test_kms_rotation_exemptions_and_period() -> None:
    b = PlanBuilder()
    kms_key(b, "signing", enableKeyRotation=False, keyUsage="SIGN_VERIFY", customerMasterKeySpec="RSA_2048")
    kms_key(b, "unknown", enableKeyRotation=UNKNOWN)
    assert run(b.plan()) == []

    b = PlanBuilder()
    kms_key(b, "slow", rotationPeriodInDays=730)
    messages = [v.message for v in of(run(b.plan()), "kms-key-rotation")]
    assert messages == ["KMS key 'slow' rotates every 730 days; the limit is 365 days"]
    assert (
        of(run(b.plan(), overrides={"kms-key-rotation": {"maxRotationPeriodDays": 730}}), "kms-key-rotation")
        == []
    )


def test_ecr_defaults_are_violations() -> None:
    b = PlanBuilder()
    b.add("aws:ecr/repository:Repository", "bare", {"name": "bare"}, protect=True)
    violations = run(b.plan())
    assert "MUTABLE (the default)" in of(violations, "ecr-immutable-tags")[0].message
    assert "no encryptionConfigurations" in of(violations, "ecr-kms-encryption")[0].message
    assert of(violations, "ecr-scan-on-push")


def test_ecr_aws_managed_key_and_exclusion_knobs() -> None:
    b = PlanBuilder()
    ecr_repository(
        b, encryptionConfigurations=[{"encryptionType": "KMS"}], imageTagMutability="IMMUTABLE_WITH_EXCLUSION"
    )
    violations = run(b.plan())
    assert "AWS-managed key" in of(violations, "ecr-kms-encryption")[0].message
    assert of(violations, "ecr-immutable-tags")
    relaxed = run(
        b.plan(),
        overrides={
            "ecr-kms-encryption": {"requireCustomerManagedKey": False},
            "ecr-immutable-tags": {"allowExclusionFilters": True},
        },
    )
    assert relaxed == []
