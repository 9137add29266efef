"""Issue 17, section 1, "type lists that stop short": each rule's coverage is held to the provider schemas.

The types and paths that carry a property a rule judges are derived at test time from the installed pulumi-aws and
pulumi-kubernetes SDKs (`policies.tools.sdk_schema`), not listed here: a provider upgrade that adds a type carrying
one (a new job definition with enableNetworkIsolation, a new kind with a pod template, a new key type) fails these
tests until the rule reads it. For each derived (type, path), a hostile value is placed at that path and the rule
must report it.
"""

from __future__ import annotations

from typing import Any

import pytest
from policy_factory import PlanBuilder, of, pack, run

from policies.rules.iam import ATTACHMENTS, IDENTITY_POLICY_TYPES, ROLE
from policies.rules.kms import KEY_TYPES
from policies.rules.protection import PROTECTED_TYPES
from policies.rules.sagemaker import MODEL
from policies.rules.sagemaker_jobs import JOBS
from policies.tools.sdk_schema import carriers, resources

Path = tuple[str, ...]


def _nest(path: Path, leaf: Any, **siblings: Any) -> dict[str, Any]:
    """{path[0]: {path[1]: ... {path[-1]: leaf, **siblings}}}: lists are read through, so a mapping stands for one."""
    value: dict[str, Any] = {path[-1]: leaf, **siblings}
    for step in reversed(path[:-1]):
        value = {step: value}
    return value


def _applies_to(rule: str) -> set[str]:
    return set(next(p for p in pack().policies if p.name == rule).applies_to)


def _pairs(found: dict[str, list[Path]]) -> list[tuple[str, Path]]:
    return [(token, path) for token, paths in found.items() for path in paths]


# --- SageMaker: instance types and counts, wherever the schema puts them ------------------------------------

_SAGEMAKER = ("sagemaker",)
INSTANCE_TYPES = _pairs(carriers("pulumi_aws", _SAGEMAKER, "instanceType"))
INSTANCE_COUNTS = _pairs(carriers("pulumi_aws", _SAGEMAKER, lambda p: p[-1] in (
    "instanceCount", "initialInstanceCount", "maxInstanceCount")))


def test_the_schema_walk_finds_what_the_issue_names() -> None:
    tokens = {t for t, _ in INSTANCE_TYPES}
    assert "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition" in tokens
    paths = {p for _, p in INSTANCE_TYPES}
    assert ("trainingJobDefinition", "hyperParameterTuningResourceConfig", "instanceConfigs", "instanceType") in paths
    assert ("resourceConfig", "instanceGroups", "instanceType") in paths
    assert any(p[-2:] == ("managedInstanceScaling", "maxInstanceCount") for _, p in INSTANCE_COUNTS)


@pytest.mark.parametrize(("token", "path"), INSTANCE_TYPES, ids=[f"{t.split(':')[-1]}:{'.'.join(p)}"
                                                                 for t, p in INSTANCE_TYPES])
def test_every_instance_type_the_provider_accepts_is_guarded(token: str, path: Path) -> None:
    b = PlanBuilder()
    b.add(token, "x", _nest(path, "ml.p5.48xlarge"))
    found = of(run(b.plan()), "sagemaker-instance-cost-guard")
    assert any("'ml.p5.48xlarge'" in v.message for v in found), (token, path)


@pytest.mark.parametrize(("token", "path"), INSTANCE_COUNTS, ids=[f"{t.split(':')[-1]}:{'.'.join(p)}"
                                                                  for t, p in INSTANCE_COUNTS])
def test_every_instance_count_the_provider_accepts_is_capped(token: str, path: Path) -> None:
    b = PlanBuilder()
    b.add(token, "x", _nest(path, 999))
    found = of(run(b.plan()), "sagemaker-instance-cost-guard")
    assert any("asks for 999 instances" in v.message for v in found), (token, path)


# --- SageMaker: every job that can be isolated is judged ------------------------------------------------------

ISOLATION = carriers("pulumi_aws", _SAGEMAKER, "enableNetworkIsolation")


def test_every_type_with_network_isolation_is_a_judged_job_or_the_model() -> None:
    # Model runs no job: its isolation is judged by the serving rules, not by sagemaker-job-isolation.
    assert set(ISOLATION) - {MODEL} == set(JOBS)
    assert set(JOBS) <= _applies_to("sagemaker-job-isolation")


@pytest.mark.parametrize(("token", "path"), _pairs({t: p for t, p in ISOLATION.items() if t != MODEL}),
                         ids=lambda v: v if isinstance(v, str) else ".".join(v))
def test_a_job_without_isolation_fails_wherever_the_schema_puts_it(token: str, path: Path) -> None:
    b = PlanBuilder()
    b.add(token, "job", _nest(path, False))
    found = of(run(b.plan()), "sagemaker-job-isolation")
    assert any("does not enable network isolation" in v.message for v in found), (token, path)


