"""The cluster side of the environment stacks, as the engine would see it: cluster, provider wiring, Argo CD,
Argo Rollouts, and what Argo CD syncs (project, application set, sync policy), under the SDK mocks."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest
from planned import of_type, one, policy_of

from infra.components.argo_rollouts import CHART_VERSION as ROLLOUTS_VERSION
from infra.components.argocd import CHART_VERSION as ARGOCD_VERSION
from infra.config import parse_stack_config
from infra.plan.model import PlannedResource, PlanResult
from infra.plan.pack import load_pack
from infra.plan.policy_config import default_policy_config_path, load_policy_config
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT, ProgramError, plan_program
from infra.plan.verdict import evaluate

ENVS = ("dev", "staging", "prod")
RELEASE = "kubernetes:helm.sh/v3:Release"
PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
APPSET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
ACCOUNTS = {"dev": "222222222222", "staging": "333333333333", "prod": "444444444444"}


def dev_models(churn_delivery: str) -> dict:
    """The dev stack's models with churn delivered by `churn_delivery` (it is `pull` in the stack file)."""
    models = json.loads(load_stack(PROJECT_ROOT, "dev").config["mlops:models"])
    models["churn"]["deploy"]["delivery"] = churn_delivery
    return models


def k8s_provider(plan: PlanResult) -> PlannedResource:
    return one(plan, "pulumi:providers:kubernetes")


def release(plan: PlanResult, name: str) -> PlannedResource:
    return one(plan, RELEASE, name)


def config_of(stack: str, **overrides: object):
    raw = dict(load_stack(PROJECT_ROOT, stack).config)
    raw.update({f"mlops:{k}": json.dumps(v) for k, v in overrides.items()})
    return parse_stack_config(raw)


# -- provider wiring ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_every_kubernetes_resource_uses_the_one_explicit_provider(plans: dict[str, PlanResult], env: str) -> None:
    plan = plans[env]
    provider = k8s_provider(plan)
    k8s_resources = [r for r in plan.resources if r.type.startswith("kubernetes:") and r.custom]
    assert len(k8s_resources) >= 8
    assert {r.provider.rsplit("::", 1)[0] for r in k8s_resources} == {provider.urn}
    # The kubeconfig is a secret and authenticates through `aws eks get-token`, never a static token.
    assert "kubeconfig" in provider.secret_keys
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["args"][:2] == ["eks", "get-token"]
    cluster = one(plan, "aws:eks/cluster:Cluster")
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster.outputs["endpoint"]


# -- EKS -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_eks_encrypts_secrets_with_the_environment_key_and_keeps_the_endpoint_private(
    plans: dict[str, PlanResult], env: str
) -> None:
    plan = plans[env]
    cluster = one(plan, "aws:eks/cluster:Cluster")
    key_arn = one(plan, "aws:kms/key:Key").outputs["arn"]
    assert cluster.inputs["encryptionConfig"] == {"resources": ["secrets"], "provider": {"keyArn": key_arn}}
    assert cluster.inputs["vpcConfig"]["endpointPrivateAccess"] is True
    eks = config_of(env).cluster.eks
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is (eks.endpoint_access == "public-restricted")
    assert cluster.inputs["vpcConfig"].get("publicAccessCidrs") == (eks.public_endpoint_cidrs or None)
    assert cluster.inputs["accessConfig"] == {"authenticationMode": "API",
                                              "bootstrapClusterCreatorAdminPermissions": False}
    assert cluster.inputs["name"] == f"mlops-{env}-cluster"
    group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["scalingConfig"]["minSize"] >= 2
    assert group.inputs["subnetIds"] == cluster.inputs["vpcConfig"]["subnetIds"]


