"""Whole-stack tests: the real program planned from the real stack files.

These test the stacks (the composition in `infra/__main__.py` and the data in `stacks/`), not the components:
what each component declares is tested through a tiny program with hand-made args (`test_component_*.py`).
A test here may fail because a stack file changed; that is its job.
"""

from __future__ import annotations

import json

from planned import of_type, one, policy_of, provider_json, stack_models, statements_by_sid

from infra.plan.model import PlanResult

BUCKET = "aws:s3/bucket:Bucket"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_every_stack_declares_each_resource_through_the_explicit_provider_with_default_tags(
        plans: dict[str, PlanResult]) -> None:
    for stack, plan in plans.items():
        provider = one(plan, "pulumi:providers:aws")
        tags = provider_json(provider, "defaultTags")["tags"]
        assert {"environment", "owner", "cost-center", "managed-by", "pulumi-stack"} <= set(tags), stack
        assert tags["pulumi-stack"] == stack
        assert provider_json(provider, "allowedAccountIds")
        for resource in plan.resources:
            if resource.custom and resource.type.startswith("aws:"):
                assert resource.provider and resource.provider.startswith(provider.urn), (stack, resource.urn)


def test_stack_assume_role_reaches_the_provider(plan_with) -> None:
    role = {"roleArn": "arn:aws:iam::222222222222:role/deployer", "sessionName": "ci", "externalId": "x1"}
    assert "assumeRoles" not in one(plan_with("dev"), "pulumi:providers:aws").inputs
    provider = one(plan_with("dev", __aws_assumeRoles=[role]), "pulumi:providers:aws")
    assert provider_json(provider, "assumeRoles") == [role]


def test_shared_and_prod_stacks_protect_stateful_resources_dev_does_not(plans: dict[str, PlanResult]) -> None:
    for type_ in (BUCKET, "aws:kms/key:Key", "aws:ecr/repository:Repository",
                  "aws:sagemaker/modelPackageGroup:ModelPackageGroup"):
        resources = of_type(plans["shared"], type_)
        assert resources and all(r.protect for r in resources), type_
    assert one(plans["prod"], "aws:kms/key:Key").protect
    assert not one(plans["dev"], "aws:kms/key:Key").protect


def test_shared_stack_grants_its_reader_accounts_key_use_through_services(plans: dict[str, PlanResult]) -> None:
    readers = statements_by_sid(one(plans["shared"], "aws:kms/key:Key"))["EnvironmentAccountsUseKeyThroughServices"]
    assert readers["Principal"]["AWS"] == [f"arn:aws:iam::{a}:root" for a in
                                           ("222222222222", "333333333333", "444444444444")]


def test_shared_stack_pipelines_use_the_stacks_own_repositories_key_and_role(plans: dict[str, PlanResult]) -> None:
    shared = plans["shared"]
    for model in stack_models("shared"):
        pipeline = one(shared, "aws:sagemaker/pipeline:Pipeline", model)
        steps = {s["Name"]: s for s in json.loads(pipeline.inputs["pipelineDefinition"])["Steps"]}
        train = steps["Train"]["Arguments"]
        assert train["RoleArn"] == pipeline.inputs["roleArn"] == (
            f"arn:aws:iam::111111111111:role/mlops-shared-{model}-pipeline")
        repository = one(shared, "aws:ecr/repository:Repository", f"{model}-training")
        image_tag = stack_models("shared")[model]["training"]["imageTag"]
        assert train["AlgorithmSpecification"]["TrainingImage"] == f"{repository.outputs['repositoryUrl']}:{image_tag}"
        assert train["ResourceConfig"]["VolumeKmsKeyId"] == one(shared, "aws:kms/key:Key").outputs["arn"]


