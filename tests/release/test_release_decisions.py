"""Registry state races and human decisions: the package's state is read again at the moment of the decision, and
a person's decision is never overturned without an explicit, recorded `--overrule REASON`.

Where list and describe must disagree (a decision taken between the two calls), the fault proxy rewrites the
emulator's DescribeModelPackage answer."""

from __future__ import annotations

import release_seed as seed
from release_cli import release


def _described(arn: str) -> dict:
    return seed.client("sagemaker").describe_model_package(ModelPackageName=arn)


def _human_rejection(arn: str, reason: str) -> None:
    sm = seed.client("sagemaker")
    metadata = _described(arn)["CustomerMetadataProperties"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription=reason,
                            CustomerMetadataProperties=metadata)


def _through_proxy(proxy, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)


def test_promote_refuses_a_package_the_list_shows_approved_but_describe_rejected(proxy, project, capsys,
                                                                                 monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    for _ in range(4):
        seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.9))
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    before = stack_file.read_bytes()
    _through_proxy(proxy, monkeypatch)
    proxy.fault("DescribeModelPackage", "rewrite", old=r'"ModelApprovalStatus":\s*"Approved"',
                new='"ModelApprovalStatus": "Rejected"')
    code, doc, err = release(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert code == 1 and doc["changed"] is False and err == ""
    assert stack_file.read_bytes() == before


def test_approve_does_not_overturn_a_human_rejection(emulator, project, capsys):
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.99))
    _human_rejection(arn, "rejected by alice: training data leaked the label")
    code, doc, _ = release(capsys, project, "approve", "--model", "churn", "--package", arn)
    assert code == 1 and doc["decision"] is None
    package = _described(arn)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == "rejected by alice: training data leaked the label"


def test_approve_keeps_the_reason_of_a_rejection_it_agrees_with(emulator, project, capsys):
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.5))
    _human_rejection(arn, "rejected by bob: too slow")
    code, doc, _ = release(capsys, project, "approve", "--model", "churn", "--package", arn, "--overrule", "retry")
    assert code == 1 and doc["decision"] == "Rejected"
    assert _described(arn)["ApprovalDescription"] == "rejected by bob: too slow"


def test_overrule_is_explicit_and_recorded(emulator, project, capsys):
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.99))
    _human_rejection(arn, "rejected by alice: wait for the data fix")
    code, doc, _ = release(capsys, project, "approve", "--model", "churn", "--package", arn,
                           "--overrule", "data fix landed in 1f3e2a")
    assert code == 0 and doc["decision"] == "Approved"
    described = _described(arn)
    assert described["ModelApprovalStatus"] == "Approved"
    text = described["ApprovalDescription"]
    assert "overruled an earlier rejection (rejected by alice: wait for the data fix)" in text
    assert "because: data fix landed in 1f3e2a" in text and "auc 0.990000 >= gate" in text


def test_overrule_needs_a_package_and_a_reason(emulator, project, capsys):
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.99))
    for argv in (["--overrule", "x"], ["--package", arn, "--overrule", "  "]):
        code, _, err = release(capsys, project, "approve", "--model", "churn", *argv)
        assert code == 2 and "--overrule" in err
    assert _described(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_approve_writes_nothing_when_the_package_was_decided_meanwhile(proxy, project, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.99))
    _through_proxy(proxy, monkeypatch)
    # The first describe (the list's candidate) says pending; the one at the moment of decision says Rejected.
    proxy.fault("DescribeModelPackage", "rewrite", old="^$", new="", times=1)
    proxy.fault("DescribeModelPackage", "rewrite", old=r'"ModelApprovalStatus":\s*"PendingManualApproval"',
                new='"ModelApprovalStatus": "Rejected"')
    code, doc, _ = release(capsys, project, "approve", "--model", "churn")
    assert code == 1 and doc["decision"] is None
    assert proxy.count("UpdateModelPackage") == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    assert _described(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_approve_writes_nothing_when_list_and_describe_disagree(proxy, project, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.99))
    _through_proxy(proxy, monkeypatch)
    proxy.fault("DescribeModelPackage", "rewrite", old=r'"ModelApprovalStatus":\s*"PendingManualApproval"',
                new='"ModelApprovalStatus": "Rejected"')
    code, doc, _ = release(capsys, project, "approve", "--model", "churn")
    assert code == 1 and doc["decision"] is None
    assert proxy.count("UpdateModelPackage") == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.upstream)
    assert _described(arn)["ModelApprovalStatus"] == "PendingManualApproval"
