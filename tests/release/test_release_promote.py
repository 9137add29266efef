"""`promote` against the emulator: one line changes, comments stay, atomic, clear refusals."""

from __future__ import annotations

import subprocess
import sys

import release_seed as seed
from conftest import ROOT
from release_cli import release, release_text


def _approved(*versions_and_status: str) -> list[str]:
    return [seed.register("churn", status=s, report=seed.evaluation_report("auc", 0.9), commit=f"{i:x}" * 40)
            for i, s in enumerate(versions_and_status, start=1)]


def test_pins_the_newest_approved_version_changing_exactly_one_line(emulator, project, capsys):
    _approved("Approved", "Approved", "Approved", "Approved", "Rejected", "PendingManualApproval")  # v4 newest
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    before = stack_file.read_text()
    code, text, err = release_text(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert (code, err) == (0, "")
    after = stack_file.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("        approvedVersion: 3", "        approvedVersion: 4")]
    assert "shadow:\n          approvedVersion: 4" in after  # the shadow's pin is another key, untouched
    assert after.startswith("# Like prod, smaller")  # comments stay
    assert "pinned churn v4 in stacks/Pulumi.staging.yaml:" in text and "(was v3)" in text
    assert f"git commit {'4' * 40}" in text and "data snapshot s3://data/raw.csv?v=1" in text
    assert sorted(p.name for p in stack_file.parent.iterdir()) == sorted(
        ["Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.shared.yaml", "Pulumi.staging.yaml"])  # no temp file left


def test_already_pinned_says_so_and_exits_0(emulator, project, capsys):
    _approved("Approved", "Approved", "Approved")  # v3 is what every stack pins already
    before = (project / "stacks" / "Pulumi.prod.yaml").read_text()
    code, doc, _ = release(capsys, project, "promote", "--model", "churn", "--to", "prod")
    assert code == 0 and doc["changed"] is False and doc["from"] == doc["to"] == 3
    assert (project / "stacks" / "Pulumi.prod.yaml").read_text() == before


def test_pull_path_edits_the_marked_line_of_the_overlay(emulator, project, capsys):
    for _ in range(5):
        seed.register("fraud", status="Approved", report=seed.evaluation_report("recall", 0.95))
    overlay = project / "gitops" / "staging" / "fraud" / "kustomization.yaml"
    before = overlay.read_text()
    stack_before = (project / "stacks" / "Pulumi.staging.yaml").read_text()
    code, doc, _ = release(capsys, project, "promote", "--model", "fraud", "--to", "staging")
    assert code == 0 and doc["target"] == "kubernetes" and (doc["from"], doc["to"]) == (2, 5)
    marker = " # mlops:approvedVersion"
    assert overlay.read_text() == before.replace(f'value: "2"{marker}', f'value: "5"{marker}')
    assert (project / "stacks" / "Pulumi.staging.yaml").read_text() == stack_before


def test_pull_path_without_exactly_one_marker_is_bad_input(emulator, project, capsys):
    overlay = project / "gitops" / "dev" / "fraud" / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace(" # mlops:approvedVersion", ""))
    code, _, err = release(capsys, project, "promote", "--model", "fraud", "--to", "dev")
    assert code == 2 and "expected exactly one line marked '# mlops:approvedVersion', found none" in err


def test_unknown_environment_or_model_exits_2_and_touches_nothing(emulator, project, capsys):
    code, _, err = release(capsys, project, "promote", "--model", "churn", "--to", "qa")
    assert code == 2 and "--to qa: unknown environment; stacks: dev, prod, shared, staging" in err
    code, _, err = release(capsys, project, "promote", "--model", "churn", "--to", "shared")
    assert code == 2 and "promote to an environment stack" in err
    code, _, err = release(capsys, project, "promote", "--model", "nope", "--to", "dev")
    assert code == 2 and "--model nope: not a model of stack 'dev'" in err


def test_no_approved_package_is_a_verdict(emulator, project, capsys):
    seed.register("churn", status="PendingManualApproval", report=seed.evaluation_report("auc", 0.9))
    code, doc, _ = release(capsys, project, "promote", "--model", "churn", "--to", "dev")
    assert code == 1 and doc["to"] is None and doc["changed"] is False


def test_emulator_going_away_mid_way_leaves_the_file_whole(own_emulator, project, capsys):
    """The emulator process exits when the tool reads the package (after it listed the group): one clear line,
    exit 1, the stack file byte-for-byte unchanged and no temporary file beside it."""
    for _ in range(4):
        seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.9))
    own_emulator.post("/_inject/die-on", {"target": "SageMaker.DescribeModelPackage"})
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    before = stack_file.read_bytes()
    code, out, err = release(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert not own_emulator.alive()
    assert code == 2 and out["ok"] is False and out["error"] == err.split(": error: ", 1)[1].strip()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("infra.release promote: error: sagemaker:DescribeModelPackage on "
                          "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-shared-churn/4 failed: ")
    assert stack_file.read_bytes() == before
    assert not [p for p in stack_file.parent.iterdir() if p.name.startswith(".")]


def test_the_module_runs_as_a_command(emulator, project):
    """`python -m infra.release` in its own process: exit code and one-line error on stderr."""
    result = subprocess.run([sys.executable, "-m", "infra.release", "promote", "--model", "churn", "--to", "qa",
                             "--project-dir", str(project)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("infra.release promote: error: --to qa: unknown environment")
    result = subprocess.run([sys.executable, "-m", "infra.release", "promote", "--model", "churn"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "the following arguments are required: --to" in result.stderr


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(emulator, project, capsys, monkeypatch):
    """The rename is the commit point: if it fails, readers still see the complete old file."""
    import os

    from infra.core import files

    _approved("Approved", "Approved", "Approved", "Approved")
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    before = stack_file.read_bytes()

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)
    code, doc, err = release(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert code == 2 and "Pulumi.staging.yaml: cannot write (No space left on device); the file is unchanged" in err
    assert stack_file.read_bytes() == before
    assert sorted(os.listdir(stack_file.parent)) == sorted(
        ["Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.shared.yaml", "Pulumi.staging.yaml"])
