"""What each component declares, as the engine would see it: the properties a reviewer would check."""

from __future__ import annotations

import json

from planned import of_type, one, policy_of, stack_models

from infra.plan.model import PlanResult

BUCKET = "aws:s3/bucket:Bucket"


def companions(plan: PlanResult, type_: str, bucket_urn: str) -> list:
    return [r for r in of_type(plan, type_) if bucket_urn in r.property_dependencies.get("bucket", ())]


# -- artifact store ------------------------------------------------------------------------------------------
def test_every_bucket_is_private_kms_encrypted_versioned_and_tls_only(plans: dict[str, PlanResult]) -> None:
    shared = plans["shared"]
    buckets = of_type(shared, BUCKET)
    assert {b.name for b in buckets} == {"artifacts-data", "artifacts-artifacts", "artifacts-capture"}
    key_arn = one(shared, "aws:kms/key:Key").outputs["arn"]
    for bucket in buckets:
        (block,) = companions(shared, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket.urn)
        assert all(block.inputs[k] is True for k in
                   ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        (sse,) = companions(shared, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                    "BucketServerSideEncryptionConfiguration", bucket.urn)
        default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
        (versioning,) = companions(shared, "aws:s3/bucketVersioning:BucketVersioning", bucket.urn)
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        (policy,) = companions(shared, "aws:s3/bucketPolicy:BucketPolicy", bucket.urn)
        deny = policy_of(policy)["Statement"][0]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        (lifecycle,) = companions(shared, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                                  bucket.urn)
        assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] > 0


