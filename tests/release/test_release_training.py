"""`start-training` against the emulator. moto runs no pipeline: its executions are Succeeded at once and it has
no ListPipelineExecutionSteps, so what an execution reports poll by poll is injected into the running emulator
(`/_inject/sagemaker/pipeline-script`, see emulator.py)."""

from __future__ import annotations

import json

import release_seed as seed
from release_cli import release

from infra.release import training

PIPELINE = "mlops-shared-churn"
DATA_BUCKET = "mlops-shared-data-111111111111"
COMMIT = "9f" * 20
SNAPSHOT = "s3://data/raw.csv?v=1"  # what release_seed.register records by default


def _seed_pipeline_and_data() -> str:
    sm = seed.client("sagemaker")
    sm.create_pipeline(PipelineName=PIPELINE, PipelineDefinition="{}",
                       RoleArn="arn:aws:iam::123456789012:role/mlops-shared-churn-pipeline")
    s3 = seed.client("s3")
    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3.put_object(Bucket=DATA_BUCKET, Key="churn/raw/raw.csv", Body=b"defaulted,age\n")["VersionId"]


def _parameters(arn: str) -> dict[str, str]:
    sm = seed.client("sagemaker")
    return {p["Name"]: p["Value"] for p in sm.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=arn)["PipelineParameters"]}


def test_starts_with_commit_and_data_snapshot_as_parameters(emulator, project, capsys, monkeypatch):
    version = _seed_pipeline_and_data()
    monkeypatch.setenv("GITHUB_SHA", COMMIT)
    monkeypatch.setenv("GITHUB_ACTOR", "alice")
    code, doc, err = release(capsys, project, "start-training", "--model", "churn")
    assert (code, err) == (0, "")
    snapshot = f"s3://{DATA_BUCKET}/churn/raw/raw.csv?versionId={version}"
    assert _parameters(doc["executionArn"]) == {"GitCommit": COMMIT, "DataSnapshot": snapshot,
                                                "TriggerReason": "manual by alice"}
    assert doc["lineage"] == {"gitCommit": COMMIT, "dataSnapshot": snapshot, "triggerReason": "manual by alice"}


def test_a_drift_started_run_says_why_and_counts_for_the_guards(emulator, project, capsys, monkeypatch):
    _seed_pipeline_and_data()
    monkeypatch.setenv("GITHUB_SHA", COMMIT)
    reason = "drift alarm mlops-prod-churn-drift value 0.41 at 2026-03-10T12:00:00Z"
    code, doc, _ = release(capsys, project, "start-training", "--model", "churn", "--trigger-reason", reason)
    assert code == 0 and _parameters(doc["executionArn"])["TriggerReason"] == reason
    [summary] = seed.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    assert summary["PipelineExecutionDisplayName"].startswith("drift-")


def test_wait_shows_steps_and_reports_the_registered_package(emulator, project, capsys):
    _seed_pipeline_and_data()
    package = seed.register("churn", report=seed.evaluation_report("auc", 0.9), commit=COMMIT)
    steps = [
        [{"StepName": "Preprocess", "StepStatus": "Executing"}],
        [{"StepName": "Preprocess", "StepStatus": "Succeeded"}, {"StepName": "Train", "StepStatus": "Executing"}],
        [{"StepName": "Preprocess", "StepStatus": "Succeeded"}, {"StepName": "Train", "StepStatus": "Succeeded"},
         {"StepName": "Register", "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": package}}}],
    ]
    emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "steps": steps,
                                                          "statuses": ["Executing", "Executing", "Succeeded"]})
    shown: list[str] = []
    outcome = training.run(project, "churn", commit=COMMIT, snapshot=SNAPSHOT, outputs_file=None, wait=True,
                           timeout=30, interval=0.05, progress=shown.append)
    assert outcome.exit_code == 0
    assert shown.pop(0) == f"started {PIPELINE}: {outcome.data['executionArn']}"  # first, before any poll
    assert [line.split("] ", 1)[1] for line in shown] == [
        "Executing | Preprocess Executing",
        "Executing | Preprocess Succeeded, Train Executing",
        "Succeeded | Preprocess Succeeded, Train Succeeded, Register Succeeded",
    ]
    assert all(line.startswith("[  0m0") for line in shown)  # elapsed time, minutes and seconds
    assert outcome.data["package"]["arn"] == package
    assert f"registered mlops-shared-churn v1 (PendingManualApproval): {package}" in outcome.lines
    assert f"  git commit {COMMIT}, data snapshot s3://data/raw.csv?v=1" in outcome.lines


