"""`start-training`: pin the run's data, start a model's pipeline with its lineage as parameters, optionally follow
it to the end.

Lineage is passed as the pipeline parameters `GitCommit` (from `--git-commit`, else `$GITHUB_SHA`, else
`git rev-parse HEAD`) and `DataSnapshot` (`s3://<data bucket>/<model>/raw/raw.csv versionId=V`: the newest version,
or the one `--data-version` names). The run reads exactly that version: `infra.release.snapshot` copies it to the
run's own prefix first, and the run gets the copy as `RawDataUri` and its SHA-256 as `RawDataSha256`. The
pipeline records all four on the package it registers, with its own execution ARN, which is how the registered
package is found afterwards when the step list does not name it; `--wait` fails when they are not this run's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.core import bucket_layout
from infra.core.pipeline.spec import PARAM_RAW_DATA_SHA256, PARAM_RAW_DATA_URI, PARAM_TRIGGER_REASON, lineage_value
from infra.release import registry, snapshot, stacks
from infra.release.aws import Aws, expect
from infra.release.errors import EXIT_VERDICT, AwsError, ReleaseError, UsageError
from infra.release.outcome import Outcome
from retrain_guard.guard import DRIFT_PREFIX

TERMINAL = {"Succeeded", "Failed", "Stopped"}
UNSUPPORTED = {"UnknownOperationException", "InvalidAction", "NotImplemented", "UnsupportedOperation"}


def git_commit(project_dir: Path, given: str | None) -> str:
    commit = given or os.environ.get("GITHUB_SHA")
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_dir, capture_output=True, text=True,
                                    check=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            raise UsageError("cannot tell the git commit (no $GITHUB_SHA, no git checkout); pass --git-commit") \
                from None
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise UsageError(f"--git-commit {commit!r}: expected a hexadecimal commit id")
    return commit


def data_bucket(aws: Aws, shared: stacks.Stack, given: str | None) -> str:
    """The shared data bucket: from the stack outputs when given, else its name from the naming rules."""
    if given is not None:
        return given
    account = shared.config.account_id or aws.call("sts", "get_caller_identity", "caller",
                                                   read=lambda a: expect(a, "Account"))
    return shared.naming.bucket("data", account)


VERSION_ID = re.compile(r"[A-Za-z0-9._+=/-]{1,1024}")
"""What an S3 version id is made of (opaque, URL-safe text); anything else is a typo, not a version."""


def trigger_reason(given: str | None) -> str:
    """Why this run starts (the TriggerReason parameter, recorded on the package): as given, else who started it.

    In the characters and length a package can record (`lineage_value`): a drift event's payload or a person's
    text with `(`, `#` or 300 characters would otherwise fail the run at its Register step, hours later.
    """
    if given and given.strip():
        return lineage_value(given)
    actor = os.environ.get("GITHUB_ACTOR")
    return lineage_value(f"manual by {actor}") if actor else "manual"


def run(project_dir: Path, model: str, *, commit: str | None, data_version: str | None, outputs_file: Path | None,
        wait: bool, timeout: float, interval: float, progress: Callable[[str], None] | None = None,
        reason: str | None = None) -> Outcome:
    shared = stacks.load_shared(project_dir)
    stacks.training_of(shared, model)
    outputs = stacks.shared_outputs(outputs_file)
    if outputs is not None and model not in outputs.models:
        raise UsageError(f"--outputs {outputs_file}: model {model!r} is not in 'models'")
    pipeline = outputs.models[model].pipeline_name if outputs else shared.naming.pipeline(model)
    group = outputs.models[model].package_group_name if outputs else shared.naming.package_group(model)
    commit = git_commit(project_dir, commit)
    if data_version is not None and not VERSION_ID.fullmatch(data_version):
        raise UsageError(f"--data-version {data_version!r}: expected an S3 version id (letters, digits, ._+=/-)")
    aws = Aws(shared.config.region)
    run_id = str(uuid.uuid4())  # also the start request's idempotency token: the copy and the run share it
    pinned = snapshot.pin(aws, data_bucket(aws, shared, outputs.data_bucket if outputs else None), model, run_id,
                          data_version)
    data = pinned.data_snapshot
    reason = trigger_reason(reason)
    # A run started for drift carries the guards' display-name mark, so their cool-down and cap count it too.
    display = f"{DRIFT_PREFIX if reason.startswith('drift') else ''}{model}-{commit[:12]}"
    started = aws.call(
        "sagemaker", "start_pipeline_execution", f"pipeline {pipeline}",
        PipelineName=pipeline,
        PipelineExecutionDisplayName=display,
        PipelineExecutionDescription=f"git {commit}; data {data}"[:3072],
        PipelineParameters=[{"Name": registry.PARAM_GIT_COMMIT, "Value": commit},
                            {"Name": registry.PARAM_DATA_SNAPSHOT, "Value": data},
                            {"Name": PARAM_TRIGGER_REASON, "Value": reason},
                            {"Name": PARAM_RAW_DATA_URI, "Value": pinned.run_prefix_uri},
                            {"Name": PARAM_RAW_DATA_SHA256, "Value": pinned.sha256}],
        ClientRequestToken=run_id,
        read=lambda a: expect(a, "PipelineExecutionArn"),
    )
    arn = started
    lineage = {"gitCommit": commit, "dataSnapshot": data, "rawDataUri": pinned.run_prefix_uri,
               "rawDataSha256": pinned.sha256}
    out = Outcome("start-training", data={"model": model, "pipeline": pipeline, "executionArn": arn,
                                          "lineage": {**lineage, "triggerReason": reason}})
    out.say(f"started {pipeline}: {arn}")
    out.say(f"  git commit {commit}, data snapshot {data}, trigger: {reason}")
    out.say(f"  reads {pinned.run_prefix_uri}{bucket_layout.RAW_DATA_FILE} ({pinned.size} bytes, "
            f"sha256 {pinned.sha256})")
    if not wait:
        return out
    report = progress or _stderr
    report(f"started {pipeline}: {arn}")  # before the first poll: a failed poll must not hide the run
    try:
        status, reason, steps = follow(aws, arn, timeout, interval, report)
    except ReleaseError as exc:
        exc.args = (f"{exc}; the run {arn} was started and keeps running",)
        exc.data = {"executionArn": arn, "lineage": out.data["lineage"]}
        raise
    out.data.update(status=status, steps=steps)
    if status != "Succeeded":
        out.exit_code = EXIT_VERDICT
        if status in TERMINAL:
            failed = [s for s in steps if s.get("status") == "Failed"]
            why = reason or (failed[0].get("reason") if failed else "") or "no reason given"
            out.say(f"execution {status}: {why}")
        else:
            out.say(f"execution still {status} after {timeout:.0f} s; gave up waiting (it keeps running)")
        return out
    package = _registered(aws, group, arn, steps)
    if package is None:
        out.exit_code = EXIT_VERDICT
        out.data["package"] = None
        out.say(f"execution Succeeded but registered no package in {group}")
        return out
    out.data["package"] = package.to_json()
    out.say(f"registered {group} v{package.version} ({package.status}): {package.arn}")
    out.say(f"  git commit {package.git_commit}, data snapshot {package.data_snapshot}")
    if package.lineage() != lineage:
        out.exit_code = EXIT_VERDICT
        recorded = package.lineage()
        differ = ", ".join(f"{k} {recorded[k]} (started with {v})" for k, v in lineage.items() if recorded[k] != v)
        out.say(f"lineage mismatch: the package records {differ}")
    return out


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def follow(aws: Aws, arn: str, timeout: float, interval: float,
           progress: Callable[[str], None]) -> tuple[str, str, list[dict[str, Any]]]:
    """Poll until the execution ends or the deadline; report each change of status or steps."""
    start = time.monotonic()
    steps_supported = True
    last = ""
    while True:
        status, failure = aws.call("sagemaker", "describe_pipeline_execution", f"pipeline execution {arn}",
                                   read=_execution, PipelineExecutionArn=arn)
        steps: list[dict[str, Any]] = []
        if steps_supported:
            try:
                steps = list_steps(aws, arn)
            except AwsError as exc:
                if exc.code not in UNSUPPORTED:
                    raise
                steps_supported = False
                progress(f"  (no step details: {exc})")
        elapsed = time.monotonic() - start
        line = f"{status} | " + (", ".join(f"{s['name']} {s['status']}" for s in steps) or "no steps reported")
        if line != last:
            progress(f"[{_clock(elapsed)}] {line}")
            last = line
        if status in TERMINAL:
            return status, failure, steps
        if elapsed >= timeout:
            return status, "", steps
        time.sleep(min(interval, max(0.0, timeout - elapsed)))


def _execution(answer: dict[str, Any]) -> tuple[str, str]:
    """A DescribePipelineExecution answer: its status and failure reason (one line)."""
    return expect(answer, "PipelineExecutionStatus"), " ".join(
        (expect(answer, "FailureReason", required=False) or "").split())


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:3d}m{secs:02d}s"


def list_steps(aws: Aws, arn: str) -> list[dict[str, Any]]:
    """Steps in the order they started (the API lists newest first)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"PipelineExecutionArn": arn, "SortOrder": "Ascending"}
    while True:
        steps, token = aws.call("sagemaker", "list_pipeline_execution_steps", f"pipeline execution {arn}",
                                read=_steps, **kwargs)
        found.extend(steps)
        if not token:
            return found
        kwargs["NextToken"] = token


def _steps(page: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    steps = []
    for step in expect(page, "PipelineExecutionSteps", list, required=False) or []:
        metadata = expect(step, "Metadata", dict, required=False) or {}
        steps.append({
            "name": expect(step, "StepName"), "status": expect(step, "StepStatus"),
            "reason": expect(step, "FailureReason", required=False),
            "packageArn": expect(metadata.get("RegisterModel") or {}, "Arn", required=False),
        })
    return steps, expect(page, "NextToken", required=False)


def _registered(aws: Aws, group: str, arn: str, steps: list[dict[str, Any]]) -> registry.Package | None:
    for step in steps:
        if step.get("packageArn"):
            return registry.describe(aws, step["packageArn"])
    return registry.find_by_execution(aws, group, arn)