def test_key_rotates_and_environment_accounts_only_use_it_through_services(plans: dict[str, PlanResult]) -> None:
    key = one(plans["shared"], "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    readers = [s for s in policy_of(key)["Statement"] if s["Sid"] == "EnvironmentAccountsUseKeyThroughServices"]
    assert readers[0]["Principal"]["AWS"] == [f"arn:aws:iam::{a}:root" for a in
                                              ("222222222222", "333333333333", "444444444444")]
    assert "kms:ViaService" in readers[0]["Condition"]["StringLike"]


def test_shared_and_prod_stateful_resources_are_protected_dev_not(plans: dict[str, PlanResult]) -> None:
    for type_ in (BUCKET, "aws:kms/key:Key", "aws:ecr/repository:Repository",
                  "aws:sagemaker/modelPackageGroup:ModelPackageGroup"):
        assert all(r.protect for r in of_type(plans["shared"], type_)), type_
    assert one(plans["prod"], "aws:kms/key:Key").protect
    assert not one(plans["dev"], "aws:kms/key:Key").protect


# -- registries ----------------------------------------------------------------------------------------------
def test_image_repositories_scan_on_push_are_immutable_and_kms_encrypted(plans: dict[str, PlanResult]) -> None:
    repositories = of_type(plans["shared"], "aws:ecr/repository:Repository")
    assert {r.inputs["name"] for r in repositories} == {
        f"mlops-shared-{m}-{role}" for m in ("churn", "fraud") for role in ("training", "serving")}
    for repository in repositories:
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"
    assert len(of_type(plans["shared"], "aws:ecr/lifecyclePolicy:LifecyclePolicy")) == 4


def test_package_groups_are_readable_by_exactly_the_environment_accounts(plans: dict[str, PlanResult]) -> None:
    for policy in of_type(plans["shared"], "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"):
        (statement,) = policy_of(policy, "resourcePolicy")["Statement"]
        assert len(statement["Principal"]["AWS"]) == 3
        assert set(statement["Action"]) <= {"sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
                                            "sagemaker:ListModelPackages"}


# -- training ------------------------------------------------------------------------------------------------
def test_pipeline_definition_is_built_and_wired_to_the_model_resources(plans: dict[str, PlanResult]) -> None:
    shared = plans["shared"]
    pipeline = one(shared, "aws:sagemaker/pipeline:Pipeline", "churn")
    definition = json.loads(pipeline.inputs["pipelineDefinition"])
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert {"Preprocess", "Train", "Evaluate", "CheckMetricGate"} <= set(steps)
    train = steps["Train"]["Arguments"]
    assert train["EnableNetworkIsolation"] is True and train["EnableInterContainerTrafficEncryption"] is True
    assert train["EnableManagedSpotTraining"] is True  # churn opts into spot in the shared stack
    role_arn = "arn:aws:iam::111111111111:role/mlops-shared-churn-pipeline"
    assert train["RoleArn"] == pipeline.inputs["roleArn"] == role_arn
    repository = one(shared, "aws:ecr/repository:Repository", "churn-training")
    assert train["AlgorithmSpecification"]["TrainingImage"] == repository.outputs["repositoryUrl"] + ":1.4.0"


def test_pipeline_role_is_scoped_to_its_model_and_passes_only_itself(plans: dict[str, PlanResult]) -> None:
    statements = policy_of(one(plans["shared"], "aws:iam/rolePolicy:RolePolicy", "churn"))["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadTrainingData"]["Resource"] == ["arn:aws:s3:::mlops-shared-data-111111111111/churn/*"]
    assert by_sid["PassOwnRoleToJobs"]["Resource"] == ["arn:aws:iam::111111111111:role/mlops-shared-churn-pipeline"]
    assert by_sid["PassOwnRoleToJobs"]["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"
    assert not any(s["Action"] == ["*"] or "*" in s["Action"] for s in statements)


def test_retraining_schedule_starts_exactly_this_pipeline(plans: dict[str, PlanResult]) -> None:
    shared = plans["shared"]
    rule = one(shared, "aws:cloudwatch/eventRule:EventRule", "churn-schedule")
    assert rule.inputs["scheduleExpression"] == "rate(7 days)"
    target = one(shared, "aws:cloudwatch/eventTarget:EventTarget", "churn-schedule")
    assert target.inputs["arn"] == one(shared, "aws:sagemaker/pipeline:Pipeline", "churn").outputs["arn"]


def test_approval_events_of_every_group_reach_the_promotion_topic(plans: dict[str, PlanResult]) -> None:
    shared = plans["shared"]
    pattern = json.loads(one(shared, "aws:cloudwatch/eventRule:EventRule", "promotion").inputs["eventPattern"])
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert pattern["detail"] == {"ModelApprovalStatus": ["Approved"],
                                 "ModelPackageGroupName": ["mlops-shared-churn", "mlops-shared-fraud"]}
    topic = one(shared, "aws:sns/topic:Topic", "promotion")
    assert one(shared, "aws:cloudwatch/eventTarget:EventTarget", "promotion").inputs["arn"] == topic.outputs["arn"]
    assert topic.inputs["kmsMasterKeyId"]


# -- serving -------------------------------------------------------------------------------------------------
def test_rollout_strategy_per_environment_with_rollback_on_every_alarm(plans: dict[str, PlanResult]) -> None:
    expected = {"dev": ("ALL_AT_ONCE", None), "staging": ("LINEAR", "linearStepSize"), "prod": ("CANARY", "canarySize")}
    for stack, (routing, size_key) in expected.items():
        plan = plans[stack]
        config = one(plan, "aws:sagemaker/endpoint:Endpoint").inputs["deploymentConfig"]
        traffic = config["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
        assert traffic["type"] == routing
        if size_key:
            assert traffic[size_key]["type"] == "INSTANCE_COUNT"
        alarm_names = {a.inputs["name"] for a in of_type(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")}
        rollback = {a["alarmName"] for a in config["autoRollbackConfiguration"]["alarms"]}
        assert rollback == alarm_names == {f"mlops-{stack}-churn-{s}" for s in ("5xx-errors", "model-errors",
                                                                                "latency-p99")}


def test_alarms_watch_the_endpoint_and_route_to_the_alarm_topic(plans: dict[str, PlanResult]) -> None:
    prod = plans["prod"]
    topic_arn = one(prod, "aws:sns/topic:Topic").outputs["arn"]
    endpoint = one(prod, "aws:sagemaker/endpoint:Endpoint")
    metrics = {}
    for alarm in of_type(prod, "aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert alarm.inputs["dimensions"] == {"EndpointName": endpoint.inputs["name"], "VariantName": "AllTraffic"}
        assert alarm.inputs["alarmActions"] == [topic_arn]
        metrics[alarm.inputs["metricName"]] = alarm.inputs
    assert metrics["ModelLatency"]["extendedStatistic"] == "p99"
    assert metrics["ModelLatency"]["threshold"] == 250_000  # 250 ms in microseconds
    assert metrics["Invocation5XXErrors"]["threshold"] == 3
    assert all(a.urn in endpoint.dependencies for a in of_type(prod, "aws:cloudwatch/metricAlarm:MetricAlarm"))


def test_endpoint_configuration_encrypts_captures_and_serves_the_pinned_package(plans: dict[str, PlanResult]) -> None:
    prod = plans["prod"]
    config = one(prod, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    assert config["kmsKeyArn"] == one(prod, "aws:kms/key:Key").outputs["arn"]
    capture = config["dataCaptureConfig"]
    assert capture["enableCapture"] is True and capture["initialSamplingPercentage"] == 20
    assert capture["destinationS3Uri"] == "s3://mlops-shared-capture-111111111111/prod/churn/"
    assert capture["kmsKeyId"].startswith("arn:aws:kms:us-east-1:111111111111:key/")
    (variant,) = config["productionVariants"]
    assert (variant["instanceType"], variant["initialInstanceCount"]) == ("ml.c5.xlarge", 4)
    model = one(prod, "aws:sagemaker/model:Model")
    assert model.inputs["primaryContainer"]["modelPackageName"] == (
        "arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-shared-churn/3")
    assert model.inputs["enableNetworkIsolation"] is True
    assert variant["modelName"] == model.outputs["name"]
    by_sid = {s["Sid"]: s for s in policy_of(one(prod, "aws:iam/rolePolicy:RolePolicy", "churn"))["Statement"]}
    assert by_sid["WriteDataCapture"]["Resource"] == ["arn:aws:s3:::mlops-shared-capture-111111111111/prod/churn/*"]
    assert by_sid["EncryptDataCapture"]["Resource"] == [capture["kmsKeyId"]]


def test_staging_runs_a_shadow_variant_of_the_next_candidate(plans: dict[str, PlanResult]) -> None:
    staging = plans["staging"]
    config = one(staging, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    (shadow,) = config["shadowProductionVariants"]
    shadow_model = one(staging, "aws:sagemaker/model:Model", "churn-shadow")
    assert shadow["modelName"] == shadow_model.outputs["name"]
    assert shadow_model.inputs["primaryContainer"]["modelPackageName"].endswith("/mlops-shared-churn/4")


def test_autoscaling_tracks_invocations_per_instance_of_the_endpoint_variant(plans: dict[str, PlanResult]) -> None:
    prod = plans["prod"]
    target = one(prod, "aws:appautoscaling/target:Target")
    assert target.inputs["resourceId"] == "endpoint/mlops-prod-churn/variant/AllTraffic"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (4, 8)
    policy = one(prod, "aws:appautoscaling/policy:Policy").inputs["targetTrackingScalingPolicyConfiguration"]
    assert policy["targetValue"] == 500
    assert policy["predefinedMetricSpecification"]["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert not of_type(plans["dev"], "aws:appautoscaling/target:Target")


def test_endpoint_configuration_name_changes_exactly_when_its_content_changes(plan_with) -> None:
    models = stack_models("prod")

    def config_name(**deploy: object) -> str:
        changed = {**models, "churn": {**models["churn"], "deploy": {**models["churn"]["deploy"], **deploy}}}
        plan = plan_with("prod", models=changed)
        return one(plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["name"]

    baseline = config_name()
    assert baseline == config_name()  # same content, same name: no needless replacement
    assert baseline.startswith("mlops-prod-churn-")
    assert config_name(instanceType="ml.c5.2xlarge") != baseline
    assert config_name(dataCapturePercent=30) != baseline
    assert config_name(approvedVersion=4) != baseline  # a new model (version) is new content
    # Rollout settings live on the endpoint, not the configuration: they must not replace it.
    assert config_name(rollout={"strategy": "linear", "stepPercent": 25, "waitSeconds": 900}) == baseline


def test_serverless_variant_has_no_volume_key_no_blue_green_and_no_autoscaling(plan_with) -> None:
    models = stack_models("dev")
    churn = {**models["churn"], "deploy": {"target": "sagemaker", "approvedVersion": 3,
                                           "serverless": {"memorySizeMb": 2048, "maxConcurrency": 5}}}
    plan = plan_with("dev", models={**models, "churn": churn})
    config = one(plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    assert "kmsKeyArn" not in config
    assert config["productionVariants"][0]["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 5}
    assert "deploymentConfig" not in one(plan, "aws:sagemaker/endpoint:Endpoint").inputs
    assert len(of_type(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")) == 3


def test_kubernetes_models_get_no_sagemaker_endpoint_but_their_pin_is_exported(plans: dict[str, PlanResult]) -> None:
    dev = plans["dev"]
    assert [r.name for r in of_type(dev, "aws:sagemaker/endpoint:Endpoint")] == ["churn"]
    assert dev.outputs["pinnedVersions"] == {"churn": 3, "fraud": 2}


# -- CI identity ---------------------------------------------------------------------------------------------
def test_ci_roles_trust_only_this_repository_for_pull_requests_and_its_environment(plans: dict) -> None:
    for stack in ("dev", "prod"):
        plan = plans[stack]
        provider_arn = one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").outputs["arn"]
        for role_name, subject in (("ci-preview", "repo:acme/ml-platform:pull_request"),
                                   ("ci-deploy", f"repo:acme/ml-platform:environment:{stack}")):
            (statement,) = policy_of(one(plan, "aws:iam/role:Role", role_name), "assumeRolePolicy")["Statement"]
            assert statement["Principal"] == {"Federated": provider_arn}
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
            assert statement["Condition"] == {"StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": subject}}


def test_preview_role_reads_metadata_but_not_data(plans: dict[str, PlanResult]) -> None:
    dev = plans["dev"]
    attachment = one(dev, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ci-preview")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    (deny,) = policy_of(one(dev, "aws:iam/rolePolicy:RolePolicy", "ci-preview"))["Statement"]
    assert deny["Effect"] == "Deny" and "s3:GetObject" in deny["Action"]


def test_deploy_role_passes_only_this_stacks_roles(plans: dict[str, PlanResult]) -> None:
    statements = policy_of(one(plans["prod"], "aws:iam/rolePolicy:RolePolicy", "ci-deploy"))["Statement"]
    pass_role = next(s for s in statements if "iam:PassRole" in s["Action"])
    assert pass_role["Resource"] == ["arn:aws:iam::444444444444:role/mlops-prod-*"]
    assert all(a != "*" and not a.endswith(":*") for s in statements for a in s["Action"])
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ManageStackBuckets"]["Resource"] == ["arn:aws:s3:::mlops-prod-*"]
    assert by_sid["ManageKeysTaggedForThisStack"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/pulumi-stack": "prod"}}
    assert not any("s3:GetObject" in s["Action"] for s in statements)


def test_every_resource_uses_the_explicit_provider_with_default_tags(plans: dict[str, PlanResult]) -> None:
    for stack, plan in plans.items():
        provider = one(plan, "pulumi:providers:aws")
        tags = json.loads(provider.inputs["defaultTags"])["tags"] if isinstance(
            provider.inputs["defaultTags"], str) else provider.inputs["defaultTags"]["tags"]
        assert {"environment", "owner", "cost-center", "managed-by"} <= set(tags)
        assert provider.inputs["allowedAccountIds"]
        for resource in plan.resources:
            if resource.custom and resource.type.startswith("aws:"):
                assert resource.provider and resource.provider.startswith(provider.urn), (stack, resource.urn)


def test_assume_role_from_the_stack_file_reaches_the_provider(plan_with) -> None:
    role = {"roleArn": "arn:aws:iam::222222222222:role/deployer", "sessionName": "ci", "externalId": "x1"}
    assert "assumeRoles" not in one(plan_with("dev"), "pulumi:providers:aws").inputs
    plan = plan_with("dev", __aws_assumeRoles=[role])
    provider = one(plan, "pulumi:providers:aws").inputs
    roles = json.loads(provider["assumeRoles"]) if isinstance(provider["assumeRoles"], str) else provider["assumeRoles"]
    assert roles == [role]


def test_private_network_reaches_jobs_models_and_their_roles(plan_with) -> None:
    network = {"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}
    shared = plan_with("shared", network=network)
    definition = json.loads(one(shared, "aws:sagemaker/pipeline:Pipeline", "churn").inputs["pipelineDefinition"])
    train = next(s for s in definition["Steps"] if s["Name"] == "Train")["Arguments"]
    assert train["VpcConfig"] == {"Subnets": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    sids = {s["Sid"] for s in policy_of(one(shared, "aws:iam/rolePolicy:RolePolicy", "churn"))["Statement"]}
    assert "AttachToVpc" in sids
    prod = plan_with("prod", network=network)
    model = one(prod, "aws:sagemaker/model:Model")
    assert model.inputs["vpcConfig"] == {"subnets": ["subnet-0123456789abcdef0"],
                                         "securityGroupIds": ["sg-0123456789abcdef0"]}
    sids = {s["Sid"] for s in policy_of(one(prod, "aws:iam/rolePolicy:RolePolicy", "churn"))["Statement"]}
    assert "AttachToVpc" in sids
    assert "AttachToVpc" not in {s["Sid"] for s in policy_of(
        one(plan_with("prod"), "aws:iam/rolePolicy:RolePolicy", "churn"))["Statement"]}
