"""The roles of the continuous-training loop may do what their service does, and nothing more: the monitor job's
role, the retraining guard's, the drift-forward role and the MLflow tracking server's. Each need of
`tests/infra/iam_actions.py` is evaluated on the ARN AWS would check; then every granted action must be needed."""

from __future__ import annotations

import json

from iam_actions import DRIFT_FORWARD_NEEDS, GUARD_NEEDS, MLFLOW_SERVER_NEEDS, MONITOR_JOB_NEEDS, TypeNeeds
from iam_arns import StackFacts
from iam_eval import granted_actions, is_allowed
from test_iam_execution_roles import check, role_documents

from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests.overlays import render
from infra.manifests.sagemaker_view import sagemaker_view
from infra.plan.model import PlanResult

MONITORED = ("dev", "staging", "prod")


def _needed(entry: TypeNeeds) -> set[str]:
    return {a.lower() for need in entry.needs for a in need.actions}


def _job_definition(plan: PlanResult, stack: str, model: str) -> dict:
    """The job definition's inputs as the provider spells them: the plan's (push), or the one the model's overlay
    renders, through the pack's adapter (SageMaker by pull: the role must run what Git declares)."""
    planned = [r.inputs for r in plan.resources
               if r.type == "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
               and r.inputs["tags"]["model"] == model]
    if planned:
        return planned[0]
    rendered = [m for m in render(PROJECT_ROOT / "gitops" / stack / model) if m["kind"] == "DataQualityJobDefinition"]
    assert len(rendered) == 1, f"{stack}/{model}: neither the plan nor the overlay holds the job definition"
    view = sagemaker_view(rendered[0])
    assert view is not None
    return view[1]


def _key_arn(plan: PlanResult, key_id: str) -> str:
    """KMS authorizes a request naming an alias on the key the alias points to (the overlay names the alias)."""
    if ":alias/" not in key_id:
        return key_id
    [alias] = [r for r in plan.resources if r.type == "aws:kms/alias:Alias"]
    assert alias.inputs["name"] == key_id.split(":", 5)[5], f"{key_id} is not this stack's alias"
    [key] = [k for k in plan.resources if k.type == "aws:kms/key:Key"
             and alias.inputs["targetKeyId"] in (k.outputs.get("keyId"), k.outputs.get("id"))]
    return key.outputs["arn"]


def _monitor_targets(plans: dict[str, PlanResult], stack: str, model: str) -> dict[str, list]:
    plan, shared = plans[stack], plans["shared"].outputs
    facts = StackFacts.of(plan)
    i = _job_definition(plan, stack, model)
    capture, reports = shared["captureBucket"], i["dataQualityJobOutputConfig"]["monitoringOutputs"]["s3Output"]
    baseline = i["dataQualityBaselineConfig"]["statisticsResource"]["s3Uri"]
    image = i["dataQualityAppSpecification"]["imageUri"]
    host, _, rest = image.partition("/")
    return {
        "capture-object": [(f"arn:aws:s3:::{capture}/{stack}/{model}/churn-ep/AllTraffic/2026/12/01/06/c.jsonl", {})],
        "capture-bucket": [(f"arn:aws:s3:::{capture}", {"s3:prefix": f"{stack}/{model}/"})],
        "baseline-object": [("arn:aws:s3:::" + baseline.removeprefix("s3://"), {})],
        "report-object": [("arn:aws:s3:::" + reports["s3Uri"].removeprefix("s3://") + "2026/12/01/06/r.json", {})],
        "shared-key": [(shared["kmsKeyArn"], {})],
        "volume-key": [(_key_arn(plan, i["jobResources"]["clusterConfig"]["volumeKmsKeyId"]), {})],
        "image": [(f"arn:aws:ecr:{host.split('.')[3]}:{host.split('.')[0]}:repository/{rest.split(':')[0]}", {})],
        "*": [("*", {})],
        "log-group:ProcessingJobs": [(facts.arn("logs", "log-group:/aws/sagemaker/ProcessingJobs:log-stream:x"), {})],
    }


def _metric_context() -> dict[str, str]:
    return {"cloudwatch:namespace": "/aws/sagemaker/Endpoint/data-metrics"}


def test_monitor_roles_may_run_their_jobs_and_grant_nothing_more(plans: dict[str, PlanResult]) -> None:
    for stack in MONITORED:
        documents = role_documents(plans[stack], Naming(plans[stack].project, stack).monitor_role("churn"))
        targets = _monitor_targets(plans, stack, "churn")
        targets["*"] = [("*", _metric_context())]
        assert check(documents, MONITOR_JOB_NEEDS, targets) == [], stack
        assert granted_actions(documents) == _needed(MONITOR_JOB_NEEDS), stack


