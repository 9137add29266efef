"""The CI deploy roles can run the release tool's calls in their stack, and nothing of the tool's reaches further.

The workflows run `infra.release` with a role of the job's GitHub environment: `start-training`, `approve` and
`promote` with the shared stack's release role (environment `shared-release`, no reviewer), `verify`,
`live-capacity` and `smoke-test` with each environment's deploy role. The shared stack's deploy role (environment
`shared`, reviewed) holds none of the release tool's rights. Every boto3 call the tool makes
(`infra/release/*.py`, `aws.call(...)`) is listed here with the ARN AWS authorizes it on, built from the planned
names, and evaluated against the planned role documents.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from iam_actions import EXPERIMENT_LOGGING_NEEDS
from iam_arns import StackFacts
from iam_eval import granted_actions, is_allowed
from planned import of_type
from test_iam_deploy import DEPLOY_NEEDS, KIND, NO_AWS_CALLS, STACKS, deploy_documents

from infra.core.naming import Naming
from infra.plan.model import PlanResult
from infra.plan.runner import PROJECT_ROOT

# boto3 operation (as infra/release calls it) -> IAM action.
RELEASE_CALLS = {
    ("sagemaker", "start_pipeline_execution"): "sagemaker:StartPipelineExecution",
    ("sagemaker", "describe_pipeline_execution"): "sagemaker:DescribePipelineExecution",
    ("sagemaker", "list_pipeline_execution_steps"): "sagemaker:ListPipelineExecutionSteps",
    ("sagemaker", "list_model_packages"): "sagemaker:ListModelPackages",
    ("sagemaker", "describe_model_package"): "sagemaker:DescribeModelPackage",
    ("sagemaker", "update_model_package"): "sagemaker:UpdateModelPackage",
    ("s3", "head_object"): "s3:GetObject",
    ("s3", "get_object"): "s3:GetObject",
    ("sagemaker", "describe_endpoint"): "sagemaker:DescribeEndpoint",
    ("sagemaker", "describe_endpoint_config"): "sagemaker:DescribeEndpointConfig",
    ("cloudwatch", "describe_alarms"): "cloudwatch:DescribeAlarms",
    ("sagemaker-runtime", "invoke_endpoint"): "sagemaker:InvokeEndpoint",
    ("sts", "get_caller_identity"): None,  # needs no permission
    # approve publishes the approved version's baseline; drift and retrain-status read the monitor's results.
    ("s3", "copy_object"): "s3:PutObject",
    # start-training lists the raw prefix's versions, then copies one (s3:GetObject + s3:GetObjectVersion on the
    # source, s3:PutObject on the run's copy: the requests below).
    ("s3", "list_object_versions"): "s3:ListBucketVersions",
    ("cloudwatch", "list_metrics"): "cloudwatch:ListMetrics",
    ("cloudwatch", "get_metric_statistics"): "cloudwatch:GetMetricStatistics",
    ("logs", "filter_log_events"): "logs:FilterLogEvents",
}


RUN_ID = "0f8e2c1a-7b9d-4e3f-a2c4-5d6e7f8a9b0c"
"""Stands for the run id `start-training` makes (a UUID, also the start request's idempotency token)."""


def test_the_table_covers_every_call_the_release_tool_makes() -> None:
    made = set()
    for source in (PROJECT_ROOT / "infra" / "release").glob("*.py"):
        made |= set(re.findall(r'aws\.call\(\s*"([a-z0-9-]+)",\s*"([a-z_]+)"', Path(source).read_text()))
    assert made and made <= set(RELEASE_CALLS), sorted(made - set(RELEASE_CALLS))


def requests(plan: PlanResult) -> list[tuple[str, str, dict]]:
    """(action, ARN, request context) of every call the tool makes for this stack's models."""
    facts, naming = StackFacts.of(plan), Naming(plan.project, plan.stack)
    region = {"aws:RequestedRegion": facts.region}
    found = []
    if KIND[plan.stack] == "shared":
        key = next(r for r in of_type(plan, "aws:kms/key:Key"))
        via_s3 = {**region, "kms:ViaService": f"s3.{facts.region}.amazonaws.com",
                  **{f"aws:ResourceTag/{k}": v for k, v in facts.tags_of(key).items()}}
        data, artifacts = (naming.bucket(role, facts.account) for role in ("data", "artifacts"))
        found.append(("sagemaker:ListModelPackages", "*", region))
        for pipeline in of_type(plan, "aws:sagemaker/pipeline:Pipeline"):
            model = pipeline.name
            pipeline_arn = facts.arn("sagemaker", f"pipeline/{naming.pipeline(model)}")
            execution = f"{pipeline_arn}/execution/0a1b2c3d4e5f"
            package = facts.arn("sagemaker", f"model-package/{naming.package_group(model)}/7")
            found += [
                ("sagemaker:StartPipelineExecution", pipeline_arn, region),
                ("sagemaker:DescribePipelineExecution", execution, region),
                ("sagemaker:ListPipelineExecutionSteps", execution, region),
                ("sagemaker:DescribeModelPackage", package, region),
                ("sagemaker:UpdateModelPackage", package, region),
                # start-training: list the raw prefix's versions, copy one version to the run's own prefix
                ("s3:ListBucketVersions", f"arn:aws:s3:::{data}", {**region, "s3:prefix": f"{model}/raw/"}),
                ("s3:GetObject", f"arn:aws:s3:::{data}/{model}/raw/raw.csv", region),
                ("s3:GetObjectVersion", f"arn:aws:s3:::{data}/{model}/raw/raw.csv", region),
                ("s3:PutObject", f"arn:aws:s3:::{data}/{model}/runs/{RUN_ID}/raw/raw.csv", region),
                ("s3:GetObject", f"arn:aws:s3:::{artifacts}/{model}/evaluation/0a1b2c3d/evaluation.json", region),
                ("kms:Decrypt", facts.self_arn(key), via_s3),
                # approve: the baseline copy (read the source, write the version's prefix, encrypt it) ...
                ("s3:PutObject", f"arn:aws:s3:::{artifacts}/{model}/baselines/v7/statistics.json", region),
                ("kms:GenerateDataKey", facts.self_arn(key), via_s3),
                # ... retrain-status: the pipeline's executions (retrain_guard.handler.history) and the guard's log.
                ("sagemaker:ListPipelineExecutions", pipeline_arn, region),
                ("logs:FilterLogEvents",
                 facts.arn("logs", f"log-group:/aws/lambda/{naming.retrain_guard(model)}"), region),
            ]
            # log-experiment: MLflow's client on the stack's tracking server (REST calls, not `aws.call`); the same
            # calls as the pipeline's LogExperiment step, recorded in test_iam_experiment_logging.py.
            server = facts.arn("sagemaker", f"mlflow-tracking-server/{naming.mlflow_tracking_server()}")
            [mlflow_need] = [n for n in EXPERIMENT_LOGGING_NEEDS.needs if n.on == "tracking-server"]
            found += [(action, server, region) for action in mlflow_need.actions]
    else:
        for endpoint in of_type(plan, "aws:sagemaker/endpoint:Endpoint"):
            name = endpoint.inputs["name"]
            model = endpoint.name
            config = facts.arn("sagemaker", f"endpoint-config/{naming.endpoint_config(model, '0123456789')}")
            found += [
                ("sagemaker:DescribeEndpoint", facts.arn("sagemaker", f"endpoint/{name}"), region),
                ("sagemaker:DescribeEndpointConfig", config, region),
                ("sagemaker:InvokeEndpoint", facts.arn("sagemaker", f"endpoint/{name}"), region),
                ("cloudwatch:DescribeAlarms", facts.arn("cloudwatch", f"alarm:{naming.alarm(model, '5xx-errors')}"),
                 region),
            ]
        for schedule in of_type(plan, "aws:sagemaker/monitoringSchedule:MonitoringSchedule"):
            model = schedule.inputs["tags"]["model"]
            found += [  # drift: the monitor's metrics (no resource-level permissions) and the drift alarm
                ("cloudwatch:ListMetrics", "*", region),
                ("cloudwatch:GetMetricStatistics", "*", region),
                ("cloudwatch:DescribeAlarms", facts.arn("cloudwatch", f"alarm:{naming.drift_alarm(model)}"), region),
            ]
    return found


def release_documents(plan: PlanResult) -> list[str]:
    """The documents of the role the release tool runs with: the shared stack's release role, or the deploy role."""
    if KIND[plan.stack] != "shared":
        return deploy_documents(plan)
    role = Naming(plan.project, plan.stack).ci_role("release")
    documents = [r.inputs["policy"] for r in plan.resources
                 if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs.get("role") == role]
    assert documents, f"{plan.stack}: no inline policy on {role}"
    return documents


@pytest.mark.parametrize("stack", STACKS)
def test_the_release_role_may_make_the_release_tools_calls(plans: dict[str, PlanResult], stack: str) -> None:
    plan = plans[stack]
    calls = requests(plan)
    if stack != "dev":  # dev's churn is delivered by pull: no Pulumi endpoint, nothing the tool describes by ARN
        assert calls, stack
    documents = release_documents(plan)
    denied = [f"{action} on {arn}" for action, arn, context in calls
              if not is_allowed(documents, action, arn, context)]
    assert denied == []


@pytest.mark.parametrize("stack", ["shared", "staging"])
def test_the_release_rights_reach_only_this_stacks_resources(plans: dict[str, PlanResult], stack: str) -> None:
    """The same calls on another stack's names are refused: the release rights carry the stack's scope."""
    plan = plans[stack]
    other = "prod" if stack == "staging" else "other"
    documents = release_documents(plan)
    # Names carry the stack in their prefix; keys (random ids) carry it in their `pulumi-stack` tag.
    foreign = [(action, arn.replace(f"mlops-{stack}-", f"mlops-{other}-"),
                {k: other if k == "aws:ResourceTag/pulumi-stack" else v for k, v in context.items()})
               for action, arn, context in requests(plan) if arn != "*"]
    allowed = [f"{action} on {arn}" for action, arn, context in foreign if is_allowed(documents, action, arn, context)]
    assert allowed == []


def test_every_granted_action_is_needed_by_a_declared_type_or_the_release_tool(plans: dict[str, PlanResult]) -> None:
    """The deploy test's "and no more", with the release tool as the role's second user."""
    for kind in sorted(set(KIND.values())):
        stacks = [s for s in STACKS if KIND[s] == kind]
        declared = {r.type for s in stacks for r in plans[s].resources if r.custom and r.type not in NO_AWS_CALLS}
        needed = {a.lower() for t in declared for need in DEPLOY_NEEDS[t].needs for a in need.actions}
        released = {action.lower() for s in stacks for action, _, _ in requests(plans[s])}
        for stack in stacks:
            if kind == "shared":  # pulumi up and the release tool have a role each
                extra = granted_actions(deploy_documents(plans[stack])) - needed
                assert extra == set(), f"{stack}: the deploy role grants what no declared type needs: {extra}"
                extra = granted_actions(release_documents(plans[stack])) - released
                assert extra == set(), f"{stack}: the release role grants what the release tool does not need: {extra}"
            else:
                extra = granted_actions(deploy_documents(plans[stack])) - needed - released
                assert extra == set(), f"{stack}: grants what no declared type nor the release tool needs: {extra}"


def test_the_shared_deploy_role_holds_none_of_the_release_tools_rights(plans: dict[str, PlanResult]) -> None:
    """Changing shared infrastructure (reviewed) and running the automatic loop (not reviewed) are two roles."""
    plan = plans["shared"]
    documents = deploy_documents(plan)
    allowed = [f"{action} on {arn}" for action, arn, context in requests(plan)
               if action != "sagemaker:DescribeModelPackage" and is_allowed(documents, action, arn, context)]
    assert allowed == []


def test_pinning_reaches_only_the_raw_prefix_and_the_run_prefixes(plans: dict[str, PlanResult]) -> None:
    """The release role may list and read versions of raw data and write run copies, and nothing else in the data
    bucket: not another prefix's versions, not the raw file itself (a run never changes the data it pins), no
    object tags (the copy replaces them with none)."""
    plan = plans["shared"]
    documents = release_documents(plan)
    facts = StackFacts.of(plan)
    data = f"arn:aws:s3:::{Naming(plan.project, plan.stack).bucket('data', facts.account)}"
    region = {"aws:RequestedRegion": facts.region}
    refused = [
        ("s3:ListBucketVersions", data, {**region, "s3:prefix": "churn/"}),
        ("s3:ListBucketVersions", data, {**region, "s3:prefix": "churn/runs/"}),
        ("s3:ListBucketVersions", data, region),
        ("s3:GetObjectVersion", f"{data}/churn/processed/x.csv", region),
        ("s3:PutObject", f"{data}/churn/raw/raw.csv", region),
        ("s3:PutObject", f"{data}/churn/runs/x/model.tar.gz", region),
        ("s3:DeleteObject", f"{data}/churn/runs/{RUN_ID}/raw/raw.csv", region),
        ("s3:GetObjectVersionTagging", f"{data}/churn/raw/raw.csv", region),
        ("s3:PutObjectTagging", f"{data}/churn/runs/{RUN_ID}/raw/raw.csv", region),
    ]
    allowed = [f"{action} on {arn} {context}" for action, arn, context in refused
               if is_allowed(documents, action, arn, context)]
    assert allowed == []
    assert not any("tagging" in action for action in granted_actions(documents))
