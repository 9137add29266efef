"""Every release command under AWS faults, injected by a proxy on loopback between the tool and moto's server.

Each AWS call the command makes meets each fault in turn: throttling (400 ThrottlingException / 503 SlowDown),
500s, a garbage body, a truncated body, a hang longer than the read timeout, a dropped connection. Whatever the
fault, the command ends with exit 2 (no verdict was reached: `infra.cli`) and one error line on stderr naming the
call (`service:Operation`; `start-training --wait` prints the run it started before it), never a traceback; a
fault in the read of an answer is as guarded as a fault in the call.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import release_seed as seed
from release_cli import release_text

from infra.release.errors import EXIT_ERROR
from infra.release.smoke import sample_request

FAULTS = ("throttle", "error500", "garbage", "truncate", "drop")
COMMIT = "9f" * 20
PIPELINE = "mlops-shared-churn"
DATA_BUCKET = "mlops-shared-data-111111111111"


def _approve(project: Path, tmp_path: Path) -> list[str]:
    seed.register("churn", report=seed.evaluation_report("auc", 0.91))
    return ["approve", "--model", "churn"]


def _promote(project: Path, tmp_path: Path) -> list[str]:
    seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.91))
    seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.91))
    seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.91))
    seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.91))
    return ["promote", "--model", "churn", "--to", "staging"]


def _verify(project: Path, tmp_path: Path) -> list[str]:
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("        delivery: pull\n", ""))
    old = seed.endpoint_config("dev", "churn", 2, "0ld0ld0ld0")
    seed.endpoint("dev", "churn", old)
    declared = seed.endpoint_config("dev", "churn", 3, "d3c1a4ed00")
    seed.alarm("dev", "churn", "5xx-errors", "OK")
    outputs = seed.outputs_file(tmp_path / "outputs.json", "dev", {"churn": declared})
    return ["verify", "--stack", "dev", "--outputs", str(outputs)]


def _verify_ok(project: Path, tmp_path: Path) -> list[str]:
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("        delivery: pull\n", ""))
    declared = seed.endpoint_config("dev", "churn", 3, "d3c1a4ed00")
    seed.endpoint("dev", "churn", declared)
    outputs = seed.outputs_file(tmp_path / "outputs.json", "dev", {"churn": declared})
    return ["verify", "--stack", "dev", "--outputs", str(outputs)]


def _training(project: Path, tmp_path: Path) -> list[str]:
    seed.pipeline(PIPELINE)
    seed.raw_data("churn", b"defaulted,age\n", bucket=DATA_BUCKET)
    return ["start-training", "--model", "churn", "--git-commit", COMMIT, "--wait", "--timeout", "5",
            "--interval", "0.05"]


def _smoke(project: Path, tmp_path: Path) -> list[str]:
    """moto's InvokeEndpoint answers from a queue of results (see test_release_smoke.py); one good answer."""
    rows = sample_request()[1]
    body = json.dumps({"predictions": [{"predicted_label": 0, "score": 0.1}] * rows})
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL"] + "/moto-api/static/sagemaker/endpoint-results", method="POST",
        data=json.dumps({"results": [{"Body": body, "ContentType": "application/json"}]}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    return ["smoke-test", "--stack", "dev"]


SCENARIOS: list[tuple[str, Callable[[Path, Path], list[str]], str, str]] = [
    # (name, seed, operation the fault hits, the call the error must name)
    ("approve-list", _approve, "ListModelPackages", "sagemaker:ListModelPackages"),
    ("approve-describe", _approve, "DescribeModelPackage", "sagemaker:DescribeModelPackage"),
    ("approve-report", _approve, "GET /mlops-shared-artifacts", "s3:GetObject"),
    ("approve-update", _approve, "UpdateModelPackage", "sagemaker:UpdateModelPackage"),
    ("promote-list", _promote, "ListModelPackages", "sagemaker:ListModelPackages"),
    ("promote-describe", _promote, "DescribeModelPackage", "sagemaker:DescribeModelPackage"),
    ("verify-endpoint", _verify, "DescribeEndpoint ", "sagemaker:DescribeEndpoint"),
    ("verify-config", _verify, "DescribeEndpointConfig", "sagemaker:DescribeEndpointConfig"),
    ("verify-alarms", _verify, "DescribeAlarms", "cloudwatch:DescribeAlarms"),
    ("verify-live-config", _verify_ok, "DescribeEndpointConfig", "sagemaker:DescribeEndpointConfig"),
    ("smoke-invoke", _smoke, "/invocations", "sagemaker:InvokeEndpoint"),
    ("training-versions", _training, "GET /mlops-shared-data", "s3:ListObjectVersions"),
    ("training-copy", _training, "PUT /mlops-shared-data", "s3:CopyObject"),
    ("training-start", _training, "StartPipelineExecution", "sagemaker:StartPipelineExecution"),
    ("training-poll", _training, "DescribePipelineExecution", "sagemaker:DescribePipelineExecution"),
]
# A garbage report is a report that was read and is not JSON: a verdict (rejected), not a transport fault.
# The same for an inference answer that is not JSON: the smoke test fails on it.
VERDICTS = {("approve-report", "garbage"): "is not valid JSON", ("smoke-invoke", "garbage"): "is not JSON"}


def _one_line_naming(code: int, out: str, err: str, call: str) -> None:
    assert code == EXIT_ERROR, (out, err)
    assert "Traceback" not in err + out
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("infra.release ")]
    assert errors == lines[-1:] and f"{call} on " in errors[0], err
    assert all(line.startswith("started ") for line in lines[:-1]), err  # start-training names its run first