def test_shared_stack_promotion_trigger_covers_every_models_package_group(plans: dict[str, PlanResult]) -> None:
    shared = plans["shared"]
    pattern = json.loads(one(shared, "aws:cloudwatch/eventRule:EventRule", "promotion").inputs["eventPattern"])
    groups = [g.inputs["modelPackageGroupName"]
              for g in of_type(shared, "aws:sagemaker/modelPackageGroup:ModelPackageGroup")]
    assert pattern["detail"]["ModelPackageGroupName"] == sorted(groups) == ["mlops-shared-churn", "mlops-shared-fraud"]


def test_environment_stacks_roll_out_blue_green_and_roll_back_on_every_alarm(
        pushed_plans: dict[str, PlanResult]) -> None:
    expected = {"dev": "ALL_AT_ONCE", "staging": "LINEAR", "prod": "CANARY"}
    for stack, routing in expected.items():
        plan = pushed_plans[stack]
        config = one(plan, "aws:sagemaker/endpoint:Endpoint").inputs["deploymentConfig"]
        assert config["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]["type"] == routing
        # Every alarm on the endpoint rolls a release back; the drift alarm watches the monitor, not the release.
        alarm_names = {a.inputs["name"] for a in of_type(plan, ALARM) if "EndpointName" in a.inputs["dimensions"]}
        assert f"mlops-{stack}-churn-drift" in {a.inputs["name"] for a in of_type(plan, ALARM)}
        rollback = {a["alarmName"] for a in config["autoRollbackConfiguration"]["alarms"]}
        assert rollback == alarm_names == {f"mlops-{stack}-churn-{s}" for s in ("5xx-errors", "model-errors",
                                                                                "latency-p99")}


def test_prod_stack_pages_its_alarm_topic_and_captures_into_the_shared_bucket(plans: dict[str, PlanResult]) -> None:
    prod = plans["prod"]
    topic_arn = one(prod, "aws:sns/topic:Topic").outputs["arn"]
    alarms = of_type(prod, ALARM)
    assert alarms and all(a.inputs["alarmActions"] == [topic_arn] for a in alarms)
    config = one(prod, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    assert config["kmsKeyArn"] == one(prod, "aws:kms/key:Key").outputs["arn"]
    assert config["dataCaptureConfig"]["destinationS3Uri"] == "s3://mlops-shared-capture-111111111111/prod/churn/"


def test_dev_stack_serves_pulled_and_kubernetes_models_without_an_endpoint_but_exports_their_pin(
        plans: dict[str, PlanResult]) -> None:
    dev = plans["dev"]  # churn: SageMaker by pull (ACK); fraud: Kubernetes
    assert of_type(dev, "aws:sagemaker/endpoint:Endpoint") == []
    assert dev.outputs["pinnedVersions"] == {"churn": 3, "fraud": 2}


def test_environment_stack_ci_roles_trust_this_repository_and_environment(plans: dict) -> None:
    for stack in ("dev", "prod"):
        plan = plans[stack]
        provider_arn = one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github").outputs["arn"]
        for role_name, subject in (("ci-preview", "repo:acme/ml-platform:pull_request"),
                                   ("ci-deploy", f"repo:acme/ml-platform:environment:{stack}")):
            (statement,) = policy_of(one(plan, "aws:iam/role:Role", role_name), "assumeRolePolicy")["Statement"]
            assert statement["Principal"] == {"Federated": provider_arn}
            assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == subject


def test_stack_network_reaches_training_jobs_models_and_their_roles(plan_with) -> None:
    network = {"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}
    shared = plan_with("shared", network=network)
    definition = json.loads(one(shared, "aws:sagemaker/pipeline:Pipeline", "churn").inputs["pipelineDefinition"])
    train = next(s for s in definition["Steps"] if s["Name"] == "Train")["Arguments"]
    assert train["VpcConfig"] == {"Subnets": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    assert "AttachToVpc" in statements_by_sid(one(shared, "aws:iam/rolePolicy:RolePolicy", "churn"))
    prod = plan_with("prod", network=network)
    assert one(prod, "aws:sagemaker/model:Model").inputs["vpcConfig"] == {
        "subnets": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}
    assert "AttachToVpc" in statements_by_sid(one(prod, "aws:iam/rolePolicy:RolePolicy", "churn"))