def test_a_failed_run_exits_1_with_the_step_reason(emulator, project, capsys):
    _seed_pipeline_and_data()
    reason = "Model quality gate failed: auc is below the MetricThreshold parameter (0.85)"
    emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "statuses": ["Failed"], "steps": [[
        {"StepName": "CheckMetricGate", "StepStatus": "Succeeded"},
        {"StepName": "GateFailed", "StepStatus": "Failed", "FailureReason": reason}]]})
    code, doc, err = release(capsys, project, "start-training", "--model", "churn", "--wait", "--git-commit", COMMIT,
                             "--interval", "0.05")
    assert code == 1 and doc["status"] == "Failed"
    assert "GateFailed Failed" in err  # the progress display goes to stderr, the JSON to stdout


def test_deadline_gives_up_without_stopping_the_run(emulator, project, capsys):
    _seed_pipeline_and_data()
    steps = [[{"StepName": "Train", "StepStatus": "Executing"}]]
    emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "statuses": ["Executing"],
                                                          "steps": steps})
    outcome = training.run(project, "churn", commit=COMMIT, snapshot="s3://snap", outputs_file=None, wait=True,
                           timeout=0.3, interval=0.05, progress=lambda _: None)
    assert outcome.exit_code == 1 and "gave up waiting (it keeps running)" in outcome.lines[-1]


def test_missing_raw_data_and_bad_input(emulator, project, capsys):
    seed.client("sagemaker").create_pipeline(
        PipelineName=PIPELINE, PipelineDefinition="{}", RoleArn="arn:aws:iam::123456789012:role/x")
    code, _, err = release(capsys, project, "start-training", "--model", "churn", "--git-commit", COMMIT)
    assert code == 2 and err.startswith(f"infra.release start-training: error: s3:HeadObject on "
                                        f"s3://{DATA_BUCKET}/churn/raw/raw.csv failed: ")
    code, _, err = release(capsys, project, "start-training", "--model", "churn", "--git-commit", "main")
    assert code == 2 and "--git-commit 'main': expected a hexadecimal commit id" in err
    code, _, err = release(capsys, project, "start-training", "--model", "nope")
    assert code == 2 and "--model nope: not a model of stack 'shared'" in err
    code, _, err = release(capsys, project, "start-training", "--model", "churn", "--wait", "--timeout", "0")
    assert code == 2 and "--timeout must be > 0" in err


def test_the_package_is_found_by_its_execution_when_steps_do_not_name_it(emulator, project, capsys):
    """The Register step's metadata is missing: the package that records this execution's ARN is reported."""
    _seed_pipeline_and_data()
    seed.register("churn", report=seed.evaluation_report("auc", 0.9), commit="1" * 40)  # another run's package
    emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "statuses": ["Executing", "Succeeded"],
                                                          "steps": [[{"StepName": "Train", "StepStatus": "Executing"}],
                                                                    [{"StepName": "Register",
                                                                      "StepStatus": "Succeeded"}]]})

    def register_while_running(line: str) -> None:
        if "Train Executing" in line:  # the pipeline registers its package while the tool polls
            [execution] = seed.client("sagemaker").list_pipeline_executions(
                PipelineName=PIPELINE)["PipelineExecutionSummaries"]
            seed.register("churn", report=seed.evaluation_report("auc", 0.9), commit=COMMIT,
                          execution=execution["PipelineExecutionArn"])

    outcome = training.run(project, "churn", commit=COMMIT, snapshot=SNAPSHOT, outputs_file=None, wait=True,
                           timeout=30, interval=0.05, progress=register_while_running)
    assert outcome.exit_code == 0
    assert outcome.data["package"]["version"] == 2 and outcome.data["package"]["lineage"]["gitCommit"] == COMMIT


