"""One compliant and one non-compliant plan for every rule of the pack, through the offline verdict.

The table must name every rule the pack declares (see `test_every_rule_has_cases`). Compliant plans must
produce no violation of any rule at all, so a building block that trips another rule is caught here too.
Edge cases live in the per-area test modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from policy_factory import (
    ACCOUNT,
    REPOSITORY,
    UNKNOWN,
    PlanBuilder,
    ecr_repository,
    endpoint_stack,
    github_trust,
    kms_key,
    of,
    pack,
    pipeline,
    pipeline_definition,
    policy_json,
    run,
    secure_bucket,
)
from test_policy_monitoring import MONITORING_CASES_COMPLIANT, MONITORING_CASES_VIOLATING

Build = Callable[[PlanBuilder], Any]


@dataclass(frozen=True)
class Case:
    rule: str
    compliant: Build
    violating: Build
    expect: str  # a fragment of the violation message
    env: str = "prod"
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


def _change(b: PlanBuilder, resource: Any, **inputs: Any) -> None:
    b.replace(resource, inputs={**resource.inputs, **inputs})


def _drop(b: PlanBuilder, resource: Any, *keys: str) -> None:
    b.replace(resource, inputs={k: v for k, v in resource.inputs.items() if k not in keys})


def _remove(b: PlanBuilder, resource: Any) -> None:
    b.resources.remove(resource)


def _helm(b: PlanBuilder, name: str = "argocd", **inputs: Any) -> None:
    values = {
        "configs": {
            "params": {"server.insecure": False},
            "cm": {"admin.enabled": False},
            "rbac": {"policy.default": "role:readonly"},
        }
    }
    b.add(
        "kubernetes:helm.sh/v3:Release",
        name,
        {"chart": "argo-cd", "version": "7.7.3", "namespace": "argocd", "values": values, **inputs},
        provider=False,
    )


def _deployment(b: PlanBuilder, **container: Any) -> None:
    spec = {
        "name": "server",
        "image": "111111111111.dkr.ecr.us-east-1.amazonaws.com/fraud:0.9.2",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
        **container,
    }
    b.add(
        "kubernetes:apps/v1:Deployment",
        "fraud-server",
        {
            "metadata": {"name": "fraud-server", "labels": {"app.kubernetes.io/component": "model-server"}},
            "spec": {
                "replicas": 2,
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/component": "model-server"}},
                    "spec": {"containers": [{k: v for k, v in spec.items() if v is not None}]},
                },
            },
        },
        provider=False,
    )


def _service(b: PlanBuilder, kind: str = "ClusterIP") -> None:
    b.add("kubernetes:core/v1:Service", "fraud", {"metadata": {"name": "fraud"}, "spec": {
        "type": kind, "selector": {"app": "fraud"}, "ports": [{"port": 80}]}}, provider=False)


def _security_group(b: PlanBuilder, cidr: str = "10.0.0.0/16") -> None:
    b.add("aws:ec2/securityGroup:SecurityGroup", "endpoint-sg", {"description": "x", "ingress": [
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": [cidr]}]})


def _notebook(b: PlanBuilder, **inputs: Any) -> None:
    b.add("aws:sagemaker/notebookInstance:NotebookInstance", "explore", {
        "instanceType": "ml.m5.large", "directInternetAccess": "Disabled", "rootAccess": "Disabled",
        "subnetId": "subnet-0abc", **inputs})


def _repository_policy(b: PlanBuilder, principal: Any = None) -> None:
    b.add("aws:ecr/repositoryPolicy:RepositoryPolicy", "fraud-pull", {"repository": "fraud", "policy": policy_json(
        {"Effect": "Allow", "Principal": principal or {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]})})


def _replication(b: PlanBuilder, destination: str | None = None) -> None:
    source, replica = secure_bucket(b, "artifacts"), secure_bucket(b, "replica")
    target = destination or replica["bucket"].outputs["arn"]
    b.add("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "artifacts-replication", {
        "bucket": "mlops-artifacts-prod", "role": f"arn:aws:iam::{ACCOUNT}:role/replication",
        "rules": [{"id": "all", "status": "Enabled", "destination": {"bucket": target}}]},
        deps={"bucket": [source["bucket"]], "rules": [replica["bucket"]]})


def _bounded_role(b: PlanBuilder, action: str = "sagemaker:InvokeEndpoint",
                  resource: str = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/fraud") -> None:
    policy = b.add("aws:iam/policy:Policy", "boundary", {"name": "ci-boundary", "policy": policy_json(
        {"Effect": "Allow", "Action": action, "Resource": resource})},
        {"arn": f"arn:aws:iam::{ACCOUNT}:policy/ci-boundary"})
    b.add("aws:iam/role:Role", "bounded", {"assumeRolePolicy": _service_trust(), "permissionsBoundary": UNKNOWN},
          deps={"permissionsBoundary": [policy]})


def _admin_policy(b: PlanBuilder, action: Any = "*", resource: Any = "*") -> None:
    role = b.add("aws:iam/role:Role", "worker", {"assumeRolePolicy": _service_trust()})
    b.add(
        "aws:iam/rolePolicy:RolePolicy",
        "worker-access",
        {
            "role": "worker",
            "policy": policy_json({"Effect": "Allow", "Action": action, "Resource": resource}),
        },
        deps={"role": [role]},
    )


def _service_trust() -> str:
    return policy_json(
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "444444444444"}},
        }
    )


def _deploy_role(b: PlanBuilder, subject: str, operator: str = "StringEquals") -> None:
    """A GitHub-trusted role that can write (an inline policy with sagemaker:UpdateEndpoint)."""
    role = b.add("aws:iam/role:Role", "deploy", {"name": "ci-deploy",
                                                 "assumeRolePolicy": github_trust(subject, operator=operator)})
    b.add("aws:iam/rolePolicy:RolePolicy", "deploy", {"role": "ci-deploy", "policy": policy_json(
        {"Effect": "Allow", "Action": "sagemaker:UpdateEndpoint", "Resource": ROLE_ARN})}, deps={"role": [role]})


SCOPED = ["s3:GetObject", "s3:PutObject"]
BUCKET_OBJECTS = "arn:aws:s3:::mlops-artifacts-prod/*"
ROLE_ARN = "arn:aws:iam::444444444444:role/churn-execution"


def _node_group(b: PlanBuilder, max_size: int = 3) -> None:
    b.add(
        "aws:eks/nodeGroup:NodeGroup",
        "nodes",
        {
            "clusterName": "mlops-prod-cluster",
            "instanceTypes": ["m6i.large"],
            "nodeRoleArn": "arn:aws:iam::444444444444:role/nodes",
            "scalingConfig": {"minSize": 2, "maxSize": max_size, "desiredSize": 2},
            "subnetIds": ["subnet-0a"],
        },
    )


def _both(
    build: Callable[[PlanBuilder, dict[str, Any]], None], make: Callable[[PlanBuilder], dict[str, Any]]
) -> Build:
    return lambda b: build(b, make(b))


CASES = [
    # S3 (stack rules pairing buckets with their companion resources)
    Case(
        "s3-public-access-blocked",
        secure_bucket,
        _both(
            lambda b, p: _change(b, p["block"], blockPublicAcls=False, restrictPublicBuckets=False),
            secure_bucket,
        ),
        "leaves blockPublicAcls, restrictPublicBuckets off",
    ),
    Case(
        "s3-sse-kms-cmk",
        secure_bucket,
        _both(
            lambda b, p: _change(
                b, p["sse"], rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
            ),
            secure_bucket,
        ),
        "sseAlgorithm is 'AES256'",
    ),
    Case(
        "s3-versioning-enabled",
        secure_bucket,
        _both(
            lambda b, p: _change(b, p["versioning"], versioningConfiguration={"status": "Suspended"}),
            secure_bucket,
        ),
        "status 'Suspended'",
    ),
    Case(
        "s3-tls-only",
        secure_bucket,
        _both(lambda b, p: _remove(b, p["policy"]), secure_bucket),
        "has no aws.s3.BucketPolicy",
    ),
    # KMS and ECR
    Case(
        "kms-key-rotation",
        kms_key,
        lambda b: kms_key(b, enableKeyRotation=False),
        "does not enable automatic key rotation",
    ),
    Case(
        "ecr-scan-on-push",
        ecr_repository,
        lambda b: ecr_repository(b, imageScanningConfiguration={"scanOnPush": False}),
        "does not scan images on push",
    ),
    Case(
        "ecr-immutable-tags",
        ecr_repository,
        lambda b: ecr_repository(b, imageTagMutability="MUTABLE"),
        "imageTagMutability MUTABLE",
    ),
    Case(
        "ecr-kms-encryption",
        ecr_repository,
        lambda b: ecr_repository(b, encryptionConfigurations=[{"encryptionType": "AES256"}]),
        "encrypts with AES256, not KMS",
    ),
    # SageMaker
    Case(
        "sagemaker-endpoint-kms",
        endpoint_stack,
        _both(lambda b, p: _drop(b, p["config"], "kmsKeyArn"), endpoint_stack),
        "sets no kmsKeyArn",
    ),
    Case(
        "sagemaker-data-capture",
        endpoint_stack,
        _both(lambda b, p: _drop(b, p["config"], "dataCaptureConfig"), endpoint_stack),
        "has no dataCaptureConfig",
    ),
    Case(
        "sagemaker-endpoint-safe-deployment",
        endpoint_stack,
        _both(lambda b, p: _drop(b, p["endpoint"], "deploymentConfig"), endpoint_stack),
        "has no deploymentConfig",
    ),
    Case(
        "sagemaker-model-pinned-package",
        endpoint_stack,
        _both(
            lambda b, p: _change(
                b, p["model"], primaryContainer={"image": "x.dkr.ecr.us-east-1.amazonaws.com/churn:1.4.0"}
            ),
            endpoint_stack,
        ),
        "not from a registered model package version",
    ),
    Case(
        "sagemaker-job-isolation",
        lambda b: pipeline(b, pipeline_definition()),
        lambda b: pipeline(b, pipeline_definition(Train={"EnableNetworkIsolation": False})),
        "step 'Train' (Training) does not enable network isolation",
    ),
    Case(
        "sagemaker-instance-cost-guard",
        endpoint_stack,
        _both(
            lambda b, p: _change(
                b,
                p["config"],
                productionVariants=[
                    {
                        "variantName": "primary",
                        "modelName": "m",
                        "instanceType": "ml.p4d.24xlarge",
                        "initialInstanceCount": 1,
                    }
                ],
            ),
            endpoint_stack,
        ),
        "instance type 'ml.p4d.24xlarge', which is not allowed",
    ),
    # IAM
    Case(
        "iam-no-admin-wildcard",
        lambda b: _admin_policy(b, SCOPED, BUCKET_OBJECTS),
        lambda b: _admin_policy(b, "*", "*"),
        "allows every action ('*') on every resource ('*')",
    ),
    Case(
        "iam-no-passrole-wildcard",
        lambda b: _admin_policy(b, "iam:PassRole", ROLE_ARN),
        lambda b: _admin_policy(b, ["iam:PassRole", "sagemaker:CreateModel"], "*"),
        "allows iam:PassRole on '*'",
    ),
    Case(
        "iam-github-oidc-trust-pinned",
        lambda b: b.add("aws:iam/role:Role", "deployer", {"assumeRolePolicy": github_trust()}),
        lambda b: b.add(
            "aws:iam/role:Role",
            "deployer",
            {"assumeRolePolicy": github_trust("repo:*", operator="StringLike")},
        ),
        "does not name a repository",
        overrides={"iam-github-oidc-trust-pinned": {"allowedRepositories": [REPOSITORY]}},
    ),
    Case(
        "iam-trust-restricted",
        lambda b: b.add("aws:iam/role:Role", "worker", {"assumeRolePolicy": _service_trust()}),
        lambda b: b.add(
            "aws:iam/role:Role",
            "worker",
            {
                "assumeRolePolicy": policy_json(
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                )
            },
        ),
        "lets any AWS principal assume the role",
    ),
    Case(
        "aws-provider-accounts-pinned",
        lambda b: None,  # the builder's provider pins allowedAccountIds, as the program's does
        lambda b: b.add("pulumi:providers:aws", "other-region", {"region": "eu-west-1"}, provider=False),
        "sets no allowedAccountIds",
    ),
    Case(
        "iam-github-deploy-subject-pinned",
        lambda b: _deploy_role(b, f"repo:{REPOSITORY}:environment:prod"),
        lambda b: _deploy_role(b, f"repo:{REPOSITORY}:*", operator="StringLike"),
        "does not name one environment or one protected ref",
        overrides={"iam-github-oidc-trust-pinned": {"allowedRepositories": [REPOSITORY]}},
    ),
    Case(
        "iam-no-admin-managed-policy",
        lambda b: b.add(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "preview-read",
            {"role": "ci-preview", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        ),
        lambda b: b.add(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "preview-admin",
            {"role": "ci-preview", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        "allows every action ('*') on every resource",
    ),
    Case(
        "iam-no-user-access-keys",
        lambda b: b.add("aws:iam/user:User", "auditor", {"name": "auditor"}),
        lambda b: b.add("aws:iam/accessKey:AccessKey", "ci-key", {"user": "ci"}),
        "is a long-lived credential",
    ),
    Case(
        "kms-key-policy-restricted",
        lambda b: kms_key(
            b,
            policy=policy_json(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ),
        ),
        lambda b: kms_key(
            b, policy=policy_json({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"})
        ),
        "grants every KMS action (kms:*) to everyone",
    ),
    # Tags
    Case(
        "aws-required-tags",
        kms_key,
        lambda b: b.add(
            "aws:sns/topic:Topic", "alerts", {"name": "alerts", "tags": {"owner": "x"}}, provider=False
        ),
        "lacks required tag(s) environment, cost-center, managed-by",
    ),
    # Protection (stack rule)
    Case(
        "stateful-resources-protected",
        kms_key,
        _both(lambda b, p: b.replace(p["bucket"], protect=False), secure_bucket),
        "'artifacts' (aws:s3/bucket:Bucket) is not protected",
    ),
    # Operability (stack rule)
    Case(
        "sagemaker-endpoint-operability",
        endpoint_stack,
        _both(lambda b, p: (_remove(b, p["scaling_policy"]), _remove(b, p["target"])), endpoint_stack),
        "has no application autoscaling target",
    ),
    # Kubernetes
    Case("helm-chart-version-pinned", _helm, lambda b: _helm(b, version=None), "has no version"),
    Case(
        "argocd-hardened",
        _helm,
        lambda b: _helm(
            b,
            values={
                "configs": {
                    "params": {"server.insecure": True},
                    "cm": {"admin.enabled": False},
                    "rbac": {"policy.default": "role:readonly"},
                }
            },
        ),
        "runs the API server insecure",
    ),
    Case(
        "k8s-model-server-hardened",
        _deployment,
        lambda b: _deployment(b, image="111111111111.dkr.ecr.us-east-1.amazonaws.com/fraud:latest"),
        "uses the moving tag 'latest'",
    ),
    Case(
        "k8s-pod-security-restricted",
        _deployment,
        lambda b: _deployment(b, ports=[{"containerPort": 8080, "hostPort": 8080}]),
        "binds host port 8080",
    ),
    Case("k8s-service-not-exposed", _service, lambda b: _service(b, "LoadBalancer"), "without saying it is internal"),
    # Network, SageMaker access, ECR, replication, boundaries
    Case("ec2-no-public-ingress", _security_group, lambda b: _security_group(b, "0.0.0.0/0"), "(the internet)"),
    Case("sagemaker-notebook-no-internet-or-root", _notebook, lambda b: _notebook(b, rootAccess="Enabled"),
         "gives its users root"),
    Case("sagemaker-model-network-isolation", endpoint_stack,
         _both(lambda b, p: _change(b, p["model"], enableNetworkIsolation=False), endpoint_stack),
         "lets its container make network calls"),
    Case("ecr-policy-not-public", _repository_policy, lambda b: _repository_policy(b, "*"), "allows everyone"),
    Case("s3-replication-in-stack-accounts", _replication,
         lambda b: _replication(b, "arn:aws:s3:::someone-elses-bucket"), "which this stack does not declare"),
    Case("iam-permissions-boundary-bounded", _bounded_role, lambda b: _bounded_role(b, "*", "*"), "bounds nothing"),
    # Cost: prod's budget (maxMonthlyUsd 2500) against a node group that may grow to 1000 nodes
    Case("monthly-budget", _node_group, lambda b: _node_group(b, max_size=1000), "over the budget of $2,500.00"),
]


# The continuous-training rule's own hostile cases live in test_policy_monitoring.py; one pair joins the table.
CASES.append(Case("drift-monitoring-and-retrain-guards", MONITORING_CASES_COMPLIANT, MONITORING_CASES_VIOLATING,
                  "captures data but no data-quality monitoring schedule"))


def test_every_rule_has_cases() -> None:
    assert sorted(c.rule for c in CASES) == sorted(p.name for p in pack().policies)


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_compliant(case: Case) -> None:
    b = PlanBuilder(stack=case.env)
    case.compliant(b)
    violations = run(b.plan(), case.env, case.overrides)
    assert violations == [], "\n".join(f"{v.policy_name}: {v.message}" for v in violations)


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_violating(case: Case) -> None:
    b = PlanBuilder(stack=case.env)
    case.violating(b)
    found = of(run(b.plan(), case.env, case.overrides), case.rule)
    assert found, f"{case.rule} reported nothing"
    assert any(case.expect in v.message for v in found), [v.message for v in found]
    for violation in found:
        assert violation.enforcement == "mandatory"  # every rule is mandatory in prod
        assert violation.remediation and violation.description and violation.severity != "unspecified"
        assert violation.urn and violation.resource_name
