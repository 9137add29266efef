"""`protect` reaches exactly the stateful resources, so their policies stay changeable (issue 7 §6).

Keys, buckets, ECR repositories and model package groups hold what no re-deployment brings back; their
policies, lifecycle rules and aliases must change freely, for example when an environment account stops
reading the shared registry. Protection is per resource, not per component.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.plan.model import PlannedResource, PlanResult
from infra.plan.runner import PROJECT_ROOT, plan_stack

KEY, BUCKET = "aws:kms/key:Key", "aws:s3/bucket:Bucket"
REPOSITORY, GROUP = "aws:ecr/repository:Repository", "aws:sagemaker/modelPackageGroup:ModelPackageGroup"

EXPECTED_PROTECTED = {
    "shared": {
        KEY: {"artifacts"},
        BUCKET: {"artifacts-data", "artifacts-artifacts", "artifacts-capture"},
        REPOSITORY: {"churn-training", "churn-serving", "fraud-training", "fraud-serving"},
        GROUP: {"churn", "fraud"},
    },
    "dev": {},
    "staging": {},
    "prod": {KEY: {"environment"}},
}

# Inputs whose change makes the provider replace the resource (ForceNew in the Terraform AWS provider's schema:
# internal/service/kms/key.go, s3/bucket.go, ecr/repository.go, sagemaker/model_package_group.go; `region` is
# pulumi-aws v7's per-resource region). A protected resource of another type must keep all its inputs.
REPLACING_INPUTS = {
    KEY: ("customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId", "region"),
    BUCKET: ("bucket", "bucketPrefix", "objectLockEnabled", "region"),
    REPOSITORY: ("name", "encryptionConfigurations", "region"),
    GROUP: ("modelPackageGroupName", "modelPackageGroupDescription", "region"),
}


def protected(plan: PlanResult) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for resource in plan.resources:
        if resource.protect:
            found.setdefault(resource.type, set()).add(resource.name)
    return found


@pytest.mark.parametrize("stack", sorted(EXPECTED_PROTECTED))
def test_exactly_the_stateful_resources_are_protected(plans: dict[str, PlanResult], stack: str) -> None:
    assert protected(plans[stack]) == EXPECTED_PROTECTED[stack]


def test_components_and_companions_are_never_protected(plans: dict[str, PlanResult]) -> None:
    for plan in plans.values():
        for resource in plan.resources:
            if resource.protect:
                assert resource.custom and resource.type in REPLACING_INPUTS, resource.urn


def must_replace_or_delete(before: PlanResult, after: PlanResult) -> list[str]:
    """Protected resources of `before` that `after` deletes, or whose replacing inputs it changes."""
    now = {r.urn: r for r in after.resources}
    problems = []
    for old in (r for r in before.resources if r.protect):
        new: PlannedResource | None = now.get(old.urn)
        if new is None:
            problems.append(f"{old.urn} would be deleted")
            continue
        keys = REPLACING_INPUTS.get(old.type) or tuple(set(old.inputs) | set(new.inputs))
        changed = [k for k in keys if old.inputs.get(k) != new.inputs.get(k)]
        if changed:
            problems.append(f"{old.urn} would be replaced: {changed} change")
    return problems


@pytest.fixture(scope="module")
def fewer_readers(tmp_path_factory: pytest.TempPathFactory) -> tuple[PlanResult, PlanResult]:
    """The shared stack as planned from its file, and from a copy of that file with one reader removed."""
    stack_file = PROJECT_ROOT / "stacks" / "Pulumi.shared.yaml"
    data = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    readers = data["config"]["mlops:readerAccountIds"]
    assert len(readers) > 1 and data["config"]["mlops:protect"] is True
    data["config"]["mlops:readerAccountIds"] = readers[1:]
    changed_file = Path(tmp_path_factory.mktemp("stacks")) / "Pulumi.shared.yaml"
    changed_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    return plan_stack("shared"), plan_stack("shared", stack_file=changed_file)


def test_removing_a_reader_account_replaces_or_deletes_no_protected_resource(fewer_readers) -> None:
    before, after = fewer_readers
    assert must_replace_or_delete(before, after) == []
    # Not vacuous: the readers' grants did change, in the key, bucket, repository and package-group policies.
    new = {r.urn: r.inputs for r in after.resources}
    changed = {r.type for r in before.resources if r.urn in new and r.inputs != new[r.urn]}
    assert {KEY, "aws:s3/bucketPolicy:BucketPolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy",
            "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"} <= changed


def test_the_comparison_reports_a_protected_policy_that_would_change(fewer_readers) -> None:
    """What issue 7 found: with protect on the component, a policy child was protected, and changing it failed."""
    before, after = fewer_readers
    policy = next(r for r in before.resources if r.type == "aws:s3/bucketPolicy:BucketPolicy"
                  and r.name == "artifacts-artifacts")
    as_before_the_fix = PlanResult(before.project, before.stack, (PlannedResource(
        urn=policy.urn, type=policy.type, name=policy.name, custom=True, parent=policy.parent,
        inputs=policy.inputs, outputs=policy.outputs, protect=True),), before.outputs)
    problems = must_replace_or_delete(as_before_the_fix, after)
    assert len(problems) == 1 and problems[0].startswith(f"{policy.urn} would be replaced"), problems
    assert "'policy'" in problems[0]
