"""ModelRegistry declared alone with hand-made args: two image repositories and a model package group."""

from __future__ import annotations

import json

import pytest
from declare import ACCOUNT, KEY_ARN, NAMING, PARTITION, REGION, declare
from planned import of_type, one, policy_of

from infra.components.model_registry import ModelRegistry, ModelRegistryArgs
from infra.plan.model import PlanResult

REPOSITORY = "aws:ecr/repository:Repository"
READERS = ["222222222222", "333333333333"]


def registry(readers: list[str]) -> PlanResult:
    return declare(lambda: ModelRegistry("churn", ModelRegistryArgs(
        naming=NAMING, model="churn", kms_key_arn=KEY_ARN, account_id=ACCOUNT, region=REGION,
        partition=PARTITION, reader_account_ids=readers)))


@pytest.fixture(scope="module")
def shared_registry() -> PlanResult:
    return registry(READERS)


@pytest.fixture(scope="module")
def private_registry() -> PlanResult:
    return registry([])


def test_one_training_and_one_serving_repository_named_for_the_model(shared_registry: PlanResult) -> None:
    assert sorted(r.inputs["name"] for r in of_type(shared_registry, REPOSITORY)) == [
        "mlops-test-churn-serving", "mlops-test-churn-training"]


def test_repositories_are_immutable_scanned_on_push_and_encrypted_with_the_key(shared_registry: PlanResult) -> None:
    for repository in of_type(shared_registry, REPOSITORY):
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KEY_ARN}]
        assert repository.inputs["tags"] == {"model": "churn"}


def test_every_repository_expires_untagged_images_and_keeps_the_newest_tagged(shared_registry: PlanResult) -> None:
    policies = of_type(shared_registry, "aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert sorted(p.inputs["repository"] for p in policies) == [
        "mlops-test-churn-serving", "mlops-test-churn-training"]
    for policy in policies:
        rules = json.loads(policy.inputs["policy"])["rules"]
        assert [(r["selection"]["tagStatus"], r["selection"]["countNumber"]) for r in rules] == [
            ("untagged", 7), ("any", 100)]


def test_package_group_is_named_for_the_model(shared_registry: PlanResult) -> None:
    group = one(shared_registry, "aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    assert group.inputs["modelPackageGroupName"] == "mlops-test-churn"


def test_readers_may_pull_only_the_serving_image(shared_registry: PlanResult) -> None:
    (policy,) = of_type(shared_registry, "aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert policy.inputs["repository"] == "mlops-test-churn-serving"
    (statement,) = policy_of(policy)["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in READERS]}
    assert statement["Action"] == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                   "ecr:GetDownloadUrlForLayer"]


def test_readers_may_read_the_package_group_and_its_versions_only(shared_registry: PlanResult) -> None:
    policy = one(shared_registry, "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy")
    assert policy.inputs["modelPackageGroupName"] == "mlops-test-churn"
    (statement,) = policy_of(policy, "resourcePolicy")["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in READERS]}
    assert statement["Action"] == ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
                                   "sagemaker:ListModelPackages"]
    prefix = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    assert statement["Resource"] == [f"{prefix}:model-package-group/mlops-test-churn",
                                     f"{prefix}:model-package/mlops-test-churn/*"]


def test_without_readers_there_is_no_resource_policy_at_all(private_registry: PlanResult) -> None:
    assert of_type(private_registry, "aws:ecr/repositoryPolicy:RepositoryPolicy") == []
    assert of_type(private_registry, "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy") == []
    assert len(of_type(private_registry, REPOSITORY)) == 2