# --- KMS keys, IAM documents and attachments, S3 grants -------------------------------------------------------

def test_every_kms_key_type_is_judged_and_protected() -> None:
    keys = set(carriers("pulumi_aws", ("kms",), "deletionWindowInDays"))
    assert keys == set(KEY_TYPES)
    assert keys <= set(PROTECTED_TYPES)
    with_policy = set(carriers("pulumi_aws", ("kms",), lambda p: p == ("policy",)))
    assert with_policy <= _applies_to("kms-key-policy-restricted")


def test_every_identity_policy_document_is_judged() -> None:
    documents = set(carriers("pulumi_aws", ("iam", "ssoadmin"), lambda p: p[-1] in ("policy", "inlinePolicy")))
    assert documents == {ROLE, *IDENTITY_POLICY_TYPES}
    for rule in ("iam-no-admin-wildcard", "iam-no-passrole-wildcard"):
        assert documents <= _applies_to(rule), rule


# Types that carry a managed policy ARN without granting it: a permissions boundary only limits.
_NOT_GRANTS = {"aws:ssoadmin/permissionsBoundaryAttachment:PermissionsBoundaryAttachment"}


def test_every_managed_policy_attachment_is_judged() -> None:
    attaching = carriers("pulumi_aws", ("iam", "ssoadmin"), lambda p: p[-1] in (
        "policyArn", "policyArns", "managedPolicyArn", "managedPolicyArns"))
    assert set(attaching) - _NOT_GRANTS == set(ATTACHMENTS)
    for token, paths in attaching.items():
        if token not in _NOT_GRANTS:
            assert (ATTACHMENTS[token],) in paths, token


# Grants that a bucket's public access block (ignorePublicAcls, required by the same rule) makes inert, or that
# are not on a bucket: an object copy's ACL, the log-delivery grants of the logging target.
_NOT_BUCKET_ACLS = {"aws:s3/objectCopy:ObjectCopy", "aws:s3/bucketLoggingV2:BucketLoggingV2"}
GRANT_URIS = {t: p for t, p in carriers("pulumi_aws", ("s3",), lambda p: p[-1] == "uri" and "rants" in "".join(p)
                                        ).items() if t not in _NOT_BUCKET_ACLS}


@pytest.mark.parametrize(("token", "path"), _pairs(GRANT_URIS), ids=lambda v: v if isinstance(v, str) else ".".join(v))
def test_a_grant_to_everyone_fails_wherever_the_schema_keeps_its_uri(token: str, path: Path) -> None:
    from policy_factory import secure_bucket

    b = PlanBuilder()
    parts = secure_bucket(b, unknown_id=False)
    everyone = "http://acs.amazonaws.com/groups/global/AllUsers"
    if token in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
        b.replace(parts["bucket"], inputs={**parts["bucket"].inputs, **_nest(path, everyone)})
    else:
        b.add(token, "acl", {"bucket": parts["bucket"].inputs["bucket"], **_nest(path, everyone)})
    found = of(run(b.plan()), "s3-public-access-blocked")
    assert any("AllUsers" in v.message for v in found), (token, path)


# --- Kubernetes: every kind that holds a pod spec --------------------------------------------------------------

POD_SPECS = {t: [p for p in paths if "status" not in p]
             for t, paths in carriers("pulumi_kubernetes", (), lambda p: p[-1] == "containers").items()}


@pytest.mark.parametrize(("token", "path"), _pairs(POD_SPECS), ids=lambda v: v if isinstance(v, str) else ".".join(v))
def test_a_root_container_fails_in_every_kind_that_holds_a_pod_spec(token: str, path: Path) -> None:
    b = PlanBuilder()
    container = {"name": "server", "image": "registry.example/model:nightly"}
    b.add(token, "workload", _nest(path, [container]))
    messages = [v.message for v in of(run(b.plan()), "k8s-model-server-hardened")]
    assert any("may run as root" in m for m in messages), (token, path)
    assert any("moving tag 'nightly'" in m for m in messages), (token, path)


def test_the_schema_walk_leaves_the_sdks_usable_by_the_program() -> None:
    """The walk imports every module of the SDKs; the classes their packages export must stay classes (a module
    named like its class must not shadow it for the program's later `k8s.apiextensions.CustomResource(...)`)."""
    import pulumi_kubernetes as k8s

    checked = 0
    for token in resources("pulumi_kubernetes"):
        _, group, kind = token.split(":")
        package: Any = k8s
        for part in group.split("/"):
            package = getattr(package, part, None)
        if package is not None and hasattr(package, kind):
            assert isinstance(getattr(package, kind), type), token
            checked += 1
    assert checked > 100 and isinstance(k8s.apiextensions.CustomResource, type)
