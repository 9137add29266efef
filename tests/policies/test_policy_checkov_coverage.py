"""docs/policies.md compares the pack with every checkov check on the same resource types; a checkov upgrade that
adds a check must add its row (with a verdict and a reason), and the summary counts must match the rows."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from infra.core.paths import PROJECT_ROOT
from policies.tools import docs

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
AWS_TYPE_PREFIXES = ("aws_s3_bucket", "aws_kms", "aws_ecr", "aws_sagemaker", "aws_iam", "aws_ssoadmin",
                     "aws_security_group", "aws_vpc_security_group", "aws_default_security_group", "aws_sns_topic",
                     "aws_cloudwatch_metric_alarm")
VERDICTS = ("covered", "partly", "not covered", "not applicable")
ROW = re.compile(r"^\| `(?P<id>CKV2?_[A-Z0-9]+_\d+)` \| [^|]+ \| (?P<verdict>[a-z ]+) \| (?P<why>[^|]+) \|$", re.M)


def _section() -> str:
    text = docs.DOC_PATH.read_text(encoding="utf-8")
    return text[text.index(docs.HAND_WRITTEN_MARKER):]


def _rows() -> dict[str, tuple[str, str]]:
    return {m["id"]: (m["verdict"], m["why"].strip()) for m in ROW.finditer(_section())}


def _checkov_checks() -> tuple[set[str], set[str]]:
    if not CHECKOV.exists():
        message = f"{CHECKOV} is absent: run .ci/setup (it builds .venv-checkov from requirements-checkov.txt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"in CI this check may not be skipped: {message}")
        pytest.skip(message)
    listing = subprocess.run(
        [str(CHECKOV), "--list", "--framework", "kubernetes", "terraform", "--skip-download"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"}, check=True,
    ).stdout
    kubernetes, aws = set(), set()
    for line in listing.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or not cells[1].startswith("CKV"):
            continue
        check, entity, iac = cells[1], cells[3], cells[5]
        if iac.lower() == "kubernetes":
            kubernetes.add(check)
        elif iac == "Terraform" and entity.startswith(AWS_TYPE_PREFIXES):
            aws.add(check)
    return kubernetes, aws


def test_every_checkov_check_on_these_types_has_a_row_with_a_verdict_and_a_reason() -> None:
    kubernetes, aws = _checkov_checks()
    rows = _rows()
    assert sorted((kubernetes | aws) - set(rows)) == []
    assert all(verdict in VERDICTS and why for verdict, why in rows.values())


def test_the_summary_counts_are_the_rows_counts() -> None:
    rows = _rows()
    section = _section()
    for framework, total_pattern in (("K8S", "Kubernetes"), ("AWS", "AWS")):
        counts = {v: sum(1 for cid, (verdict, _) in rows.items() if f"_{framework}_" in cid and verdict == v)
                  for v in VERDICTS}
        summary = (f"{total_pattern} {sum(counts.values())} checks: {counts['covered']} covered, "
                   f"{counts['partly']} partly, {counts['not covered']} not covered, "
                   f"{counts['not applicable']} not applicable")
        assert summary in " ".join(section.split()), summary


def test_a_covered_row_names_a_rule_of_the_pack() -> None:
    names = {p.name for p in docs.ALL_POLICIES}
    for check, (verdict, why) in _rows().items():
        if verdict == "covered":
            assert set(re.findall(r"`([a-z0-9-]+)`", why)) & names, check
