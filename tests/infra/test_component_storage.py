"""SecureBucket and ArtifactStore, each declared alone with hand-made args (no stack file involved)."""

from __future__ import annotations

import pytest
from declare import ACCOUNT, KEY_ARN, NAMING, PARTITION, REGION, declare
from planned import children_of, depends_on, of_type, one, policy_of

from infra.components.artifact_store import ArtifactStore, ArtifactStoreArgs
from infra.components.secure_bucket import LifecycleSettings, SecureBucket, SecureBucketArgs
from infra.plan.model import PlanResult

BUCKET = "aws:s3/bucket:Bucket"
ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
READER = "222222222222"


def secure_bucket(**args: object) -> PlanResult:
    return declare(lambda: SecureBucket("logs", SecureBucketArgs(
        **{"bucket_name": "mlops-test-logs", "kms_key_arn": KEY_ARN, **args})))


def companion(plan: PlanResult, type_: str, bucket_name: str) -> object:
    """The one companion resource of `type_` that configures the bucket named `bucket_name`."""
    bucket = next(b for b in of_type(plan, BUCKET) if b.inputs["bucket"] == bucket_name)
    (found,) = [r for r in of_type(plan, type_) if bucket.urn in r.property_dependencies.get("bucket", ())]
    return found


@pytest.fixture(scope="module")
def bucket_plan() -> PlanResult:
    return secure_bucket()


# -- SecureBucket ----------------------------------------------------------------------------------------------
def test_secure_bucket_declares_every_companion_inside_the_component(bucket_plan: PlanResult) -> None:
    component = one(bucket_plan, "mlops:storage:SecureBucket", "logs")
    assert sorted(r.type for r in children_of(bucket_plan, component)) == sorted(
        [BUCKET, ACCESS_BLOCK, ENCRYPTION, VERSIONING, LIFECYCLE, BUCKET_POLICY, OWNERSHIP])
    assert one(bucket_plan, BUCKET).inputs["bucket"] == "mlops-test-logs"


def test_secure_bucket_blocks_every_kind_of_public_access(bucket_plan: PlanResult) -> None:
    block = companion(bucket_plan, ACCESS_BLOCK, "mlops-test-logs")
    assert {k: block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                         "restrictPublicBuckets")} == dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
    ownership = companion(bucket_plan, OWNERSHIP, "mlops-test-logs")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}  # no ACLs at all


def test_secure_bucket_encrypts_with_the_given_customer_managed_key(bucket_plan: PlanResult) -> None:
    (rule,) = companion(bucket_plan, ENCRYPTION, "mlops-test-logs").inputs["rules"]
    assert rule == {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN},
                    "bucketKeyEnabled": True}


def test_secure_bucket_is_versioned(bucket_plan: PlanResult) -> None:
    assert companion(bucket_plan, VERSIONING, "mlops-test-logs").inputs["versioningConfiguration"] == {
        "status": "Enabled"}


