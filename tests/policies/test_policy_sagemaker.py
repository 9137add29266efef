"""Edge cases of the SageMaker rules: environments, serverless, pipelines, jobs, cost guard, operability."""

from __future__ import annotations

import json

from policy_factory import UNKNOWN, PlanBuilder, endpoint_stack, of, pipeline, pipeline_definition, run


def _inputs(b: PlanBuilder, resource, **changes):  # type: ignore[no-untyped-def]
    return b.replace(resource, inputs={**resource.inputs, **changes})


# --- endpoint configuration ---------------------------------------------------------------------------


def test_serverless_endpoint_needs_no_kms_capture_blue_green_or_autoscaling() -> None:
    b = PlanBuilder()
    endpoint_stack(b, serverless=True)
    violations = run(b.plan(), overrides={"sagemaker-endpoint-safe-deployment": {"requireBlueGreen": False}})
    assert violations == []


def test_local_storage_instance_families_are_exempt_from_kms_key() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    variant = {
        "variantName": "primary",
        "modelName": "m",
        "instanceType": "ml.g4dn.xlarge",
        "initialInstanceCount": 1,
    }
    config = parts["config"]
    _inputs(b, config, productionVariants=[variant], kmsKeyArn=None)
    assert of(run(b.plan()), "sagemaker-endpoint-kms") == []


def test_shadow_variant_without_key_is_named() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    shadow = {
        "variantName": "shadow",
        "modelName": "m4",
        "instanceType": "ml.c5.xlarge",
        "initialInstanceCount": 1,
    }
    _inputs(b, parts["config"], kmsKeyArn=None, shadowProductionVariants=[shadow])
    [violation] = of(run(b.plan()), "sagemaker-endpoint-kms")
    assert "variant(s) primary, shadow" in violation.message


def test_data_capture_sampling_minimum_and_encryption() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    capture = {
        **parts["config"].inputs["dataCaptureConfig"],
        "initialSamplingPercentage": 5,
        "kmsKeyId": None,
    }
    _inputs(b, parts["config"], dataCaptureConfig=capture)
    messages = sorted(v.message for v in of(run(b.plan()), "sagemaker-data-capture"))
    assert any("captures 5% of requests" in m and "minimum is 20%" in m for m in messages)
    assert any("without a customer-managed key" in m for m in messages)


def test_data_capture_is_not_required_in_dev_but_is_in_staging() -> None:
    b = PlanBuilder(stack="dev")
    parts = endpoint_stack(b)
    _inputs(b, parts["config"], dataCaptureConfig=None)
    assert of(run(b.plan(), "dev"), "sagemaker-data-capture") == []
    [violation] = of(run(b.plan(), "staging"), "sagemaker-data-capture")
    assert violation.enforcement == "mandatory"


def test_disabled_capture_is_a_violation_and_unknown_capture_is_not() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    capture = {**parts["config"].inputs["dataCaptureConfig"], "enableCapture": False}
    _inputs(b, parts["config"], dataCaptureConfig=capture)
    assert any("disables data capture" in v.message for v in of(run(b.plan()), "sagemaker-data-capture"))

    b = PlanBuilder()
    parts = endpoint_stack(b)
    _inputs(b, parts["config"], dataCaptureConfig=UNKNOWN)
    assert of(run(b.plan()), "sagemaker-data-capture") == []


# --- endpoint deployment ------------------------------------------------------------------------------


def _deployment(kind: str, step: dict | None, alarms: list) -> dict:  # type: ignore[type-arg]
    routing: dict = {"type": kind, "waitIntervalInSeconds": 300}  # type: ignore[type-arg]
    if step is not None:
        routing["canarySize" if kind == "CANARY" else "linearStepSize"] = step
    return {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": routing},
        "autoRollbackConfiguration": {"alarms": alarms},
    }


def test_all_at_once_and_missing_step_and_alarms_are_violations() -> None:
    alarm = [{"alarmName": "churn-5xx"}]
    cases = {
        "shifts traffic ALL_AT_ONCE": _deployment("ALL_AT_ONCE", None, alarm),
        "CANARY traffic routing without a canarySize": _deployment("CANARY", None, alarm),
        "0 auto-rollback alarm(s)": _deployment("LINEAR", {"type": "CAPACITY_PERCENT", "value": 25}, []),
    }
    for expected, deployment in cases.items():
        b = PlanBuilder()
        endpoint_stack(b, deployment=deployment)
        messages = [v.message for v in of(run(b.plan()), "sagemaker-endpoint-safe-deployment")]
        assert any(expected in m for m in messages), (expected, messages)


