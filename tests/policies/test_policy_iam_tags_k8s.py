"""Edge cases of the IAM, tagging, protection and Kubernetes rules."""

from __future__ import annotations

import pytest
from policy_factory import (
    DEFAULT_TAGS,
    REPOSITORY,
    UNKNOWN,
    PlanBuilder,
    github_trust,
    kms_key,
    of,
    policy_json,
    run,
    secure_bucket,
)

# --- IAM ----------------------------------------------------------------------------------------------


def _role(b: PlanBuilder, **inputs):  # type: ignore[no-untyped-def]
    trust = policy_json(
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    return b.add("aws:iam/role:Role", "r", {"assumeRolePolicy": trust, **inputs})


def test_admin_wildcard_in_inline_policy_managed_policy_and_secret_input() -> None:
    admin = policy_json({"Sid": "Everything", "Effect": "Allow", "Action": ["*"], "Resource": ["*"]})
    b = PlanBuilder()
    _role(b, inlinePolicies=[{"name": "inline-admin", "policy": admin}])
    b.add("aws:iam/policy:Policy", "managed", {"policy": admin})
    # A secret input reaches the pack as plain text (the CLI sends secrets; pulumi_policy unwraps them).
    b.add(
        "aws:iam/userPolicy:UserPolicy", "secretive", {"user": "u", "policy": admin}, secret_keys=["policy"]
    )
    messages = [v.message for v in of(run(b.plan()), "iam-no-admin-wildcard")]
    assert len(messages) == 3
    assert "'r' inline policy 'inline-admin': statement 'Everything'" in messages[0]


def test_deny_statements_and_scoped_wildcards_are_fine() -> None:
    b = PlanBuilder()
    document = policy_json(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/*"},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::444444444444:role/sagemaker/churn-*",
        },
    )
    b.add("aws:iam/rolePolicy:RolePolicy", "p", {"role": "r", "policy": document})
    violations = run(b.plan())
    assert of(violations, "iam-no-admin-wildcard") == [] and of(violations, "iam-no-passrole-wildcard") == []


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("iam:PassRole", "*"),
        ("iam:*", "*"),
        ("iam:Pass*", "arn:aws:iam::444444444444:role/*"),
        ("IAM:PASSROLE", "arn:aws:iam::*:*"),
    ],
)
def test_pass_role_wildcards(action: str, resource: str) -> None:
    b = PlanBuilder()
    b.add(
        "aws:iam/rolePolicy:RolePolicy",
        "p",
        {"role": "r", "policy": policy_json({"Effect": "Allow", "Action": action, "Resource": resource})},
    )
    assert of(run(b.plan()), "iam-no-passrole-wildcard")


def test_invalid_and_unknown_policy_documents() -> None:
    b = PlanBuilder()
    b.add("aws:iam/rolePolicy:RolePolicy", "broken", {"role": "r", "policy": "{not json"})
    b.add("aws:iam/rolePolicy:RolePolicy", "later", {"role": "r", "policy": UNKNOWN})
    messages = [v.message for v in of(run(b.plan()), "iam-no-admin-wildcard")]
    assert messages == ["RolePolicy 'broken' has a policy that is not valid JSON"]


@pytest.mark.parametrize(
    ("trust", "expected"),
    [
        (github_trust(f"repo:{REPOSITORY}:*", operator="StringLike"), None),
        (
            github_trust([f"repo:{REPOSITORY}:ref:refs/heads/main", f"repo:{REPOSITORY}:environment:prod"]),
            None,
        ),
        (
            github_trust("repo:acme/*:ref:refs/heads/main", operator="StringLike"),
            "wildcard in the owner or repository",
        ),
        (
            github_trust("repo:*/mlops-platform:*", operator="StringLike"),
            "wildcard in the owner or repository",
        ),
        (github_trust("repo:evil/mlops-platform:ref:refs/heads/main"), "not the configured repository"),
        (github_trust(""), "does not restrict token.actions.githubusercontent.com:sub"),
        (github_trust(audience=None), "does not pin token.actions.githubusercontent.com:aud"),
        (github_trust(audience="https://github.com/acme"), "must require StringEquals"),
    ],
)
def test_github_oidc_trust(trust: str, expected: str | None) -> None:
    b = PlanBuilder()
    b.add("aws:iam/role:Role", "deployer", {"assumeRolePolicy": trust})
    overrides = {"iam-github-oidc-trust-pinned": {"allowedRepositories": [REPOSITORY]}}
    messages = [v.message for v in of(run(b.plan(), overrides=overrides), "iam-github-oidc-trust-pinned")]
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


