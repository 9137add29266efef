"""`start-training` against the emulator. moto runs no pipeline: its executions are Succeeded at once and it has
no ListPipelineExecutionSteps, so what an execution reports poll by poll is injected into the running emulator
(`/_inject/sagemaker/pipeline-script`, see emulator.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import release_seed as seed
from release_cli import release

from infra.release import training

PIPELINE = "mlops-shared-churn"
DATA_BUCKET = seed.DATA_BUCKET
COMMIT = "9f" * 20


def _seed_pipeline_and_data() -> str:
    seed.pipeline(PIPELINE)
    return seed.raw_data("churn", b"defaulted,age\n")


_parameters = seed.execution_parameters


def _registers_as_the_run(progress: Callable[[str], None] | None = None, **changes: str) -> Callable[[str], None]:
    """A progress callback that, once the run has started, registers the package the run's pipeline would (its
    lineage read back from the run's own parameters, with `changes`): the package is found by execution ARN."""
    done: list[str] = []

    def report(line: str) -> None:
        if not done:
            [execution] = seed.client("sagemaker").list_pipeline_executions(
                PipelineName=PIPELINE)["PipelineExecutionSummaries"]
            done.append(seed.register_as_run("churn", execution["PipelineExecutionArn"], **changes))
        if progress:
            progress(line)

    report.registered = done  # type: ignore[attr-defined]
    return report


def test_starts_with_commit_and_data_snapshot_as_parameters(emulator, project, capsys, monkeypatch):
    version = _seed_pipeline_and_data()
    monkeypatch.setenv("GITHUB_SHA", COMMIT)
    monkeypatch.setenv("GITHUB_ACTOR", "alice")
    code, doc, err = release(capsys, project, "start-training", "--model", "churn")
    assert (code, err) == (0, "")
    snapshot = f"s3://{DATA_BUCKET}/churn/raw/raw.csv versionId={version}"
    parameters = _parameters(doc["executionArn"])
    run_copy = parameters.pop("RawDataUri")
    assert run_copy.startswith(f"s3://{DATA_BUCKET}/churn/runs/") and run_copy.endswith("/raw/")
    assert parameters == {"GitCommit": COMMIT, "DataSnapshot": snapshot, "TriggerReason": "manual by alice",
                          "RawDataSha256": "V8tY66zsbMyVGlVGHUKMzMXhhS8MCx+zs5wHJEoibt4="}
    assert doc["lineage"] == {"gitCommit": COMMIT, "dataSnapshot": snapshot, "triggerReason": "manual by alice",
                              "rawDataUri": run_copy, "rawDataSha256": parameters["RawDataSha256"]}


def test_a_drift_started_run_says_why_and_counts_for_the_guards(emulator, project, capsys, monkeypatch):
    _seed_pipeline_and_data()
    monkeypatch.setenv("GITHUB_SHA", COMMIT)
    reason = "drift alarm mlops-prod-churn-drift value 0.41 at 2026-03-10T12:00:00Z"
    code, doc, _ = release(capsys, project, "start-training", "--model", "churn", "--trigger-reason", reason)
    assert code == 0 and _parameters(doc["executionArn"])["TriggerReason"] == reason
    [summary] = seed.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    assert summary["PipelineExecutionDisplayName"].startswith("drift-")