def test_secure_bucket_policy_denies_plain_http_first_and_waits_for_the_access_block(bucket_plan: PlanResult) -> None:
    policy = companion(bucket_plan, BUCKET_POLICY, "mlops-test-logs")
    (deny,) = policy_of(policy)["Statement"]
    assert deny == {
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::mlops-test-logs", "arn:aws:s3:::mlops-test-logs/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert depends_on(policy, companion(bucket_plan, ACCESS_BLOCK, "mlops-test-logs"))


def test_secure_bucket_default_lifecycle_expires_old_versions_and_aborted_uploads(bucket_plan: PlanResult) -> None:
    (rule,) = companion(bucket_plan, LIFECYCLE, "mlops-test-logs").inputs["rules"]
    assert rule == {
        "id": "retention", "status": "Enabled", "filter": {"prefix": ""},
        "noncurrentVersionExpiration": {"noncurrentDays": 90},
        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
    }


def test_secure_bucket_lifecycle_tiers_and_expires_when_asked() -> None:
    plan = secure_bucket(lifecycle=LifecycleSettings(noncurrent_version_expiration_days=30,
                                                     current_version_expiration_days=60,
                                                     infrequent_access_after_days=10))
    (rule,) = companion(plan, LIFECYCLE, "mlops-test-logs").inputs["rules"]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rule["expiration"] == {"days": 60}
    assert rule["transitions"] == [{"days": 10, "storageClass": "STANDARD_IA"}]


def test_secure_bucket_appends_extra_statements_after_the_tls_deny() -> None:
    extra = {"Sid": "ReadersRead", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{READER}:root"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mlops-test-logs/*"}
    statements = policy_of(companion(secure_bucket(extra_policy_statements=[extra]), BUCKET_POLICY,
                                     "mlops-test-logs"))["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport", "ReadersRead"]
    assert statements[1] == extra


# -- ArtifactStore ---------------------------------------------------------------------------------------------
def artifact_store(readers: list[str]) -> PlanResult:
    return declare(lambda: ArtifactStore("store", ArtifactStoreArgs(naming=NAMING, account_id=ACCOUNT,
                                                                    partition=PARTITION, region=REGION,
                                                                    reader_account_ids=readers)))


@pytest.fixture(scope="module")
def store_plan() -> PlanResult:
    return artifact_store([READER])


def test_artifact_store_makes_three_secure_buckets_named_per_account_under_one_key(store_plan: PlanResult) -> None:
    key_arn = one(store_plan, "aws:kms/key:Key").outputs["arn"]
    names = [f"mlops-test-{role}-{ACCOUNT}" for role in ("data", "artifacts", "capture")]
    assert sorted(b.inputs["bucket"] for b in of_type(store_plan, BUCKET)) == sorted(names)
    assert len(of_type(store_plan, "mlops:storage:SecureBucket")) == 3
    for name in names:
        (rule,) = companion(store_plan, ENCRYPTION, name).inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
        assert companion(store_plan, VERSIONING, name).inputs["versioningConfiguration"] == {"status": "Enabled"}
        assert policy_of(companion(store_plan, BUCKET_POLICY, name))["Statement"][0]["Sid"] == "DenyInsecureTransport"


def test_artifact_store_key_rotates_and_has_the_stack_alias(store_plan: PlanResult) -> None:
    key = one(store_plan, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    alias = one(store_plan, "aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/mlops-test"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


def test_artifact_store_lifecycles_differ_by_what_the_bucket_holds(store_plan: PlanResult) -> None:
    def rule(role: str) -> dict:
        (found,) = companion(store_plan, LIFECYCLE, f"mlops-test-{role}-{ACCOUNT}").inputs["rules"]
        return found

    assert rule("data")["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert rule("artifacts")["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}]
    assert rule("artifacts")["noncurrentVersionExpiration"] == {"noncurrentDays": 365}
    assert rule("capture")["expiration"] == {"days": 90}
    assert rule("capture")["noncurrentVersionExpiration"] == {"noncurrentDays": 7}


def test_artifact_store_grants_readers_model_reads_capture_writes_and_key_use_via_services(
        store_plan: PlanResult) -> None:
    principal = {"AWS": [f"arn:aws:iam::{READER}:root"]}

    def extra(role: str) -> list[dict]:
        return policy_of(companion(store_plan, BUCKET_POLICY, f"mlops-test-{role}-{ACCOUNT}"))["Statement"][1:]

    artifacts = f"arn:aws:s3:::mlops-test-artifacts-{ACCOUNT}"
    assert extra("artifacts") == [{"Sid": "EnvironmentAccountsReadModels", "Effect": "Allow", "Principal": principal,
                                   "Action": ["s3:GetObject", "s3:ListBucket"],
                                   "Resource": [artifacts, f"{artifacts}/*"]}]
    assert extra("capture") == [{"Sid": "EnvironmentAccountsWriteCapture", "Effect": "Allow", "Principal": principal,
                                 "Action": ["s3:PutObject"],
                                 "Resource": [f"arn:aws:s3:::mlops-test-capture-{ACCOUNT}/*"]}]
    assert extra("data") == []  # training data never leaves the shared account
    readers = {s["Sid"]: s for s in policy_of(one(store_plan, "aws:kms/key:Key"))["Statement"]}[
        "EnvironmentAccountsUseKeyThroughServices"]
    assert readers["Principal"] == principal
    assert readers["Condition"] == {"StringLike": {"kms:ViaService": ["s3.*.amazonaws.com",
                                                                      "sagemaker.*.amazonaws.com"]}}


def test_artifact_store_without_readers_grants_no_other_account() -> None:
    plan = artifact_store([])
    for policy in of_type(plan, BUCKET_POLICY):
        assert [s["Sid"] for s in policy_of(policy)["Statement"]] == ["DenyInsecureTransport"]
    key_sids = [s["Sid"] for s in policy_of(one(plan, "aws:kms/key:Key"))["Statement"]]
    assert key_sids == ["AccountAdministersKey", "EventBridgePublishesEncrypted"]