def test_github_trust_found_by_condition_keys_and_oidc_provider_audiences() -> None:
    b = PlanBuilder()
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::444444444444:oidc-provider/other"},
        "Action": ["sts:AssumeRoleWithWebIdentity"],
        "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "*"}},
    }
    b.add("aws:iam/role:Role", "sneaky", {"assumeRolePolicy": policy_json(statement)})
    b.add(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "github",
        {
            "url": "https://token.actions.githubusercontent.com",
            "clientIdLists": ["sts.amazonaws.com", "other"],
        },
    )
    messages = [v.message for v in of(run(b.plan()), "iam-github-oidc-trust-pinned")]
    assert any("role 'sneaky'" in m and "does not name a repository" in m for m in messages)
    assert any("OIDC provider 'github'" in m for m in messages)


# --- tags ---------------------------------------------------------------------------------------------


def test_provider_default_tags_as_object_or_json_and_resource_overrides() -> None:
    b = PlanBuilder(default_tags={"environment": "prod", "owner": "ml"})
    kms_key(b, "k1", tags={"cost-center": "cc", "managed-by": "pulumi"})
    kms_key(b, "k2")
    messages = [v.message for v in of(run(b.plan()), "aws-required-tags")]
    assert messages == [
        (
            "'k2' (aws:kms/key:Key) lacks required tag(s) cost-center, managed-by (neither its tags nor its "
            "provider's defaultTags set them)"
        )
    ]
    # Defaults given as an object (not JSON text) are read too.
    b.replace(b.provider, inputs={**b.provider.inputs, "defaultTags": {"tags": DEFAULT_TAGS}})
    assert of(run(b.plan()), "aws-required-tags") == []


def test_empty_tag_values_unknown_tags_and_untaggable_types() -> None:
    b = PlanBuilder(default_tags={})
    kms_key(b, "blank", tags={"environment": "", "owner": "o", "cost-center": "c", "managed-by": "m"})
    kms_key(b, "later", tags=UNKNOWN)
    b.add("aws:iam/rolePolicy:RolePolicy", "untaggable", {"role": "r", "policy": policy_json()})
    b.add("mlops:storage:SecureBucket", "component", {}, custom=False)
    messages = [v.message for v in of(run(b.plan()), "aws-required-tags")]
    assert len(messages) == 1 and "'blank'" in messages[0] and "environment" in messages[0]


def test_required_tags_and_exemptions_are_configurable() -> None:
    b = PlanBuilder(default_tags={})
    b.add("aws:sns/topic:Topic", "t", {"tags": {"team": "ml"}})
    assert (
        of(run(b.plan(), overrides={"aws-required-tags": {"requiredTags": ["team"]}}), "aws-required-tags")
        == []
    )
    exempt = {"aws-required-tags": {"exemptTypes": ["aws:sns/topic:Topic"]}}
    assert of(run(b.plan(), overrides=exempt), "aws-required-tags") == []


def test_unknown_provider_default_tags_are_not_violations() -> None:
    b = PlanBuilder()
    b.provider = b.replace(b.provider, inputs={**b.provider.inputs, "defaultTags": UNKNOWN})
    kms_key(b, "k")
    assert of(run(b.plan()), "aws-required-tags") == []


# --- protection ---------------------------------------------------------------------------------------


def test_protection_in_prod_only() -> None:
    b = PlanBuilder()
    parts = secure_bucket(b)
    b.replace(parts["key"], protect=False)
    b.add("aws:sagemaker/modelPackageGroup:ModelPackageGroup", "churn", {"modelPackageGroupName": "churn"})
    names = sorted(v.resource_name or "" for v in of(run(b.plan()), "stateful-resources-protected"))
    assert names == ["artifacts-key", "churn"]
    assert of(run(b.plan(), "dev"), "stateful-resources-protected") == []
    [advisory, _] = of(
        run(b.plan(), "staging", {"stateful-resources-protected": {"requireProtection": True}}),
        "stateful-resources-protected",
    )
    assert advisory.enforcement == "advisory"