def test_wait_shows_steps_and_reports_the_registered_package(emulator, project, capsys):
    version = _seed_pipeline_and_data()
    steps = [
        [{"StepName": "Preprocess", "StepStatus": "Executing"}],
        [{"StepName": "Preprocess", "StepStatus": "Succeeded"}, {"StepName": "Train", "StepStatus": "Executing"}],
        [{"StepName": "Preprocess", "StepStatus": "Succeeded"}, {"StepName": "Train", "StepStatus": "Succeeded"},
         {"StepName": "Register", "StepStatus": "Succeeded"}],
    ]
    emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "steps": steps,
                                                          "statuses": ["Executing", "Executing", "Succeeded"]})
    shown: list[str] = []
    progress = _registers_as_the_run(shown.append)
    outcome = training.run(project, "churn", commit=COMMIT, data_version=None, outputs_file=None, wait=True,
                           timeout=30, interval=0.05, progress=progress)
    [package] = progress.registered
    assert outcome.exit_code == 0, outcome.lines
    assert shown.pop(0) == f"started {PIPELINE}: {outcome.data['executionArn']}"  # first, before any poll
    assert [line.split("] ", 1)[1] for line in shown] == [
        "Executing | Preprocess Executing",
        "Executing | Preprocess Succeeded, Train Executing",
        "Succeeded | Preprocess Succeeded, Train Succeeded, Register Succeeded",
    ]
    assert all(line.startswith("[  0m0") for line in shown)  # elapsed time, minutes and seconds
    assert outcome.data["package"]["arn"] == package
    assert f"registered mlops-shared-churn v1 (PendingManualApproval): {package}" in outcome.lines
    assert f"  git commit {COMMIT}, data snapshot s3://{DATA_BUCKET}/churn/raw/raw.csv versionId={version}" \
        in outcome.lines


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
    outcome = training.run(project, "churn", commit=COMMIT, data_version=None, outputs_file=None, wait=True,
                           timeout=0.3, interval=0.05, progress=lambda _: None)
    assert outcome.exit_code == 1 and "gave up waiting (it keeps running)" in outcome.lines[-1]


def test_missing_raw_data_and_bad_input(emulator, project, capsys):
    seed.client("sagemaker").create_pipeline(
        PipelineName=PIPELINE, PipelineDefinition="{}", RoleArn="arn:aws:iam::123456789012:role/x")
    code, _, err = release(capsys, project, "start-training", "--model", "churn", "--git-commit", COMMIT)
    assert code == 2 and err.startswith(f"infra.release start-training: error: s3:ListObjectVersions on "
                                        f"s3://{DATA_BUCKET}/churn/raw/ failed: ")  # no data bucket at all
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

    outcome = training.run(project, "churn", commit=COMMIT, data_version=None, outputs_file=None, wait=True,
                           timeout=30, interval=0.05, progress=_registers_as_the_run())
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
    seed.pipeline("renamed-pipeline")
    version = seed.raw_data("churn", b"x", bucket="other-data-bucket")
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
    assert doc["lineage"]["dataSnapshot"] == f"s3://other-data-bucket/churn/raw/raw.csv versionId={version}"
    assert doc["lineage"]["rawDataUri"].startswith("s3://other-data-bucket/churn/runs/")
    (tmp_path / "env.json").write_text(json.dumps({"endpoints": {}}))
    code, _, err = release(capsys, project, "start-training", "--model", "churn",
                           "--outputs", str(tmp_path / "env.json"))
    assert code == 2 and "not the outputs of the shared stack" in err


def test_a_package_whose_lineage_is_not_the_run_s_fails(emulator, project, capsys):
    """The run registers a package that records another commit, snapshot, run copy or digest: exit 1, shown."""
    for key, value in (("GitCommit", "1" * 40), ("DataSnapshot", "s3://data/raw.csv?v=2"),
                       ("RawDataUri", f"s3://{DATA_BUCKET}/churn/raw/"), ("RawDataSha256", "unpinned")):
        emulator.reset()
        _seed_pipeline_and_data()
        emulator.post("/_inject/sagemaker/pipeline-script", {"pipeline": PIPELINE, "statuses": ["Succeeded"],
                                                              "steps": [[{"StepName": "Register",
                                                                          "StepStatus": "Succeeded"}]]})
        progress = _registers_as_the_run(**{key: value})
        outcome = training.run(project, "churn", commit=COMMIT, data_version=None, outputs_file=None, wait=True,
                               timeout=30, interval=0.05, progress=progress)
        assert outcome.exit_code == 1 and outcome.data["package"]["arn"] == progress.registered[0], key
        assert outcome.lines[-1].startswith("lineage mismatch: the package records ") and value in outcome.lines[-1]


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