def test_canary_with_alarm_is_compliant_and_staging_is_advisory() -> None:
    b = PlanBuilder()
    endpoint_stack(
        b, deployment=_deployment("CANARY", {"type": "CAPACITY_PERCENT", "value": 10}, [{"alarmName": "churn-5xx"}])
    )
    assert of(run(b.plan()), "sagemaker-endpoint-safe-deployment") == []

    b = PlanBuilder(stack="staging")
    parts = endpoint_stack(b)
    _inputs(b, parts["endpoint"], deploymentConfig=None)
    [violation] = of(run(b.plan(), "staging"), "sagemaker-endpoint-safe-deployment")
    assert violation.enforcement == "advisory"
    assert of(run(b.plan(), "dev"), "sagemaker-endpoint-safe-deployment") == []


# --- model --------------------------------------------------------------------------------------------


def test_unversioned_package_and_extra_containers_are_checked() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    _inputs(
        b,
        parts["model"],
        primaryContainer=None,
        containers=[
            {"modelPackageName": "arn:aws:sagemaker:us-east-1:444444444444:model-package/churn/3"},
            {"modelPackageName": "arn:aws:sagemaker:us-east-1:444444444444:model-package/churn-unversioned"},
        ],
    )
    [violation] = of(run(b.plan()), "sagemaker-model-pinned-package")
    assert "container 1" in violation.message and "not a versioned" in violation.message
    assert of(run(b.plan(), "dev"), "sagemaker-model-pinned-package") == []


def test_unknown_package_arn_is_not_a_violation() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    _inputs(b, parts["model"], primaryContainer={"modelPackageName": UNKNOWN})
    assert run(b.plan()) == []


# --- jobs and pipelines -------------------------------------------------------------------------------


def test_processing_step_without_isolation_encryption_or_runtime() -> None:
    b = PlanBuilder(stack="shared")
    pipeline(b, pipeline_definition(Preprocess={"NetworkConfig": {}, "StoppingCondition": {}}))
    messages = [v.message for v in of(run(b.plan(), "shared"), "sagemaker-job-isolation")]
    assert len(messages) == 3
    assert all("step 'Preprocess' (Processing)" in m for m in messages)
    assert any("sets no maximum runtime" in m for m in messages)


def test_runtime_above_maximum_and_parameter_references() -> None:
    b = PlanBuilder(stack="shared")
    definition = pipeline_definition(
        Train={
            "StoppingCondition": {"MaxRuntimeInSeconds": 172800},
            "EnableNetworkIsolation": {"Get": "Parameters.Isolate"},
        }
    )
    definition["Parameters"].append({"Name": "Isolate", "Type": "Boolean", "DefaultValue": False})
    pipeline(b, definition)
    messages = [v.message for v in of(run(b.plan(), "shared"), "sagemaker-job-isolation")]
    assert any("may run 172800 s; the maximum runtime allowed is 86400 s" in m for m in messages)
    assert any("does not enable network isolation" in m for m in messages)


def test_step_property_references_are_unknown_not_violations() -> None:
    b = PlanBuilder(stack="shared")
    pipeline(b, pipeline_definition(Train={"EnableNetworkIsolation": {"Get": "Steps.Preprocess.Whatever"}}))
    assert of(run(b.plan(), "shared"), "sagemaker-job-isolation") == []


def test_steps_inside_condition_steps_are_checked() -> None:
    definition = pipeline_definition()
    inner = json.loads(json.dumps(definition["Steps"][1]))
    inner["Name"] = "Retrain"
    inner["Arguments"]["EnableInterContainerTrafficEncryption"] = False
    definition["Steps"].append(
        {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [inner], "ElseSteps": []}}
    )
    b = PlanBuilder(stack="shared")
    pipeline(b, definition)
    [violation] = of(run(b.plan(), "shared"), "sagemaker-job-isolation")
    assert "step 'Retrain'" in violation.message and "inter-container" in violation.message


def test_pipeline_definition_in_s3_or_not_json_cannot_be_verified() -> None:
    b = PlanBuilder(stack="shared")
    b.add(
        "aws:sagemaker/pipeline:Pipeline",
        "remote",
        {
            "pipelineName": "remote",
            "pipelineDefinitionS3Location": {"bucket": "b", "objectKey": "k"},
            "roleArn": "r",
        },
    )
    pipeline(b, "{not json", name="broken")
    messages = sorted(v.message for v in of(run(b.plan(), "shared"), "sagemaker-job-isolation"))
    assert "not a JSON object" in messages[0] and "keeps its definition in S3" in messages[1]


def test_unknown_pipeline_definition_is_skipped() -> None:
    b = PlanBuilder(stack="shared")
    pipeline(b, UNKNOWN)
    assert run(b.plan(), "shared") == []


