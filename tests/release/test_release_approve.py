"""`approve` against the emulator: the gate decides, the reason is recorded, lineage survives the update."""

from __future__ import annotations

import release_seed as seed
from release_cli import release, release_text


def _described(arn: str) -> dict:
    return seed.client("sagemaker").describe_model_package(ModelPackageName=arn)


def test_approves_the_newest_pending_package_that_meets_the_gate(emulator, project, capsys):
    older = seed.register("churn", report=seed.evaluation_report("auc", 0.99), commit="a" * 40)
    newest = seed.register("churn", report=seed.evaluation_report("auc", 0.91), commit="b" * 40,
                           snapshot="s3://mlops-shared-data-111111111111/churn/raw/raw.csv versionId=v7")
    code, doc, err = release(capsys, project, "approve", "--model", "churn")
    assert (code, err) == (0, "")
    assert doc["decision"] == "Approved" and doc["package"]["arn"] == newest
    assert doc["metric"] == {"name": "auc", "value": 0.91}
    package = _described(newest)
    assert package["ModelApprovalStatus"] == "Approved"
    assert "auc 0.910000 >= gate 0.85" in package["ApprovalDescription"]
    # moto's UpdateModelPackage clears fields a call leaves out: the tool passes the lineage back.
    assert package["CustomerMetadataProperties"]["GitCommit"] == "b" * 40
    assert _described(older)["ModelApprovalStatus"] == "PendingManualApproval"


def test_rejects_a_package_below_the_gate_with_the_reason(emulator, project, capsys):
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.80))
    code, text, _ = release_text(capsys, project, "approve", "--model", "churn")
    assert code == 1
    assert "Rejected" in text and "auc 0.800000 < gate 0.85" in text
    assert "git commit 0123abcd" in text and "data snapshot s3://data/raw.csv?v=1" in text
    package = _described(arn)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "auc 0.800000 < gate 0.85" in package["ApprovalDescription"]


def test_uses_the_gate_metric_of_the_model(emulator, project, capsys):
    """fraud gates on recall >= 0.9 in the shared stack: a high AUC does not help it."""
    report = seed.evaluation_report("recall", 0.89)
    report["binary_classification_metrics"]["auc"]["value"] = 0.99
    seed.register("fraud", report=report)
    code, doc, _ = release(capsys, project, "approve", "--model", "fraud")
    assert code == 1 and doc["decision"] == "Rejected" and doc["metric"]["name"] == "recall"


def test_never_approves_a_package_without_a_report(emulator, project, capsys):
    arn = seed.register("churn", report=None)
    code, doc, _ = release(capsys, project, "approve", "--model", "churn")
    assert code == 1 and doc["decision"] == "Rejected"
    package = _described(arn)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "does not exist" in package["ApprovalDescription"]


def test_rejects_a_report_without_the_metric_or_not_json(emulator, project, capsys):
    seed.register("churn", report='{"binary_classification_metrics": {}}')
    code, doc, _ = release(capsys, project, "approve", "--model", "churn")
    assert code == 1 and "has no binary_classification_metrics.auc.value" in doc["approvalDescription"]
    arn = seed.register("churn", report="not json", commit="c" * 40)
    code, doc, _ = release(capsys, project, "approve", "--model", "churn", "--package", arn)
    assert code == 1 and "is not valid JSON" in doc["approvalDescription"]


def test_a_given_package_and_an_already_approved_one(emulator, project, capsys):
    arn = seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.9))
    code, doc, _ = release(capsys, project, "approve", "--model", "churn", "--package", arn)
    assert code == 0 and doc["decision"] == "Approved"
    code, _, err = release(capsys, project, "approve", "--model", "churn", "--package",
                           "arn:aws:sagemaker:us-east-1:1:model-package/other-group/1")
    assert code == 2 and "not a version of churn's package group mlops-shared-churn" in err


def test_nothing_pending_and_unknown_model(emulator, project, capsys):
    seed.package_group("churn")
    code, doc, _ = release(capsys, project, "approve", "--model", "churn")
    assert code == 1 and doc["package"] is None
    code, _, err = release(capsys, project, "approve", "--model", "nope")
    assert code == 2 and "--model nope: not a model of stack 'shared'" in err


def test_an_unknown_package_is_one_line_naming_call_and_resource(emulator, project, capsys):
    seed.package_group("churn")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-shared-churn/42"
    code, out, err = release(capsys, project, "approve", "--model", "churn", "--package", arn)
    assert code == 2 and out["ok"] is False and out["error"] == err.split(": error: ", 1)[1].strip()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"infra.release approve: error: sagemaker:DescribeModelPackage on {arn} failed: ")