# --- Kubernetes ---------------------------------------------------------------------------------------


def _release(
    b: PlanBuilder, chart: str = "argo-cd", version: object = "7.7.3", values: object = None
) -> None:
    inputs = {
        "chart": chart,
        "values": values if values is not None else {"configs": {"cm": {"admin.enabled": False}}},
    }
    if version is not None:
        inputs["version"] = version
    b.add("kubernetes:helm.sh/v3:Release", chart.split("/")[-1], inputs, provider=False)


@pytest.mark.parametrize(
    ("chart", "version", "ok"),
    [
        ("argo-cd", "7.7.3", True),
        ("oci://ghcr.io/argoproj/argo-helm/argo-cd", "v7.7.3-rc.1", True),
        ("./charts/model-server", None, True),
        ("argo-cd", "^7.7.0", False),
        ("argo-cd", "7.x", False),
        ("argo-cd", "", False),
        ("argo-cd", UNKNOWN, True),
    ],
)
def test_chart_versions(chart: str, version: object, ok: bool) -> None:
    b = PlanBuilder()
    _release(b, chart, version)
    assert (of(run(b.plan()), "helm-chart-version-pinned") == []) is ok


def test_argocd_insecure_behind_tls_ingress_is_fine() -> None:
    values = {
        "configs": {"params": {"server.insecure": "true"}, "cm": {"admin.enabled": "false"}},
        "server": {"ingress": {"enabled": True, "tls": True}},
    }
    b = PlanBuilder()
    _release(b, values=values)
    assert run(b.plan()) == []


def test_argocd_admin_default_role_and_legacy_insecure_flag() -> None:
    values = {"server": {"extraArgs": ["--insecure"]}, "configs": {"rbac": {"policy.default": "role:admin"}}}
    b = PlanBuilder()
    _release(b, values=values)
    messages = [v.message for v in of(run(b.plan()), "argocd-hardened")]
    assert len(messages) == 3
    assert any("admin account enabled" in m for m in messages)
    assert any("'role:admin'" in m for m in messages)
    dev = [v.message for v in of(run(b.plan(), "dev"), "argocd-hardened")]
    assert len(dev) == 2  # dev does not require the admin account to be disabled


def _deployment(
    b: PlanBuilder, containers: list, pod_security: dict | None = None, labels: dict | None = None
) -> None:  # type: ignore[type-arg]
    spec: dict = {"containers": containers}  # type: ignore[type-arg]
    if pod_security is not None:
        spec["securityContext"] = pod_security
    template = {"metadata": {"labels": labels or {}}, "spec": spec}
    b.add("kubernetes:apps/v1:Deployment", "server", {"spec": {"template": template}}, provider=False)


LIMITS = {"limits": {"cpu": "1", "memory": "1Gi"}}


def test_workload_non_root_from_pod_context_and_digest_images() -> None:
    b = PlanBuilder()
    image = "repo/model@sha256:" + "a" * 64
    _deployment(b, [{"name": "m", "image": image, "resources": LIMITS}], pod_security={"runAsNonRoot": True})
    assert of(run(b.plan()), "k8s-model-server-hardened") == []  # (k8s-pod-security-restricted asks for more)


def test_workload_root_untagged_and_missing_limits() -> None:
    b = PlanBuilder()
    containers = [
        {
            "name": "m",
            "image": "registry:5000/model",
            "securityContext": {"runAsUser": 0},
            "resources": {"limits": {"memory": "1Gi"}},
        },
    ]
    _deployment(b, containers, pod_security={"runAsNonRoot": True})
    messages = [v.message for v in of(run(b.plan()), "k8s-model-server-hardened")]
    assert len(messages) == 3
    assert any("may run as root" in m for m in messages)
    assert any("no resource limit for cpu" in m for m in messages)
    assert any("has no tag" in m for m in messages)


def test_workload_selector_limits_the_rule_to_model_servers() -> None:
    b = PlanBuilder()
    _deployment(b, [{"name": "sidecar", "image": "busybox:latest"}], labels={"app": "other"})
    selector = {
        "k8s-model-server-hardened": {"selectorLabels": {"app.kubernetes.io/component": "model-server"}}
    }
    assert of(run(b.plan(), overrides=selector), "k8s-model-server-hardened") == []
    assert of(run(b.plan()), "k8s-model-server-hardened")
