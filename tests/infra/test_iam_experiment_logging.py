"""Experiment logging from the pipeline (issue 18 §4): the plan has a LogExperiment step only when the shared stack
has a tracking server AND a VPC; its own role may do exactly what that step does (sufficiency and necessity, on
the ARNs AWS checks), reads nothing but evaluation reports, and the MLflow actions it holds are the REST calls the
logging code really makes (recorded against a local sqlite store)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from iam_actions import EXPERIMENT_LOGGING_NEEDS, VPC_NEEDS
from iam_arns import StackFacts
from iam_eval import granted_actions, is_allowed
from test_iam_execution_roles import Definition, check, pipeline_targets, role_documents

from infra.core.naming import Naming
from infra.plan.model import PlanResult
from infra.plan.pack import load_pack
from infra.plan.policy_config import default_policy_config_path, load_policy_config
from infra.plan.runner import PROJECT_ROOT
from infra.plan.verdict import evaluate

NETWORK = {"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}


@pytest.fixture(scope="module")
def networked(plan_with) -> PlanResult:
    return plan_with("shared", network=NETWORK)


def _definitions(plan: PlanResult) -> dict[str, dict[str, Any]]:
    return {r.name: json.loads(r.inputs["pipelineDefinition"]) for r in plan.resources
            if r.type == "aws:sagemaker/pipeline:Pipeline"}


def _step(definition: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in Definition(definition).steps if s["Name"] == name), None)


def _server_arn(facts: StackFacts, plan: PlanResult) -> str:
    return facts.arn("sagemaker", f"mlflow-tracking-server/{Naming(plan.project, plan.stack).mlflow_tracking_server()}")


def test_the_step_is_planned_only_with_a_tracking_server_and_a_vpc(plans, networked, plan_with) -> None:
    assert all(_step(d, "LogExperiment") is None for d in _definitions(plans["shared"]).values())  # no VPC
    no_server = plan_with("shared", network=NETWORK, experiments={"enabled": False})
    assert all(_step(d, "LogExperiment") is None for d in _definitions(no_server).values())
    assert not any(r.inputs.get("name", "").endswith("-experiment") for r in no_server.resources
                   if r.type == "aws:iam/role:Role")
    for model, definition in _definitions(networked).items():
        step = _step(definition, "LogExperiment")
        assert step is not None, model
        argv = step["Arguments"]["AppSpecification"]["ContainerArguments"]
        assert argv[argv.index("--mlflow-tracking-uri") + 1] == _server_arn(StackFacts.of(networked), networked)


def test_the_experiment_role_may_do_what_the_step_does_and_nothing_more(networked) -> None:
    facts, naming = StackFacts.of(networked), Naming(networked.project, networked.stack)
    server = _server_arn(facts, networked)
    for model, raw in _definitions(networked).items():
        definition = Definition(raw)
        step = _step(raw, "LogExperiment")
        documents = role_documents(networked, naming.experiment_logging_role(model))
        assert step["Arguments"]["RoleArn"] == facts.arn("iam", f"role/{naming.experiment_logging_role(model)}",
                                                         region=False)
        targets = {**pipeline_targets(facts, definition, step), "tracking-server": [(server, {})]}
        assert check(documents, EXPERIMENT_LOGGING_NEEDS, targets, facts.region) == []
        assert check(documents, VPC_NEEDS, {"*": [("*", {})]}, facts.region) == []
        needed = {a.lower() for entry in (EXPERIMENT_LOGGING_NEEDS, VPC_NEEDS) for n in entry.needs for a in n.actions}
        assert granted_actions(documents) - needed == set(), model


def test_the_experiment_role_reads_no_data_no_model_and_no_other_server(networked) -> None:
    facts, naming = StackFacts.of(networked), Naming(networked.project, networked.stack)
    for model, raw in _definitions(networked).items():
        documents = role_documents(networked, naming.experiment_logging_role(model))
        definition = Definition(raw)
        slots = {s["Name"]: definition.slots(s) for s in definition.steps if s["Type"] == "Processing"}
        raw_data = slots["Preprocess"]["input"][0]
        splits = slots["Preprocess"]["output"]
        model_uri = definition.values["Steps.Train.ModelArtifacts.S3ModelArtifacts"]
        for uri in [raw_data, *splits, model_uri]:
            arn = "arn:aws:s3:::" + uri.removeprefix("s3://").rstrip("/") + ("" if uri.endswith(".gz") else "/x.csv")
            assert not is_allowed(documents, "s3:GetObject", arn, {}), (model, uri)
        evaluation = slots["Evaluate"]["output"][0]
        assert not is_allowed(documents, "s3:PutObject",
                              "arn:aws:s3:::" + evaluation.removeprefix("s3://") + "/evaluation.json", {})
        other = facts.arn("sagemaker", "mlflow-tracking-server/someone-elses")
        assert not is_allowed(documents, "sagemaker-mlflow:CreateRun", other, {})
        other_model = "fraud" if model == "churn" else "churn"
        foreign = evaluation.replace(f"/{model}/", f"/{other_model}/")
        assert not is_allowed(documents, "s3:GetObject", "arn:aws:s3:::" + foreign.removeprefix("s3://")
                              + "/evaluation.json", {})


def test_the_pipeline_role_passes_the_experiment_role_only_to_sagemaker(networked) -> None:
    naming, facts = Naming(networked.project, networked.stack), StackFacts.of(networked)
    for model in _definitions(networked):
        documents = role_documents(networked, naming.pipeline_role(model))
        role = facts.arn("iam", f"role/{naming.experiment_logging_role(model)}", region=False)
        assert is_allowed(documents, "iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"})
        assert not is_allowed(documents, "iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})


_REST_ACTION = {  # MLflow store method -> the REST call it is on a tracking server -> the IAM action
    "get_experiment_by_name": "GetExperimentByName", "create_experiment": "CreateExperiment",
    "get_experiment": "GetExperiment", "create_run": "CreateRun", "log_batch": "LogBatch",
    "update_run_info": "UpdateRun",
}
_LOCAL_ONLY = {"sanitize_metric_value", "shut_down_async_logging"}  # no request


def test_the_mlflow_actions_are_the_calls_the_logging_code_makes(tmp_path, monkeypatch) -> None:
    """Each tracking-store method is one REST call on a tracking server; record them for two runs (the first
    creates the experiment) and compare with the needs table and with the program's grant."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from infra.core.iam import MLFLOW_LOGGING_ACTIONS
    from model_code import tracking

    called: list[str] = []
    for name in [n for n in dir(SqlAlchemyStore) if not n.startswith("_") and callable(getattr(SqlAlchemyStore, n))]:
        original = getattr(SqlAlchemyStore, name)

        def recorder(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            called.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(SqlAlchemyStore, name, recorder)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = {"binary_classification_metrics": {"auc": {"value": 0.9}}}
    for execution in ("x1", "x2"):
        tracking.log_run(uri, "mlops-shared-churn", {"eta": "0.2"}, report,
                         {"GitCommit": "abc", "PipelineExecutionArn": f"arn:x/{execution}"})
    unknown = set(called) - set(_REST_ACTION) - _LOCAL_ONLY
    assert unknown == set(), f"new MLflow calls: map them to sagemaker-mlflow actions ({unknown})"
    made = {f"sagemaker-mlflow:{_REST_ACTION[c]}" for c in called if c in _REST_ACTION}
    [mlflow_need] = [n for n in EXPERIMENT_LOGGING_NEEDS.needs if n.on == "tracking-server"]
    assert made == set(mlflow_need.actions) == set(MLFLOW_LOGGING_ACTIONS)


def test_the_pack_accepts_the_planned_pipeline_with_its_networked_step(networked) -> None:
    pack = load_pack(PROJECT_ROOT / "policies")
    config = load_policy_config(pack, default_policy_config_path(pack.directory, "shared"))
    assert [v.message for v in evaluate(pack, networked, config) if v.enforcement == "mandatory"] == []