def test_a_monitor_role_reads_only_its_own_capture_and_writes_no_capture(plans: dict[str, PlanResult]) -> None:
    plan, capture = plans["prod"], plans["shared"].outputs["captureBucket"]
    documents = role_documents(plan, Naming(plan.project, "prod").monitor_role("churn"))
    assert is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{capture}/prod/churn/e/AllTraffic/f.jsonl")
    assert not is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{capture}/staging/churn/e/AllTraffic/f.jsonl")
    assert not is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{capture}/prod/fraud/f.jsonl")
    assert not is_allowed(documents, "s3:PutObject", f"arn:aws:s3:::{capture}/prod/churn/e/AllTraffic/f.jsonl")
    assert not is_allowed(documents, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Custom/Other"})


def test_guard_roles_may_read_and_start_their_own_pipeline_only(plans: dict[str, PlanResult]) -> None:
    plan = plans["shared"]
    facts, naming = StackFacts.of(plan), Naming(plan.project, "shared")
    for model, other in (("churn", "fraud"), ("fraud", "churn")):
        function = naming.retrain_guard(model)
        documents = role_documents(plan, function)
        pipeline = facts.arn("sagemaker", f"pipeline/{naming.pipeline(model)}")
        stream = facts.arn("logs", f"log-group:/aws/lambda/{function}:log-stream:2026/12/01/[$LATEST]abc")
        assert check(documents, GUARD_NEEDS, {"pipeline": [(pipeline, {})], "log-stream": [(stream, {})]}) == []
        assert granted_actions(documents) == _needed(GUARD_NEEDS)
        other_pipeline = facts.arn("sagemaker", f"pipeline/{naming.pipeline(other)}")
        assert not is_allowed(documents, "sagemaker:StartPipelineExecution", other_pipeline)


def test_the_guard_is_serialized_and_configured_from_the_stack(plans: dict[str, PlanResult]) -> None:
    functions = {r.inputs["name"]: r.inputs for r in plans["shared"].resources
                 if r.type == "aws:lambda/function:Function"}
    churn = functions["mlops-shared-churn-retrain-guard"]
    assert churn["reservedConcurrentExecutions"] == 1
    assert churn["environment"]["variables"] == {
        "PIPELINE_NAME": "mlops-shared-churn", "RETRAIN_ENABLED": "true", "RETRAIN_COOLDOWN_MINUTES": "720",
        "RETRAIN_MAX_RUNS_PER_DAY": "2"}
    # fraud says nothing: the kill switch is on by default.
    assert functions["mlops-shared-fraud-retrain-guard"]["environment"]["variables"]["RETRAIN_ENABLED"] == "false"


def test_drift_forward_roles_may_invoke_exactly_their_guard(plans: dict[str, PlanResult]) -> None:
    shared = plans["shared"]
    guard = StackFacts.of(shared).arn("lambda", f"function:{Naming(shared.project, 'shared').retrain_guard('churn')}")
    for stack in MONITORED:
        plan = plans[stack]
        documents = role_documents(plan, Naming(plan.project, stack).drift_forward_rule("churn"))
        assert check(documents, DRIFT_FORWARD_NEEDS, {"function": [(guard, {})]}) == []
        assert granted_actions(documents) == _needed(DRIFT_FORWARD_NEEDS)
        assert not is_allowed(documents, "lambda:InvokeFunction", guard.replace("churn", "fraud"))
        rule = next(r for r in plan.resources if r.type == "aws:cloudwatch/eventRule:EventRule"
                    and r.inputs["name"] == Naming(plan.project, stack).drift_forward_rule("churn"))
        pattern = json.loads(rule.inputs["eventPattern"])
        assert pattern["detail"]["alarmName"] == [Naming(plan.project, stack).drift_alarm("churn")]
        assert pattern["detail"]["state"]["value"] == ["ALARM"]


def test_mlflow_server_role_uses_only_its_artifact_prefix(plans: dict[str, PlanResult]) -> None:
    plan, outputs = plans["shared"], plans["shared"].outputs
    documents = role_documents(plan, Naming(plan.project, "shared").mlflow_tracking_server())
    bucket = outputs["artifactsBucket"]
    targets = {"artifact-object": [(f"arn:aws:s3:::{bucket}/mlflow/1/run/artifacts/model.pkl", {})],
               "artifact-bucket": [(f"arn:aws:s3:::{bucket}", {"s3:prefix": "mlflow/1/"})],
               "shared-key": [(outputs["kmsKeyArn"], {})]}
    assert check(documents, MLFLOW_SERVER_NEEDS, targets) == []
    assert granted_actions(documents) == _needed(MLFLOW_SERVER_NEEDS)
    assert not is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{bucket}/churn/model.tar.gz")
