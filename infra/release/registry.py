"""The model registry as the release tool reads it: packages, their lineage and their evaluation report.

Contract with the training pipeline (the pipeline definition declares these; see docs/delivery.md):
pipeline parameters `GitCommit` and `DataSnapshot`, and on every registered package the
CustomerMetadataProperties `GitCommit`, `DataSnapshot`, `RawDataUri`, `RawDataSha256` and `PipelineExecutionArn`,
and the evaluation report
(`evaluation.json`) as `ModelMetrics.ModelQuality.Statistics.S3Uri`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.release.aws import Aws, expect
from infra.release.aws import body as read_body
from infra.release.errors import AwsError

PARAM_GIT_COMMIT = "GitCommit"
PARAM_DATA_SNAPSHOT = "DataSnapshot"
META_GIT_COMMIT = "GitCommit"
META_DATA_SNAPSHOT = "DataSnapshot"
META_RAW_DATA_URI = "RawDataUri"
META_RAW_DATA_SHA256 = "RawDataSha256"
META_EXECUTION = "PipelineExecutionArn"
UNKNOWN = "unknown"
REPORT_LIMIT = 1024 * 1024
"""The largest evaluation report read (an evaluation.json is a few hundred bytes)."""


@dataclass(frozen=True)
class Package:
    """One version of a model package group, with what the release tool needs of it."""

    arn: str
    group: str
    version: int
    status: str
    created: datetime | None
    metadata: dict[str, str] = field(default_factory=dict)
    report_uri: str | None = None
    approval_description: str | None = None

    @property
    def git_commit(self) -> str:
        return self.metadata.get(META_GIT_COMMIT, UNKNOWN)

    @property
    def data_snapshot(self) -> str:
        return self.metadata.get(META_DATA_SNAPSHOT, UNKNOWN)

    def lineage(self) -> dict[str, str]:
        """What the run that registered it read: commit, raw data version, the run's copy of it and its digest."""
        return {"gitCommit": self.git_commit, "dataSnapshot": self.data_snapshot,
                "rawDataUri": self.metadata.get(META_RAW_DATA_URI, UNKNOWN),
                "rawDataSha256": self.metadata.get(META_RAW_DATA_SHA256, UNKNOWN)}

    def to_json(self) -> dict[str, Any]:
        return {
            "arn": self.arn, "group": self.group, "version": self.version, "status": self.status,
            "reportUri": self.report_uri, "lineage": self.lineage(),
        }


def describe(aws: Aws, arn: str) -> Package:
    return aws.call("sagemaker", "describe_model_package", arn, read=_package, ModelPackageName=arn)


def _package(data: dict[str, Any]) -> Package:
    """A DescribeModelPackage answer, checked field by field (a malformed answer is a guarded AwsError)."""
    statistics = ((expect(data, "ModelMetrics", dict, required=False) or {}).get("ModelQuality") or {}) \
        .get("Statistics") or {}
    version = expect(data, "ModelPackageVersion", int)
    if version < 1:
        raise ValueError(f"ModelPackageVersion {version} is not a version number")
    metadata = expect(data, "CustomerMetadataProperties", dict, required=False) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("CustomerMetadataProperties holds a value that is not text")
    report = statistics.get("S3Uri")
    return Package(
        arn=expect(data, "ModelPackageArn"),
        group=expect(data, "ModelPackageGroupName", required=False) or "",
        version=version,
        status=expect(data, "ModelApprovalStatus"),
        created=expect(data, "CreationTime", datetime, required=False),
        metadata=dict(metadata),
        report_uri=report if isinstance(report, str) else None,
        approval_description=expect(data, "ApprovalDescription", required=False),
    )


def _summaries(page: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """One ListModelPackages page: its summaries (each with an ARN) and the next token."""
    summaries = expect(page, "ModelPackageSummaryList", list, required=False) or []
    for summary in summaries:
        expect(summary, "ModelPackageArn")
        expect(summary, "CreationTime", datetime, required=False)
        expect(summary, "ModelPackageVersion", int, required=False)
    return summaries, expect(page, "NextToken", required=False)


def newest(aws: Aws, group: str, status: str) -> Package | None:
    """The newest package of `group` that the list shows with approval `status`, or None (creation time, then
    version), as DescribeModelPackage shows it now: the caller checks `status` again before deciding on it."""
    summaries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "ModelPackageGroupName": group, "ModelApprovalStatus": status, "SortBy": "CreationTime",
        "SortOrder": "Descending", "MaxResults": 100,
    }
    while True:
        found, token = aws.call("sagemaker", "list_model_packages", f"model package group {group}",
                                read=_summaries, **kwargs)
        summaries.extend(found)
        if not token:
            break
        kwargs["NextToken"] = token
    if not summaries:
        return None
    best = max(summaries, key=lambda s: (s.get("CreationTime") or datetime.min, s.get("ModelPackageVersion") or 0))
    return describe(aws, best["ModelPackageArn"])


def find_by_execution(aws: Aws, group: str, execution_arn: str) -> Package | None:
    """The package that one pipeline execution registered (found by its recorded execution ARN)."""
    kwargs: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime",
                              "SortOrder": "Descending", "MaxResults": 20}
    found, _ = aws.call("sagemaker", "list_model_packages", f"model package group {group}", read=_summaries,
                        **kwargs)
    for summary in found:
        package = describe(aws, summary["ModelPackageArn"])
        if package.metadata.get(META_EXECUTION) == execution_arn:
            return package
    return None


class ReportError(Exception):
    """The evaluation report is absent or unusable; the message says why (the package is then rejected)."""


def read_report(aws: Aws, package: Package) -> dict[str, Any]:
    """The package's evaluation.json, parsed. A missing or malformed report is a ReportError; a transport or
    permission failure is an AwsError (nothing is decided on a report we could not read)."""
    uri = package.report_uri
    if not uri:
        raise ReportError("the package has no evaluation report (ModelMetrics.ModelQuality.Statistics is empty)")
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ReportError(f"the evaluation report URI {uri!r} is not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    try:
        body = aws.call("s3", "get_object", uri, read=read_body(REPORT_LIMIT), Bucket=bucket, Key=key)
    except AwsError as exc:
        if exc.code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise ReportError(f"the evaluation report {uri} does not exist") from None
        raise
    try:
        report = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ReportError(f"the evaluation report {uri} is not valid JSON") from None
    if not isinstance(report, dict):
        raise ReportError(f"the evaluation report {uri} is not a JSON object")
    return report


def metric_value(report: dict[str, Any], metric: str, uri: str) -> float:
    """`binary_classification_metrics.<metric>.value` (the layout model_code.evaluate writes)."""
    try:
        value = report["binary_classification_metrics"][metric]["value"]
    except (KeyError, TypeError):
        raise ReportError(
            f"the evaluation report {uri} has no binary_classification_metrics.{metric}.value"
        ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ReportError(f"the evaluation report {uri} has a non-numeric {metric} value {value!r}")
    return float(value)
