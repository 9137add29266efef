"""S3 bucket rules.

pulumi-aws v7 configures a bucket through companion resources (public access block, encryption,
versioning, policy), each naming the bucket in its `bucket` input. A bucket rule therefore has to look at
the whole stack: these are stack rules that pair each bucket with its companions. During a preview the
bucket's id is unknown, so pairing goes first through the companion's property dependency on the bucket
(`bucket` takes its value from the bucket resource), and only then by comparing known names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .callers import CALLER_ACCOUNT_KEYS, CALLER_ARN_KEYS, CALLER_NETWORK_KEYS, CALLER_ORG_KEYS, restricts_callers
from .iam_model import Statement, statements
from .values import as_list, dig, has_unknown, is_true, is_unknown, parse_json_document

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
DIRECTORY_BUCKET = "aws:s3/directoryBucket:DirectoryBucket"
"""S3 Express One Zone: public access is always blocked and versioning and ACLs do not exist there, but a bucket
policy can still allow everyone and default encryption can still be SSE-S3, so those two are judged."""
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
ACL_TYPES = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
_PUBLIC_CANNED_ACLS = ("public-read", "public-read-write", "authenticated-read")
KMS_KEY = "aws:kms/key:Key"

_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def companions(stack: StackView, bucket: StackResource, *types: str) -> list[StackResource]:
    """The resources of the given types that configure `bucket`.

    A companion's known `bucket` value is what S3 will act on, so it decides alone: it must be the bucket's name.
    Only a value unknown at preview falls back to the property dependency (the value comes from this bucket).
    A dependency is not a pairing by itself: `bucket=a.id.apply(lambda _: "other-bucket")` depends on `a` but
    configures the other bucket.
    """
    names = {n for n in (bucket.props.get("bucket"), bucket.props.get("id")) if isinstance(n, str) and n}
    found = []
    for candidate in stack.of_type(*types):
        value = candidate.props.get("bucket")
        if isinstance(value, str):
            paired = value in names
        else:
            paired = is_unknown(value) and candidate.depends_on(bucket, "bucket")
        if paired:
            found.append(candidate)
    return found


def bucket_policies(stack: StackView, bucket: StackResource) -> list[StackResource]:
    """Everything that sets the bucket's policy, in the order applied: the bucket's own (deprecated) `policy`
    input first, then each aws.s3.BucketPolicy for it. S3 keeps one policy per bucket: the last applied."""
    inline = bucket.props.get("policy")  # a computed output, unknown at preview unless the program sets it
    own = [bucket] if isinstance(inline, str) and inline.strip() else []
    return own + companions(stack, bucket, BUCKET_POLICY)


def _public_access(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(DIRECTORY_BUCKET):
        yield from _public_policy(stack, bucket)
    for bucket in stack.of_type(*BUCKET_TYPES):
        yield from _public_acls(stack, bucket)
        yield from _public_policy(stack, bucket)
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


def _acl_problem(canned: object, grants: object) -> str | None:
    if isinstance(canned, str) and canned.strip().lower() in _PUBLIC_CANNED_ACLS:
        return f"the canned ACL {canned!r} grants access to everyone"
    for grant in as_list(grants):
        # The grantee's URI sits in `grantee.uri` on an ACL resource and in `uri` on a bucket's own `grants`.
        for uri in (dig(grant, "grantee", "uri"), dig(grant, "uri")):
            if isinstance(uri, str) and uri.rstrip("/").rsplit("/", 1)[-1] in ("AllUsers", "AuthenticatedUsers"):
                return f"an ACL grant to {uri} gives access to everyone"
    return None


def _public_acls(stack: StackView, bucket: StackResource) -> Iterator[tuple[str, str | None]]:
    problem = _acl_problem(bucket.props.get("acl"), dig(bucket.props, "grants"))
    if problem:
        yield f"bucket '{bucket.name}': {problem}", bucket.urn
    for acl in companions(stack, bucket, *ACL_TYPES):
        problem = _acl_problem(acl.props.get("acl"), dig(acl.props, "accessControlPolicy", "grants"))
        if problem:
            yield f"bucket '{bucket.name}': ACL '{acl.name}': {problem}", acl.urn


# Keys that, pinned to named values by a positive condition, limit a statement with Principal '*' to known
# callers (a wildcard value names nobody: see iam_model.Condition.admits_only).
_CALLER_PINS = (*CALLER_ACCOUNT_KEYS, *CALLER_ARN_KEYS, *CALLER_ORG_KEYS, *CALLER_NETWORK_KEYS)


def _public_policy(stack: StackView, bucket: StackResource) -> Iterator[tuple[str, str | None]]:
    for policy in bucket_policies(stack, bucket):
        try:
            document = parse_json_document(policy.props.get("policy"))
        except ValueError:
            continue  # reported by s3-tls-only
        if has_unknown(document):
            continue
        for statement in statements(document):
            if statement.allows and statement.public_principal() and not restricts_callers(statement, _CALLER_PINS):
                yield (
                    (
                        f"bucket '{bucket.name}': policy '{policy.name}' {statement.label} allows everyone "
                        "(Principal '*' in any form) without a condition pinning the caller's account, "
                        "organization or source to named values (a wildcard value names nobody)"
                    ),
                    policy.urn,
                )


def _encryption(stack: StackView) -> Iterator[tuple[str, str | None]]:
    aws_managed = ("alias/aws/", ":alias/aws/")
    for bucket in stack.of_type(*BUCKET_TYPES, DIRECTORY_BUCKET):
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


def _everyone(statement: Statement) -> bool:
    return not statement.not_principal and any(
        v.strip() == "*" for values in statement.principals.values() for v in values
    )


def _only_insecure_transport(statement: Statement) -> bool:
    """The statement's condition is exactly `aws:SecureTransport` false: nothing narrows the deny."""
    if len(statement.conditions) != 1:
        return False
    (condition,) = statement.conditions
    return (
        condition.key == "aws:securetransport"
        and condition.base == "bool"
        and condition.qualifier is None
        and bool(condition.values)
        and all(v.strip().lower() == "false" for v in condition.values)
    )