def test_access_entries_give_the_ci_deployer_and_the_configured_admins_cluster_admin(
    plans: dict[str, PlanResult],
) -> None:
    plan = plans["prod"]
    entries = {r.inputs["principalArn"] for r in of_type(plan, "aws:eks/accessEntry:AccessEntry")}
    assert entries == {"arn:aws:iam::444444444444:role/mlops-prod-ci-deploy",
                       "arn:aws:iam::444444444444:role/platform-admins",
                       "arn:aws:iam::444444444444:role/mlops-prod-ci-preview"}
    admins = {r.inputs["principalArn"] for r in of_type(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
              if r.inputs["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")}
    assert admins == entries - {"arn:aws:iam::444444444444:role/mlops-prod-ci-preview"}
    for association in of_type(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        if association.inputs["principalArn"] in admins:
            assert association.inputs["accessScope"] == {"type": "cluster"}
    # The provider connects only once the deployer may: its kubeconfig depends on the access policies.
    provider = k8s_provider(plan)
    associations = {r.urn for r in of_type(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert associations <= set(provider.dependencies)


def test_a_public_endpoint_is_restricted_to_the_configured_cidrs(plan_with: Callable[..., PlanResult]) -> None:
    cluster_config = json.loads(load_stack(PROJECT_ROOT, "dev").config["mlops:cluster"])
    cluster_config["eks"]["publicEndpointCidrs"] = ["203.0.113.0/24"]
    cluster = one(plan_with("dev", cluster=cluster_config), "aws:eks/cluster:Cluster")
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster.inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]


@pytest.mark.parametrize("env", ENVS)
def test_the_preview_role_may_only_view_the_stacks_namespaces(plans: dict[str, PlanResult], env: str) -> None:
    """Issue 16 §1: previews were Unauthorized on a reachable cluster. The preview role gets an access entry with
    the view policy, scoped to exactly the namespaces the stack declares resources in."""
    plan = plans[env]
    preview = f"arn:aws:iam::{ACCOUNTS[env]}:role/mlops-{env}-ci-preview"
    (association,) = [r for r in of_type(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
                      if r.inputs["principalArn"] == preview]
    assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    declared = {r.inputs["metadata"]["name"] for r in of_type(plan, "kubernetes:core/v1:Namespace")}
    declared |= {r.inputs["namespace"] for r in of_type(plan, RELEASE)}  # kube-system: metrics-server, autoscaler
    assert association.inputs["accessScope"] == {"type": "namespace", "namespaces": sorted(declared)}
    assert association.urn in k8s_provider(plan).dependencies


def test_irsa_role_trusts_only_the_model_servers_service_account_through_the_cluster_oidc_provider(
    plans: dict[str, PlanResult],
) -> None:
    plan = plans["staging"]
    oidc = one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cluster")
    issuer = one(plan, "aws:eks/cluster:Cluster").outputs["identities"][0]["oidcs"][0]["issuer"]
    assert oidc.inputs["url"] == issuer
    role = one(plan, "aws:iam/role:Role", "gitops-fraud")
    assert role.inputs["name"] == "mlops-staging-fraud-k8s-serving"
    (statement,) = policy_of(role, "assumeRolePolicy")["Statement"]
    host = issuer.removeprefix("https://")
    assert statement["Principal"] == {"Federated": oidc.outputs["arn"]}
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:sub": "system:serviceaccount:mlops-staging-fraud:model-server", f"{host}:aud": "sts.amazonaws.com"}
    actions = {a for s in policy_of(one(plan, "aws:iam/rolePolicy:RolePolicy", "gitops-fraud"))["Statement"]
               for a in s["Action"]}
    # and, as staging's fraud captures, write its capture (tests/infra/test_iam_model_server_capture.py)
    assert actions == {"sagemaker:DescribeModelPackage", "s3:GetObject", "kms:Decrypt", "kms:DescribeKey",
                       "s3:PutObject", "kms:GenerateDataKey"}


def test_an_existing_cluster_comes_from_a_secret_kubeconfig_and_nothing_eks_is_created(
    plan_with: Callable[..., PlanResult],
) -> None:
    kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
    oidc_arn = "arn:aws:iam::222222222222:oidc-provider/oidc.example.com/id/A"
    runner = {"labels": ["self-hosted", "mlops"], "location": "vpc"}
    plan = plan_with("dev", cluster={"kubeconfig": kubeconfig, "oidcProviderArn": oidc_arn, "ciRunner": runner})
    assert not [r for r in plan.resources if r.type.startswith("aws:eks/")]
    provider = k8s_provider(plan)
    assert provider.inputs["kubeconfig"] == kubeconfig and "kubeconfig" in provider.secret_keys
    (statement,) = policy_of(one(plan, "aws:iam/role:Role", "gitops-fraud"), "assumeRolePolicy")["Statement"]
    assert "oidc.example.com/id/A:sub" in statement["Condition"]["StringEquals"]
    # churn is delivered by pull in dev, which needs the provider for the ACK controller; serve it by push here.
    without_oidc = plan_with("dev", cluster={"kubeconfig": kubeconfig, "ciRunner": runner},
                             models=dev_models(churn_delivery="push"))
    assert not [r for r in of_type(without_oidc, "aws:iam/role:Role") if r.name == "gitops-fraud"]


# -- Argo CD -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_argocd_release_is_pinned_with_sso_readonly_default_and_no_local_admin(
    plans: dict[str, PlanResult], env: str
) -> None:
    argocd = release(plans[env], "argocd")
    assert (argocd.inputs["chart"], argocd.inputs["version"]) == ("argo-cd", ARGOCD_VERSION) == ("argo-cd", "10.1.1")
    assert argocd.inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    values = argocd.inputs["values"]
    assert values["configs"]["cm"]["admin.enabled"] is False
    assert values["configs"]["rbac"]["policy.default"] == "role:readonly"
    assert values["configs"]["rbac"]["policy.csv"] == "g, ml-platform-admins, role:admin\n"
    assert values["configs"]["params"]["server.insecure"] is False
    oidc = values["configs"]["cm"]["oidc.config"]
    assert f"clientID: argocd-{env}" in oidc and "clientSecret: $argocd-sso:clientSecret" in oidc
    # The client secret travels only as a secret, in a Secret Argo CD may read; the values hold none.
    assert argocd.secret_keys == frozenset()
    sso = one(plans[env], "kubernetes:core/v1:Secret", "argocd-sso")
    assert sso.inputs["metadata"]["name"] == "argocd-sso" and "stringData" in sso.secret_keys
    assert sso.inputs["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
    assert sso.urn in argocd.dependencies
    notifications = values["notifications"]
    assert set(notifications["triggers"]) == {"trigger.on-sync-failed", "trigger.on-health-degraded"}


def test_argocd_is_highly_available_in_prod_only(plans: dict[str, PlanResult]) -> None:
    for env in ENVS:
        values = release(plans[env], "argocd").inputs["values"]
        ha = env == "prod"
        assert values.get("redis-ha", {}).get("enabled", False) is ha, env
        assert values["server"].get("replicas", 1) == (2 if ha else 1), env
        assert values.get("repoServer", {}).get("replicas", 1) == (2 if ha else 1), env
        if ha:
            assert values["redis-ha"]["existingSecret"] == "argocd-redis"
        rollouts = release(plans[env], "argo-rollouts")
        assert rollouts.inputs["values"]["controller"]["replicas"] == (2 if ha else 1)


def test_notifications_subscribe_the_webhook_when_one_is_configured(plan_with: Callable[..., PlanResult]) -> None:
    argocd = json.loads(load_stack(PROJECT_ROOT, "dev").config["mlops:argocd"])
    argocd["notificationWebhookUrl"] = "https://hooks.example.com/T000/B000"
    plan = plan_with("dev", argocd=argocd)
    argocd_release = release(plan, "argocd")
    values = argocd_release.inputs["values"]
    assert values["notifications"]["subscriptions"] == [
        {"recipients": ["alerts"], "triggers": ["on-sync-failed", "on-health-degraded"]}]
    assert values["notifications"]["secret"] == {"create": False}
    assert "url: $webhook-url" in values["notifications"]["notifiers"]["service.webhook.alerts"]
    secret = one(plan, "kubernetes:core/v1:Secret", "argocd-notifications")
    assert secret.inputs["metadata"]["name"] == "argocd-notifications-secret"
    assert secret.inputs["stringData"] == {"webhook-url": "https://hooks.example.com/T000/B000"}
    assert "stringData" in secret.secret_keys and secret.urn in argocd_release.dependencies
    assert "hooks.example.com" not in json.dumps(values)


@pytest.mark.parametrize("env", ENVS)
def test_redis_secret_exists_before_the_release_and_the_init_hook_is_off(
    plans: dict[str, PlanResult], env: str
) -> None:
    plan = plans[env]
    secret = one(plan, "kubernetes:core/v1:Secret", "argocd-redis")
    assert secret.inputs["metadata"] == {"name": "argocd-redis", "namespace": "argocd",
                                         "labels": {"app.kubernetes.io/part-of": "argocd"}}
    assert "stringData" in secret.secret_keys
    password = one(plan, "random:index/randomPassword:RandomPassword")
    assert secret.property_dependencies["stringData"] == (password.urn,)
    argocd = release(plan, "argocd")
    assert secret.urn in argocd.dependencies
    assert argocd.inputs["values"]["redisSecretInit"] == {"enabled": False}
    # Registration order is creation order for dependent resources: the Secret is declared first.
    urns = [r.urn for r in plan.resources]
    assert urns.index(secret.urn) < urns.index(argocd.urn)


@pytest.mark.parametrize("env", ENVS)
def test_argocd_runs_no_dex_and_is_reached_as_the_stack_states(plans: dict[str, PlanResult], env: str) -> None:
    """Issue 16 §7: SSO goes straight to OIDC, so Dex is off; the server is reachable exactly as `access` says."""
    values = release(plans[env], "argocd").inputs["values"]
    assert values["dex"] == {"enabled": False}
    assert values["server"]["ingress"] == {"enabled": False}
    settings = config_of(env).argocd
    if settings.access.mode == "port-forward":
        assert "service" not in values["server"]  # the chart's ClusterIP: nothing outside the cluster
        assert settings.url.startswith("https://localhost:")
        return
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert values["server"]["service"] == {
        "type": "LoadBalancer", "loadBalancerSourceRanges": [],
        "annotations": {f"{prefix}type": "nlb", f"{prefix}internal": "true", f"{prefix}ssl-ports": "https",
                        f"{prefix}ssl-cert": settings.access.certificate_arn, f"{prefix}backend-protocol": "ssl"}}


def test_prod_delivers_both_notification_triggers(plans: dict[str, PlanResult]) -> None:
    values = release(plans["prod"], "argocd").inputs["values"]["notifications"]
    assert values["subscriptions"] == [{"recipients": ["alerts"], "triggers": ["on-sync-failed",
                                                                              "on-health-degraded"]}]


def test_a_private_repository_gets_an_argocd_credential_from_a_pulumi_secret(
        plan_with: Callable[..., PlanResult]) -> None:
    base = json.loads(load_stack(PROJECT_ROOT, "staging").config["mlops:argocd"])
    plan = plan_with("staging", argocd={**base, "repositoryToken": "github_pat_placeholder"})
    secret = one(plan, "kubernetes:core/v1:Secret", "argocd-repository")
    assert secret.inputs["metadata"] == {"name": "argocd-repo-gitops", "namespace": "argocd", "labels": {
        "argocd.argoproj.io/secret-type": "repository", "app.kubernetes.io/part-of": "argocd"}}
    data = secret.inputs["stringData"]
    assert (data["type"], data["url"]) == ("git", "https://github.com/acme/ml-platform.git")
    assert data["url"] == one(plan, PROJECT).inputs["spec"]["sourceRepos"][0]  # the repository Argo CD may read
    assert "stringData" in secret.secret_keys
    assert secret.urn in release(plan, "argocd").dependencies
    assert "github_pat_placeholder" not in json.dumps(release(plan, "argocd").inputs)
    # Without a token (a public repository) there is no credential at all.
    assert not [r for r in of_type(plan_with("staging"), "kubernetes:core/v1:Secret") if r.name == "argocd-repository"]


def test_argo_rollouts_release_is_pinned(plans: dict[str, PlanResult]) -> None:
    rollouts = release(plans["dev"], "argo-rollouts")
    assert (rollouts.inputs["chart"], rollouts.inputs["version"]) == ("argo-rollouts", ROLLOUTS_VERSION)
    assert rollouts.inputs["values"]["dashboard"] == {"enabled": False}


# -- what Argo CD syncs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_app_project_allows_only_the_repository_and_this_environments_namespaces(
    plans: dict[str, PlanResult], env: str
) -> None:
    project = one(plans[env], PROJECT)
    spec = project.inputs["spec"]
    assert project.inputs["metadata"] == {"name": f"mlops-{env}", "namespace": "argocd"}
    assert spec["sourceRepos"] == ["https://github.com/acme/ml-platform.git"]
    gitops_models = ["churn", "fraud"] if env == "dev" else ["fraud"]  # dev delivers churn by pull (ACK)
    assert spec["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": f"mlops-{env}-{m}"}
                                    for m in gitops_models]
    assert spec["clusterResourceWhitelist"] == []
    kinds = {(k["group"], k["kind"]) for k in spec["namespaceResourceWhitelist"]}
    assert ("argoproj.io", "Rollout") in kinds and ("", "Secret") not in kinds and ("rbac.authorization.k8s.io",
                                                                                     "Role") not in kinds
    (role,) = spec["roles"]
    assert role["name"] == "ci"
    assert role["policies"] == [f"p, proj:mlops-{env}:ci, applications, sync, mlops-{env}/*, allow"]
    assert argocd_release_urn(plans[env]) in project.dependencies


def argocd_release_urn(plan: PlanResult) -> str:
    return release(plan, "argocd").urn


@pytest.mark.parametrize("env", ENVS)
def test_application_set_generates_one_application_per_model_directory(
    plans: dict[str, PlanResult], env: str
) -> None:
    spec = one(plans[env], APPSET).inputs["spec"]
    (generator,) = spec["generators"]
    assert generator == {"git": {"repoURL": "https://github.com/acme/ml-platform.git", "revision": "main",
                                 "directories": [{"path": f"gitops/{env}/*"}]}}
    template = spec["template"]
    assert template["metadata"]["name"] == f"mlops-{env}-{{{{.path.basename}}}}"
    assert template["spec"]["project"] == f"mlops-{env}"
    assert template["spec"]["source"]["path"] == "{{.path.path}}"
    assert template["spec"]["destination"]["namespace"] == f"mlops-{env}-{{{{.path.basename}}}}"
    assert template["spec"]["syncPolicy"]["retry"] == {
        "limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
    gitops_models = ["churn", "fraud"] if env == "dev" else ["fraud"]  # dev delivers churn by pull (ACK)
    assert plans[env].outputs["gitopsApplications"] == {m: f"mlops-{env}-{m}" for m in gitops_models}


def test_sync_policy_is_automated_with_prune_and_self_heal_in_dev_and_staging(plans: dict[str, PlanResult]) -> None:
    for env in ("dev", "staging"):
        policy = one(plans[env], APPSET).inputs["spec"]["template"]["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True, "allowEmpty": False}, env
        assert "syncWindows" not in one(plans[env], PROJECT).inputs["spec"]


def test_prod_syncs_automatically_only_inside_its_windows(plans: dict[str, PlanResult]) -> None:
    windows = one(plans["prod"], PROJECT).inputs["spec"]["syncWindows"]
    assert windows == [{"kind": "allow", "schedule": "0 9 * * 1-4", "duration": "3h", "timeZone": "Europe/Berlin",
                        "applications": ["*"], "manualSync": True}]
    assert "automated" in one(plans["prod"], APPSET).inputs["spec"]["template"]["spec"]["syncPolicy"]


def test_manual_sync_has_no_automated_policy(plan_with: Callable[..., PlanResult]) -> None:
    argocd = json.loads(load_stack(PROJECT_ROOT, "prod").config["mlops:argocd"])
    argocd["sync"] = "manual"
    del argocd["syncWindows"]
    plan = plan_with("prod", argocd=argocd)
    policy = one(plan, APPSET).inputs["spec"]["template"]["spec"]["syncPolicy"]
    assert "automated" not in policy and policy["retry"]["limit"] == 5


def test_stacks_without_a_cluster_declare_no_kubernetes_resources(plan_with: Callable[..., PlanResult]) -> None:
    models = dev_models(churn_delivery="push")
    models["fraud"]["deploy"] = {"target": "none"}
    raw = dict(load_stack(PROJECT_ROOT, "dev").config)
    raw.pop("mlops:cluster")
    raw.pop("mlops:argocd")
    raw["mlops:models"] = json.dumps(models)
    stack = load_stack(PROJECT_ROOT, "dev")
    plan = plan_program(stack.program_dir, stack.project, "dev", raw, (), {
        raw["mlops:sharedStack"]: plan_with("shared").outputs})
    assert not [r for r in plan.resources if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))]
    assert "gitopsApplications" not in plan.outputs


# -- guardrails --------------------------------------------------------------------------------------------------
def test_pack_kubernetes_rules_fire_on_a_careless_program() -> None:
    program = PROJECT_ROOT / "tests" / "fixtures" / "careless_k8s_program"
    plan = plan_program(program, "careless", "prod", {})
    pack = load_pack(PROJECT_ROOT / "policies")
    violations = evaluate(pack, plan, load_policy_config(pack, default_policy_config_path(pack.directory, "prod")))
    fired = {(v.policy_name, v.resource_name) for v in violations if v.enforcement == "mandatory"}
    assert fired >= {("helm-chart-version-pinned", "argocd"), ("argocd-hardened", "argocd"),
                     ("k8s-model-server-hardened", "fraud-server")}
    messages = " ".join(v.message for v in violations)
    assert "admin account enabled" in messages and "default role 'role:admin'" in messages
    assert "may run as root" in messages and "'latest'" in messages


@pytest.mark.parametrize("env", ENVS)
def test_environment_plans_pass_the_kubernetes_rules(plans: dict[str, PlanResult], env: str) -> None:
    pack = load_pack(PROJECT_ROOT / "policies")
    violations = evaluate(pack, plans[env], load_policy_config(pack, default_policy_config_path(pack.directory, env)))
    assert [v for v in violations if v.policy_name.startswith(("helm-", "argocd-", "k8s-"))] == []


def test_program_error_for_bad_cluster_config_is_one_line(plan_with: Callable[..., PlanResult]) -> None:
    with pytest.raises(ProgramError) as caught:
        plan_with("dev", cluster={"eks": {"subnetIds": ["subnet-1"]}})
    assert "mlops:cluster.eks.subnetIds" in str(caught.value)


@pytest.mark.parametrize("env", ENVS)
def test_project_and_application_set_validate_against_the_pinned_argocd_crds(
    plans: dict[str, PlanResult], env: str
) -> None:
    sys.path.insert(0, str(PROJECT_ROOT / "tests" / "gitops"))
    from crd_schemas import validate  # the vendored argo-cd 10.1.1 CRDs

    for type_ in (PROJECT, APPSET):
        resource = one(plans[env], type_)
        assert validate(resource.inputs) == [], type_


@pytest.mark.parametrize("env", ENVS)
def test_the_offline_plan_shows_the_cluster_side_with_secrets_masked(plans: dict[str, PlanResult], env: str) -> None:
    from infra.plan.render import render_json, render_table

    table = render_table(plans[env])
    for line in ("mlops:cluster:KubernetesCluster cluster", "mlops:gitops:ArgoCd argocd",
                 "mlops:gitops:ArgoRollouts argo-rollouts", "mlops:gitops:GitOpsApps gitops"):
        assert line in table
    for type_ in (RELEASE, PROJECT, APPSET, "aws:eks/cluster:Cluster"):
        assert type_ in table
    document = json.loads(render_json(plans[env]))
    secret = next(r for r in document["resources"] if r["name"] == "argocd-redis" and r["type"].endswith("Secret"))
    assert secret["inputs"]["stringData"] == "[secret]"
    argocd = next(r for r in document["resources"] if r["type"] == RELEASE and r["name"] == "argocd")
    assert "PLACEHOLDER" not in json.dumps(argocd["inputs"])
    assert argocd["inputs"]["values"]["configs"]["rbac"]["policy.default"] == "role:readonly"  # reviewable


def test_switching_a_model_from_push_to_pull_swaps_its_endpoint_for_an_application(
    pushed_plans: dict[str, PlanResult], plan_with: Callable[..., PlanResult]
) -> None:
    models = json.loads(load_stack(PROJECT_ROOT, "dev").config["mlops:models"])
    models["churn"]["deploy"] = {"target": "kubernetes", "approvedVersion": 3}
    pulled = plan_with("dev", models=models)
    pushed = pushed_plans["dev"]
    assert [r.name for r in of_type(pushed, "aws:sagemaker/endpoint:Endpoint")] == ["churn"]
    assert of_type(pulled, "aws:sagemaker/endpoint:Endpoint") == []
    destinations = one(pulled, PROJECT).inputs["spec"]["destinations"]
    assert [d["namespace"] for d in destinations] == ["mlops-dev-churn", "mlops-dev-fraud"]
    assert pulled.outputs["gitopsApplications"] == {"churn": "mlops-dev-churn", "fraud": "mlops-dev-fraud"}
    assert one(pulled, "aws:iam/role:Role", "gitops-churn").inputs["name"] == "mlops-dev-churn-k8s-serving"
