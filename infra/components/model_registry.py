"""Where a model's images and versions live: two ECR repositories and a SageMaker model package group.

Environment accounts pull serving images and read approved packages across accounts, so both carry a
resource policy naming exactly those accounts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core.arns import Arns
from infra.core.iam import ECR_PULL_ACTIONS, policy_document
from infra.core.naming import IMAGE_ROLES, Naming, model_tags

# Untagged layers are garbage after a week; tagged releases are kept, newest 100.
_LIFECYCLE_POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "expire untagged images after 7 days",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                              "countNumber": 7},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "keep the newest 100 tagged images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100},
                "action": {"type": "expire"},
            },
        ]
    }
)

@dataclass(frozen=True)
class ModelRegistryArgs:
    naming: Naming
    model: str
    kms_key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    region: str
    partition: str
    reader_account_ids: list[str]
    protect: bool = False
    """Protect the repositories and the package group; their policies stay changeable."""


class ModelRegistry(pulumi.ComponentResource):
    """`mlops:registry:ModelRegistry`: training and serving image repositories plus the package group."""

    repositories: dict[str, aws.ecr.Repository]
    package_group: aws.sagemaker.ModelPackageGroup

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:registry:ModelRegistry", name, None, opts)
        self._args = args
        self._arns = Arns(args.partition, args.region, args.account_id)
        tags = model_tags(args.model)
        self.repositories = {role: self._repository(f"{name}-{role}", role, tags) for role in IMAGE_ROLES}
        self.package_group = aws.sagemaker.ModelPackageGroup(
            name,
            model_package_group_name=args.naming.package_group(args.model),
            model_package_group_description=f"Candidate and approved versions of {args.model}",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        if args.reader_account_ids:
            self._share_package_group(name)
        self.register_outputs(
            {
                "packageGroupName": self.package_group.model_package_group_name,
                **{f"{role}RepositoryUrl": r.repository_url for role, r in self.repositories.items()},
            }
        )

    def _repository(self, name: str, role: str, tags: dict[str, str]) -> aws.ecr.Repository:
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            name,
            name=self._args.naming.repository(self._args.model, role),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=self._args.kms_key_arn)
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )
        aws.ecr.LifecyclePolicy(name, repository=repository.name, policy=_LIFECYCLE_POLICY, opts=child)
        if role == "serving" and self._args.reader_account_ids:
            aws.ecr.RepositoryPolicy(
                name,
                repository=repository.name,
                policy=policy_document(
                    [
                        {
                            "Sid": "EnvironmentAccountsPullServingImage",
                            "Effect": "Allow",
                            "Principal": {"AWS": [self._arns.account_root(a) for a in self._args.reader_account_ids]},
                            "Action": list(ECR_PULL_ACTIONS),
                        }
                    ]
                ),
                opts=child,
            )
        return repository

    def _share_package_group(self, name: str) -> None:
        args = self._args
        group_name = args.naming.package_group(args.model)
        aws.sagemaker.ModelPackageGroupPolicy(
            name,
            model_package_group_name=self.package_group.model_package_group_name,
            resource_policy=policy_document(
                [
                    {
                        "Sid": "EnvironmentAccountsReadPackages",
                        "Effect": "Allow",
                        "Principal": {"AWS": [self._arns.account_root(a) for a in args.reader_account_ids]},
                        "Action": ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
                                   "sagemaker:ListModelPackages"],
                        "Resource": [
                            self._arns.model_package_group(group_name),
                            self._arns.model_package(group_name),
                        ],
                    }
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