def denies_insecure_transport(document: object, bucket_names: Iterable[str] = ()) -> bool:
    """Whether a bucket policy denies every S3 action to everyone on the bucket and its objects without TLS.

    The deny must cover all of S3 (`s3:*` in any spelling), apply to every principal, cover the bucket's
    own ARN and its objects (when the bucket's name is known), and be conditioned on aws:SecureTransport
    false alone: an extra condition narrows it, and `s3:TlsVersion` is absent from plain-HTTP requests, so
    a deny on it alone lets them through.
    """
    names = [n for n in bucket_names if n]
    for statement in statements(document):
        if not statement.denies or not _everyone(statement) or "s3" not in statement.services_fully_granted():
            continue
        if not _only_insecure_transport(statement):
            continue
        if names and not any(
            statement.covers(f"arn:aws:s3:::{n}") and statement.covers(f"arn:aws:s3:::{n}/x7q-any-object")
            for n in names
        ):
            continue
        return True
    return False


def _bucket_names(bucket: StackResource) -> list[str]:
    return [n for n in (bucket.props.get("bucket"), bucket.props.get("id")) if isinstance(n, str) and n]


def _tls_only(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(*BUCKET_TYPES):
        policies = bucket_policies(stack, bucket)
        if not policies:
            yield (
                (
                    f"bucket '{bucket.name}' has no aws.s3.BucketPolicy; it needs one that denies requests "
                    "without TLS (aws:SecureTransport false)"
                ),
                bucket.urn,
            )
            continue
        if len(policies) > 1:
            yield (
                (
                    f"bucket '{bucket.name}' has {len(policies)} bucket policies "
                    f"({', '.join(repr(p.name) for p in policies)}); a bucket has one policy and the last one "
                    "applied replaces the others: keep one"
                ),
                policies[-1].urn,
            )
        winner = policies[-1]  # the last declared is the one applied last, which S3 keeps
        try:
            document = parse_json_document(winner.props.get("policy"))
        except ValueError:
            yield (f"bucket '{bucket.name}': policy '{winner.name}' is not valid JSON", winner.urn)
            continue
        if has_unknown(document):
            continue  # cannot be judged at preview
        if not denies_insecure_transport(document, _bucket_names(bucket)):
            yield (
                (
                    f"bucket '{bucket.name}': policy '{winner.name}' has no statement that denies s3:* to all "
                    "principals on the bucket and its objects when aws:SecureTransport is false (and on no "
                    "other condition)"
                ),
                winner.urn,
            )


RULES = [
    stack_rule(
        name="s3-public-access-blocked",
        description=(
            "Every S3 bucket has a public access block with all four settings true, no public ACL and no bucket "
            "policy statement that allows everyone."
        ),
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
        description=(
            "Every S3 bucket has one bucket policy, and it denies s3:* to everyone on the bucket and its objects "
            "when aws:SecureTransport is false (on no other condition)."
        ),
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