def test_succeeded_without_a_package_is_a_verdict(emulator, project, capsys):
    _seed_pipeline_and_data()
    seed.package_group("churn")
    emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "statuses": ["Succeeded"],
                                                          "steps": [[]]})
    code, doc, _ = release(capsys, project, "start-training", "--model", "churn", "--wait", "--git-commit", COMMIT,
                           "--interval", "0.05")
    assert code == 1 and doc["package"] is None and doc["status"] == "Succeeded"


def test_outputs_of_the_shared_stack_name_the_pipeline_and_the_data_bucket(emulator, project, capsys, tmp_path):
    """`pulumi stack output --json` of the shared stack wins over names computed from the stack file."""
    seed.client("sagemaker").create_pipeline(PipelineName="renamed-pipeline", PipelineDefinition="{}",
                                             RoleArn="arn:aws:iam::123456789012:role/x")
    s3 = seed.client("s3")
    s3.create_bucket(Bucket="other-data-bucket")
    s3.put_object(Bucket="other-data-bucket", Key="churn/raw/raw.csv", Body=b"x")
    model = {"packageGroupName": "mlops-shared-churn", "packageGroupArn": "arn:g", "trainingRepositoryUrl": "t",
             "servingRepositoryUrl": "s", "servingRepositoryArn": "arn:s", "pipelineName": "renamed-pipeline"}
    outputs = {"accountId": "111111111111", "region": "us-east-1", "kmsKeyArn": "arn:k",
               "dataBucket": "other-data-bucket", "artifactsBucket": "a", "captureBucket": "c",
               "models": {"churn": model}, "promotionTopicArn": "arn:t", "githubOidcProviderArn": "arn:o",
               "ciPreviewRoleArn": "arn:p", "ciDeployRoleArn": "arn:d"}
    (tmp_path / "shared.json").write_text(json.dumps(outputs))
    code, doc, _ = release(capsys, project, "start-training", "--model", "churn", "--git-commit", COMMIT,
                           "--outputs", str(tmp_path / "shared.json"))
    assert code == 0 and doc["pipeline"] == "renamed-pipeline"
    assert doc["lineage"]["dataSnapshot"].startswith("s3://other-data-bucket/churn/raw/raw.csv#etag=")
    (tmp_path / "env.json").write_text(json.dumps({"endpoints": {}}))
    code, _, err = release(capsys, project, "start-training", "--model", "churn",
                           "--outputs", str(tmp_path / "env.json"))
    assert code == 2 and "not the outputs of the shared stack" in err


def test_a_package_whose_lineage_is_not_the_run_s_fails(emulator, project, capsys):
    """The Register step names a package that records another commit or snapshot: exit 1, both shown."""
    _seed_pipeline_and_data()
    for commit, snapshot in (("1" * 40, SNAPSHOT), (COMMIT, "s3://data/raw.csv?v=2")):
        emulator.post("/_inject/reset", {})
        package = seed.register("churn", report=seed.evaluation_report("auc", 0.9), commit=commit, snapshot=snapshot)
        register = {"StepName": "Register", "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": package}}}
        emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "statuses": ["Succeeded"],
                                                              "steps": [[register]]})
        code, doc, _ = release(capsys, project, "start-training", "--model", "churn", "--git-commit", COMMIT,
                               "--data-snapshot", SNAPSHOT, "--wait", "--interval", "0.05")
        assert code == 1 and doc["package"]["arn"] == package


def test_a_failed_poll_still_names_the_run_it_started(own_emulator, project, capsys):
    _seed_pipeline_and_data()
    own_emulator.post("/_inject/die-on", {"target": "SageMaker.DescribePipelineExecution"})
    code, doc, err = release(capsys, project, "start-training", "--model", "churn", "--git-commit", COMMIT,
                             "--wait", "--interval", "0.05")
    assert code == 2  # no verdict on the run: the tool lost sight of it
    arn = doc["executionArn"]
    assert arn.startswith("arn:aws:sagemaker:") and "/execution/" in arn
    assert err.startswith(f"started {PIPELINE}: {arn}\n")  # printed before the poll that failed
    last = err.splitlines()[-1]
    assert "sagemaker:DescribePipelineExecution" in last and f"the run {arn} was started and keeps running" in last