def test_training_and_tuning_job_resources() -> None:
    b = PlanBuilder(stack="shared")
    b.add(
        "aws:sagemaker/trainingJob:TrainingJob",
        "adhoc",
        {
            "trainingJobName": "adhoc",
            "roleArn": "r",
            "enableNetworkIsolation": True,
            "enableInterContainerTrafficEncryption": True,
            "stoppingCondition": {"maxRuntimeInSeconds": 3600},
            "resourceConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 1, "volumeSizeInGb": 30},
        },
    )
    assert run(b.plan(), "shared") == []
    b.add(
        "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob",
        "hpo",
        {
            "name": "hpo",
            "trainingJobDefinition": {
                "stoppingCondition": {"maxRuntimeInSeconds": 3600},
                "resourceConfig": {"instanceType": "ml.p3.16xlarge", "instanceCount": 8},
            },
        },
    )
    violations = run(b.plan(), "shared")
    isolation = [v.message for v in of(violations, "sagemaker-job-isolation")]
    assert len(isolation) == 2 and all(m.startswith("tuning job 'hpo'") for m in isolation)
    cost = [v.message for v in of(violations, "sagemaker-instance-cost-guard")]
    assert any("'ml.p3.16xlarge'" in m for m in cost) and any(
        "asks for 8 instances; the ceiling is 4" in m for m in cost
    )


# --- cost guard ---------------------------------------------------------------------------------------


def test_cost_guard_counts_and_autoscaling_ceiling() -> None:
    b = PlanBuilder(stack="dev")
    parts = endpoint_stack(b)
    messages = [v.message for v in of(run(b.plan(), "dev"), "sagemaker-instance-cost-guard")]
    # dev allows ml.c5.xlarge but at most 2 instances: the variant (2) passes, autoscaling up to 8 does not.
    assert messages == [
        "scalable target 'churn-scaling' (maxCapacity) asks for 8 instances; the ceiling is 2"
    ]
    _inputs(b, parts["target"], maxCapacity=UNKNOWN)
    assert of(run(b.plan(), "dev"), "sagemaker-instance-cost-guard") == []


def test_cost_guard_reads_pipeline_instance_types() -> None:
    b = PlanBuilder(stack="shared")
    pipeline(
        b,
        pipeline_definition(
            Train={"ResourceConfig": {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1}}
        ),
    )
    [violation] = of(run(b.plan(), "shared"), "sagemaker-instance-cost-guard")
    assert "pipeline 'churn' step 'Train' (ResourceConfig) uses instance type 'ml.p4d.24xlarge'" in violation.message


# --- operability --------------------------------------------------------------------------------------


def test_alarm_without_sns_route_and_endpoint_without_alarm() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    b.replace(
        parts["alarm"],
        inputs={**parts["alarm"].inputs, "alarmActions": []},
        property_dependencies={"dimensions": (parts["endpoint"].urn,)},
    )
    [violation] = of(run(b.plan()), "sagemaker-endpoint-operability")
    assert "notifies no SNS topic" in violation.message and violation.resource_name == "churn-5xx"

    b.resources.remove(b.resources[[r.name for r in b.resources].index("churn-5xx")])
    [violation] = of(run(b.plan()), "sagemaker-endpoint-operability")
    assert "has 0 CloudWatch alarm(s)" in violation.message


def test_operability_pairs_by_known_names_without_dependencies() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    for key in ("alarm", "target", "endpoint"):
        b.replace(parts[key], property_dependencies={}, dependencies=())
    b.replace(parts["scaling_policy"], property_dependencies={}, dependencies=())
    assert of(run(b.plan()), "sagemaker-endpoint-operability") == []


def test_target_without_scaling_policy_and_uncovered_variant() -> None:
    b = PlanBuilder()
    parts = endpoint_stack(b)
    b.resources.remove(parts["scaling_policy"])
    second = {
        "variantName": "second",
        "modelName": "m",
        "instanceType": "ml.c5.xlarge",
        "initialInstanceCount": 2,
    }
    _inputs(b, parts["config"], productionVariants=[*parts["config"].inputs["productionVariants"], second])
    messages = sorted(v.message for v in of(run(b.plan()), "sagemaker-endpoint-operability"))
    assert any("has no scaling policy" in m for m in messages)
    assert any("variant 'second' of endpoint 'churn' has no autoscaling target" in m for m in messages)


def test_dev_does_not_require_autoscaling() -> None:
    b = PlanBuilder(stack="dev")
    parts = endpoint_stack(b)
    b.resources.remove(parts["scaling_policy"])
    b.resources.remove(parts["target"])
    assert of(run(b.plan(), "dev"), "sagemaker-endpoint-operability") == []
