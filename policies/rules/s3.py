"""S3 bucket rules.

pulumi-aws v7 configures a bucket through companion resources (public access block, encryption,
versioning, policy), each naming the bucket in its `bucket` input. A bucket rule therefore has to look at
the whole stack: these are stack rules that pair each bucket with its companions. During a preview the
bucket's id is unknown, so pairing goes first through the companion's property dependency on the bucket
(`bucket` takes its value from the bucket resource), and only then by comparing known names.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .values import as_list, dig, has_unknown, is_true, is_unknown, iter_strings, parse_json_document

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING_TYPES = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"

_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _name_of(resource: StackResource) -> str | None:
    name = resource.props.get("bucket")
    return name if isinstance(name, str) else None


def companions(stack: StackView, bucket: StackResource, *types: str) -> list[StackResource]:
    """The resources of the given types that configure `bucket` (by dependency, else by known name)."""
    names = {n for n in (bucket.props.get("bucket"), bucket.props.get("id")) if isinstance(n, str) and n}
    found = []
    for candidate in stack.of_type(*types):
        if candidate.depends_on(bucket, "bucket") or _name_of(candidate) in names:
            found.append(candidate)
    return found


def _public_access(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(*BUCKET_TYPES):
        blocks = companions(stack, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            yield (
                f"bucket '{bucket.name}' has no aws.s3.BucketPublicAccessBlock to block all public access",
                bucket.urn,
            )
            continue
        for block in blocks:
            off = [
                flag
                for flag in _BLOCK_FLAGS
                if not is_unknown(block.props.get(flag)) and not is_true(block.props.get(flag))
            ]
            if off:
                yield (
                    (
                        f"bucket '{bucket.name}': public access block '{block.name}' leaves "
                        f"{', '.join(off)} off; all four settings must be true"
                    ),
                    block.urn,
                )


def _encryption(stack: StackView) -> Iterator[tuple[str, str | None]]:
    aws_managed = ("alias/aws/", ":alias/aws/")
    for bucket in stack.of_type(*BUCKET_TYPES):
        configs = companions(stack, bucket, *SSE_TYPES)
        if not configs:
            yield (
                (
                    f"bucket '{bucket.name}' has no aws.s3.BucketServerSideEncryptionConfiguration; "
                    "default encryption must be SSE-KMS with a customer-managed key"
                ),
                bucket.urn,
            )
            continue
        for config in configs:
            rules = config.props.get("rules")
            if is_unknown(rules):
                continue
            problems = []
            for rule in as_list(rules):
                default = dig(rule, "applyServerSideEncryptionByDefault")
                if is_unknown(default):
                    continue
                algorithm = dig(default, "sseAlgorithm")
                key = dig(default, "kmsMasterKeyId")
                if not is_unknown(algorithm) and algorithm not in ("aws:kms", "aws:kms:dsse"):
                    problems.append(f"sseAlgorithm is {algorithm!r}, not 'aws:kms'")
                    continue
                if is_unknown(key):
                    continue
                if not key:
                    problems.append("kmsMasterKeyId is not set, so S3 uses the AWS-managed key aws/s3")
                elif isinstance(key, str) and any(marker in key for marker in aws_managed):
                    problems.append(f"kmsMasterKeyId {key!r} is an AWS-managed key")
            if not as_list(rules):
                problems.append("it has no rules")
            for problem in problems:
                yield (
                    f"bucket '{bucket.name}': encryption configuration '{config.name}': {problem}",
                    config.urn,
                )


def _versioning(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(*BUCKET_TYPES):
        configs = companions(stack, bucket, *VERSIONING_TYPES)
        if not configs:
            yield (f"bucket '{bucket.name}' has no aws.s3.BucketVersioning with status 'Enabled'", bucket.urn)
            continue
        for config in configs:
            status = dig(config.props, "versioningConfiguration", "status")
            if not is_unknown(status) and status != "Enabled":
                yield (
                    (
                        f"bucket '{bucket.name}': versioning '{config.name}' has status {status!r}, not "
                        "'Enabled'"
                    ),
                    config.urn,
                )


def denies_insecure_transport(document: object) -> bool:
    """Whether a bucket policy denies every S3 action to everyone when the request is not over TLS."""
    if not isinstance(document, dict):
        return False
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        if principal != "*" and not (isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))):
            continue
        if not any(action in ("s3:*", "*") for action in iter_strings(statement.get("Action"))):
            continue
        condition = statement.get("Condition") or {}
        if not isinstance(condition, dict):
            continue
        for operator in ("Bool", "BoolIfExists"):
            value = dig(condition, operator, "aws:SecureTransport")
            if any(str(v).lower() == "false" for v in as_list(value)):
                return True
        tls = dig(condition, "NumericLessThan", "s3:TlsVersion")
        if tls is not None and not is_unknown(tls):
            return True
    return False


def _tls_only(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(*BUCKET_TYPES):
        policies = companions(stack, bucket, BUCKET_POLICY)
        if not policies:
            yield (
                (
                    f"bucket '{bucket.name}' has no aws.s3.BucketPolicy; it needs one that denies requests "
                    "without TLS (aws:SecureTransport false)"
                ),
                bucket.urn,
            )
            continue
        verdicts = []
        for policy in policies:
            try:
                document = parse_json_document(policy.props.get("policy"))
            except ValueError:
                yield (f"bucket '{bucket.name}': policy '{policy.name}' is not valid JSON", policy.urn)
                verdicts.append(False)
                continue
            if has_unknown(document):
                verdicts.append(None)  # cannot be judged at preview
                continue
            verdicts.append(denies_insecure_transport(document))
        if verdicts and all(v is False for v in verdicts):
            yield (
                (
                    f"bucket '{bucket.name}': no bucket policy statement denies s3:* to all principals when "
                    "aws:SecureTransport is false"
                ),
                policies[0].urn,
            )


RULES = [
    stack_rule(
        name="s3-public-access-blocked",
        description="Every S3 bucket has a public access block with all four settings true.",
        rationale=(
            "A bucket made public by an ACL or policy leaks training data, features or models; the block "
            "makes S3 refuse public grants whatever the bucket policy later says."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Add an aws.s3.BucketPublicAccessBlock for the bucket with block_public_acls, "
            "block_public_policy, "
            "ignore_public_acls and restrict_public_buckets all set to True (infra.components.SecureBucket "
            "does this)."
        ),
        check=_public_access,
        tags=["s3", "data-protection"],
    ),
    stack_rule(
        name="s3-sse-kms-cmk",
        description="Every S3 bucket encrypts by default with SSE-KMS under a customer-managed KMS key.",
        rationale=(
            "With a customer-managed key, reading the data needs kms:Decrypt on a key this platform controls "
            "and audits (CloudTrail), and access can be revoked by key policy; the AWS-managed aws/s3 key "
            "grants every principal with S3 access."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm='aws:kms' and "
            "kms_master_key_id set to the ARN of a customer-managed aws.kms.Key (not alias/aws/s3)."
        ),
        check=_encryption,
        tags=["s3", "encryption"],
    ),
    stack_rule(
        name="s3-versioning-enabled",
        description=(
            "Every S3 bucket has versioning enabled, so overwritten or deleted objects can be recovered."
        ),
        rationale=(
            "Versions make accidental or malicious overwrites and deletions of datasets and model artifacts "
            "recoverable, and give lineage for audits."
        ),
        severity=Severity.MEDIUM,
        remediation=(
            "Add an aws.s3.BucketVersioning for the bucket with versioning_configuration.status='Enabled'."
        ),
        check=_versioning,
        tags=["s3", "resilience"],
    ),
    stack_rule(
        name="s3-tls-only",
        description="Every S3 bucket has a policy that denies any request not made over TLS.",
        rationale=(
            "Without an explicit deny, S3 accepts plain-HTTP requests; the deny keeps data and credentials "
            "encrypted in transit."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Add an aws.s3.BucketPolicy with a statement: Effect Deny, Principal '*', Action 's3:*', "
            "Resource "
            "the bucket and bucket/*, Condition {'Bool': {'aws:SecureTransport': 'false'}}."
        ),
        check=_tls_only,
        tags=["s3", "encryption-in-transit"],
    ),
]