CASES = [(fault, *scenario) for scenario in SCENARIOS for fault in FAULTS]


@pytest.mark.parametrize(("fault", "name", "seeding", "operation", "call"), CASES,
                         ids=[f"{c[1]}-{c[0]}" for c in CASES])
def test_a_fault_is_one_line_naming_the_call(proxy, project, capsys, tmp_path, monkeypatch, fault, name, seeding,
                                             operation, call):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)  # seeding goes straight to the emulator
    argv = seeding(project, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # every attempt meets the fault; retries are tested below
    if name == "training-poll":  # the run must be started and followed: the fault hits the poll
        proxy.fault("StartPipelineExecution", "rewrite")  # passes through unchanged
    proxy.fault(operation, fault)
    code, out, err = release_text(capsys, project, *argv)
    if (name, fault) in VERDICTS:
        assert code == 1 and VERDICTS[name, fault] in out and "Traceback" not in err
        return
    _one_line_naming(code, out, err, call)
    assert proxy.count(operation.strip()) >= 1


HANGS = [s for s in SCENARIOS if s[0] in ("approve-describe", "approve-report", "verify-endpoint", "smoke-invoke",
                                           "training-poll")]


@pytest.mark.parametrize(("name", "seeding", "operation", "call"), HANGS, ids=[s[0] for s in HANGS])
def test_a_hang_ends_at_the_read_timeout_as_one_line(proxy, project, capsys, tmp_path, monkeypatch, name, seeding,
                                                     operation, call):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    argv = seeding(project, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    if name == "training-poll":
        proxy.fault("StartPipelineExecution", "rewrite")  # passes through unchanged
    proxy.fault(operation, "hang", hang_s=4)
    code, out, err = release_text(capsys, project, *argv)
    _one_line_naming(code, out, err, call)
    assert "timeout" in err.lower()


def test_a_transient_throttle_is_retried_and_the_command_succeeds(proxy, project, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    argv = _approve(project, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    proxy.fault("DescribeModelPackage", "throttle", times=1)
    code, out, err = release_text(capsys, project, *argv)
    assert (code, err) == (0, ""), out
    assert "Approved" in out


@pytest.mark.parametrize("attempts", [1, 2, 3])
def test_aws_max_attempts_is_the_total_number_of_attempts(proxy, project, capsys, tmp_path, monkeypatch, attempts):
    """AWS_MAX_ATTEMPTS means what every AWS SDK means by it: attempts in all, the first one included."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    argv = _approve(project, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", str(attempts))
    proxy.fault("ListModelPackages", "error500")
    code, _, err = release_text(capsys, project, *argv)
    assert code == EXIT_ERROR and "sagemaker:ListModelPackages" in err
    assert proxy.count("ListModelPackages") == attempts


@pytest.mark.parametrize(("old", "new", "what"), [
    (r'"ModelPackageVersion":\s*1', '"ModelPackageVersion": "one"', "non-numeric version"),
    (r'"ModelPackageVersion":\s*1', '"ModelPackageVersion": 0', "version 0"),
    (r'"ModelPackageVersion":\s*1', '"ModelPackageVersion": 1.5', "fractional version"),
    ('"ModelPackageArn"', '"NoArn"', "no ARN"),
    ('"ModelApprovalStatus"', '"NoStatus"', "no status"),
    (r'"ModelApprovalStatus":\s*"[A-Za-z]+"', '"ModelApprovalStatus": 7', "status not text"),
    (r'"CustomerMetadataProperties":\s*\{', '"CustomerMetadataProperties": {"n": 1, ', "metadata not text"),
    (r'"ModelMetrics":\s*\{', '"ModelMetrics": {"ModelQuality": [], "x": ', "metrics of the wrong shape"),
])
def test_a_malformed_describe_answer_is_one_line(proxy, project, capsys, tmp_path, monkeypatch, old, new, what):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    argv = _approve(project, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    rule = proxy.fault("DescribeModelPackage", "rewrite", old=old, new=new)
    code, out, err = release_text(capsys, project, *argv)
    assert rule.used >= 1
    _one_line_naming(code, out, err, "sagemaker:DescribeModelPackage")
    assert "malformed answer" in err, what
