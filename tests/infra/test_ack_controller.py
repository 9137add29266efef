"""SageMaker by pull, the Pulumi side, under the SDK mocks: the ACK controller release, its least-privilege IRSA
role and trust, what Argo CD is told about ACK objects, and the push -> pull switch as a plan diff by URN."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from iam_eval import granted_actions, is_allowed
from planned import of_type, one, policy_of, stack_models

from infra.config import ConfigError, parse_stack_config
from infra.core import ack
from infra.plan.model import PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT

RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"
PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
SM = "arn:aws:sagemaker:us-east-1:222222222222"


def test_the_controller_release_is_the_pinned_official_chart_with_irsa(plans: dict[str, PlanResult]) -> None:
    dev = plans["dev"]
    release = one(dev, RELEASE, "ack-sagemaker")
    assert (release.inputs["chart"], release.inputs["version"]) == (
        "oci://public.ecr.aws/aws-controllers-k8s/sagemaker-chart", "1.9.1")
    assert release.inputs["namespace"] == "ack-system"
    values = release.inputs["values"]
    role = one(dev, ROLE, "ack-sagemaker")
    assert values["serviceAccount"] == {"create": True, "name": "ack-sagemaker-controller",
                                        "annotations": {"eks.amazonaws.com/role-arn": role.outputs["arn"]}}
    assert values["aws"] == {"region": "us-east-1"}
    assert values["reconcile"] == {"resources": ["Model", "EndpointConfig", "Endpoint", "DataQualityJobDefinition",
                                                 "MonitoringSchedule"]}
    assert values["enableCARM"] is False and values["enableCrossNamespace"] is False
    # The same explicit provider as every other Kubernetes resource.
    provider = one(dev, "pulumi:providers:kubernetes")
    assert release.provider.rsplit("::", 1)[0] == provider.urn


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_no_controller_where_no_model_is_pulled(plans: dict[str, PlanResult], env: str) -> None:
    plan = plans[env]
    assert not [r for r in plan.resources if "ack-sagemaker" in r.name]
    kinds = {(k["group"], k["kind"]) for k in one(plan, PROJECT).inputs["spec"]["namespaceResourceWhitelist"]}
    assert not {k for k in kinds if k[0] == ack.GROUP}


def test_the_controller_role_trusts_exactly_its_service_account_on_the_clusters_provider(
        plans: dict[str, PlanResult]) -> None:
    dev = plans["dev"]
    role = one(dev, ROLE, "ack-sagemaker")
    assert role.inputs["name"] == "mlops-dev-ack-sagemaker"
    (statement,) = policy_of(role, "assumeRolePolicy")["Statement"]
    oidc = one(dev, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cluster")
    assert statement["Principal"] == {"Federated": oidc.outputs["arn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    host = oidc.outputs["url"].removeprefix("https://")
    assert statement["Condition"] == {"StringEquals": {
        f"{host}:sub": "system:serviceaccount:ack-system:ack-sagemaker-controller", f"{host}:aud": "sts.amazonaws.com"}}


def test_the_controller_may_manage_exactly_the_pulled_endpoint_and_pass_exactly_its_serving_role(
        plans: dict[str, PlanResult]) -> None:
    dev = plans["dev"]
    (policy,) = [r for r in of_type(dev, "aws:iam/rolePolicy:RolePolicy") if r.name == "ack-sagemaker"]
    document = policy_of(policy)
    serving = one(dev, ROLE, "churn").outputs["arn"]
    assert serving.endswith(":role/mlops-dev-churn-serving")
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert is_allowed([document], "iam:PassRole", serving, passed)
    assert not is_allowed([document], "iam:PassRole", "arn:aws:iam::222222222222:role/mlops-dev-ci-deploy", passed)
    assert not is_allowed([document], "iam:PassRole", serving, {"iam:PassedToService": "ec2.amazonaws.com"})
    for action, arn in (("sagemaker:CreateModel", f"{SM}:model/mlops-dev-churn-7a4fda394f-v3"),
                        ("sagemaker:CreateEndpointConfig", f"{SM}:endpoint-config/mlops-dev-churn-config-1-v3"),
                        ("sagemaker:UpdateEndpoint", f"{SM}:endpoint/mlops-dev-churn"),
                        ("sagemaker:UpdateEndpoint", f"{SM}:endpoint-config/mlops-dev-churn-config-1-v4")):
        assert is_allowed([document], action, arn), (action, arn)
    for action, arn in (("sagemaker:UpdateEndpoint", f"{SM}:endpoint/mlops-dev-fraud"),
                        ("sagemaker:DeleteEndpoint", f"{SM}:endpoint/mlops-prod-churn"),
                        ("sagemaker:CreateModel", f"{SM}:model/someone-else"),
                        ("sagemaker:CreateTrainingJob", f"{SM}:training-job/mlops-dev-churn-x")):
        assert not is_allowed([document], action, arn), (action, arn)
    assert {a.split(":")[0] for a in granted_actions([document])} == {"sagemaker", "iam", "kms", "cloudwatch"}
    key = one(dev, "aws:kms/key:Key").outputs["arn"]
    assert is_allowed([document], "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "true"})
    assert not is_allowed([document], "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "false"})


def test_argocd_judges_ack_health_by_resource_synced_and_ignores_what_the_controller_writes(
        plans: dict[str, PlanResult]) -> None:
    cm = one(plans["prod"], RELEASE, "argocd").inputs["values"]["configs"]["cm"]
    for kind in ack.KINDS:
        health = cm[f"resource.customizations.health.sagemaker.services.k8s.aws_{kind}"]
        assert '"ACK.ResourceSynced"' in health and '"ACK.Terminal"' in health
    for kind in ack.ENDPOINT_KINDS:
        assert cm[f"resource.customizations.ignoreDifferences.sagemaker.services.k8s.aws_{kind}"].startswith(
            "jsonPointers:\n- /")
    for kind in ack.MONITOR_KINDS:  # the controller writes nothing back into their specs
        assert f"resource.customizations.ignoreDifferences.sagemaker.services.k8s.aws_{kind}" not in cm
    endpoint_ignored = cm["resource.customizations.ignoreDifferences.sagemaker.services.k8s.aws_Endpoint"]
    assert "last-endpoint-config-for-update" in endpoint_ignored
    assert "deploymentConfig" not in endpoint_ignored and "endpointConfigName" not in endpoint_ignored


def test_dev_project_admits_the_ack_kinds_and_churns_namespace(plans: dict[str, PlanResult]) -> None:
    dev = plans["dev"]
    spec = one(dev, PROJECT).inputs["spec"]
    kinds = {(k["group"], k["kind"]) for k in spec["namespaceResourceWhitelist"]}
    assert {(ack.GROUP, k) for k in ack.KINDS} <= kinds
    assert {"server": "https://kubernetes.default.svc", "namespace": "mlops-dev-churn"} in spec["destinations"]
    assert one(dev, "kubernetes:core/v1:Namespace", "gitops-churn").inputs["metadata"]["name"] == "mlops-dev-churn"
    assert not [r for r in of_type(dev, ROLE) if r.name == "gitops-churn"]  # nothing runs there: no IRSA role


def _custom(plan: PlanResult) -> dict[str, dict]:
    return {r.urn: r.inputs for r in plan.resources if r.custom}


def test_switching_churn_from_push_to_pull_swaps_exactly_the_endpoint_for_the_application(
        plans: dict[str, PlanResult], pushed_plans: dict[str, PlanResult]) -> None:
    """By URN: the model, configuration, endpoint (and their name generations) go; the namespace, the project's
    admission, the preview role's view of the new namespaces and the controller (the environment's first pulled
    model) come; nothing else changes. The execution
    role, key, alarms, autoscaling and dashboard stay, with the same inputs."""
    pushed, pulled = _custom(pushed_plans["dev"]), _custom(plans["dev"])
    removed = sorted(u.split("::")[-2] + " " + u.split("::")[-1] for u in set(pushed) - set(pulled))
    added = sorted(u.split("::")[-2] + " " + u.split("::")[-1] for u in set(pulled) - set(pushed))
    changed = sorted(u.split("::")[-2] + " " + u.split("::")[-1]
                     for u in set(pushed) & set(pulled) if pushed[u] != pulled[u])
    assert removed == sorted([
        "mlops:serving:SageMakerEndpoint$aws:sagemaker/model:Model churn",
        "mlops:serving:SageMakerEndpoint$aws:sagemaker/endpointConfiguration:EndpointConfiguration churn",
        "mlops:serving:SageMakerEndpoint$aws:sagemaker/endpoint:Endpoint churn",
        "mlops:serving:SageMakerEndpoint$random:index/randomId:RandomId churn-model-generation",
        "mlops:serving:SageMakerEndpoint$random:index/randomId:RandomId churn-config-generation",
        # The drift monitor's job definition and schedule move into the overlay (ACK); role and alarm stay.
        "mlops:monitoring:ModelMonitor$aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition churn",
        "mlops:monitoring:ModelMonitor$aws:sagemaker/monitoringSchedule:MonitoringSchedule churn",
    ])
    assert added == sorted([
        "mlops:gitops:GitOpsApps$kubernetes:core/v1:Namespace gitops-churn",
        "mlops:gitops:AckSageMakerController$aws:iam/role:Role ack-sagemaker",
        "mlops:gitops:AckSageMakerController$aws:iam/rolePolicy:RolePolicy ack-sagemaker",
        "mlops:gitops:AckSageMakerController$kubernetes:core/v1:Namespace ack-sagemaker",
        "mlops:gitops:AckSageMakerController$kubernetes:helm.sh/v3:Release ack-sagemaker",
    ])
    # The project admits the new namespace and kinds; the preview role's view scope covers the new namespaces.
    assert changed == ["mlops:cluster:KubernetesCluster$aws:eks/accessPolicyAssociation:AccessPolicyAssociation "
                       "cluster-preview",
                       "mlops:gitops:GitOpsApps$kubernetes:argoproj.io/v1alpha1:AppProject gitops-project"]
    kept = {r.type for r in plans["dev"].resources if r.parent and "SageMakerEndpoint" in r.parent}
    assert kept == {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/metricAlarm:MetricAlarm",
                    "aws:cloudwatch/dashboard:Dashboard"}
    assert plans["dev"].outputs["gitopsApplications"]["churn"] == "mlops-dev-churn"


def test_autoscaling_stays_in_pulumi_on_the_same_endpoint_name(plan_with: Callable[..., PlanResult]) -> None:
    models = stack_models("staging")
    models["churn"]["deploy"].pop("shadow")
    pushed = plan_with("staging", models=models)
    models["churn"]["deploy"]["delivery"] = "pull"
    pulled = plan_with("staging", models=models)
    for plan in (pushed, pulled):
        target = one(plan, "aws:appautoscaling/target:Target", "churn")
        assert target.inputs["resourceId"] == "endpoint/mlops-staging-churn/variant/AllTraffic"
    assert one(pulled, "aws:appautoscaling/policy:Policy", "churn").inputs == \
        one(pushed, "aws:appautoscaling/policy:Policy", "churn").inputs


@pytest.mark.parametrize(("change", "message"), [
    (lambda raw, models: models["churn"]["deploy"].update(
        {"delivery": "pull", "shadow": {"approvedVersion": 4, "instanceType": "ml.m5.large"}}),
     "shadow is not supported with delivery 'pull'"),
    (lambda raw, models: (models["churn"]["deploy"].update({"delivery": "pull"}), raw.pop("mlops:cluster"),
                          raw.pop("mlops:argocd")),
     "models churn use delivery 'pull', so a cluster section is required"),
    (lambda raw, models: (models["churn"]["deploy"].update({"delivery": "pull"}),
                          raw.update({"mlops:cluster": json.dumps({"kubeconfig": "apiVersion: v1\n", "ciRunner": {
                              "labels": ["self-hosted"], "location": "vpc"}})})),
     "delivery 'pull' needs cluster.oidcProviderArn with a kubeconfig cluster"),
    (lambda raw, models: models["churn"]["deploy"].update({"delivery": "pul"}),
     "delivery"),
])
def test_pull_config_mistakes_are_one_line_errors(change, message: str) -> None:
    raw = dict(load_stack(PROJECT_ROOT, "staging").config)
    models = json.loads(raw["mlops:models"])
    models["churn"]["deploy"].pop("shadow")
    change(raw, models)
    raw["mlops:models"] = json.dumps(models)
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_delivery_defaults_to_push() -> None:
    config = parse_stack_config(load_stack(PROJECT_ROOT, "prod").config)
    assert config.sagemaker_models()["churn"].delivery == "push"
    assert config.pulled_sagemaker_models() == {}
