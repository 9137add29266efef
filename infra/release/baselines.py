"""Publishing an approved package's data baseline where the environments' monitors read it.

The pipeline's Baseline step writes the baseline under its execution, and the Register step records it in the
package's DriftCheckBaselines. A monitoring schedule names one S3 location per pinned version
(`infra.core.monitoring.baseline_prefix`), so `approve` copies the two files there when it approves a version.
"""

from __future__ import annotations

from typing import Any

from infra.core.monitoring import BASELINE_FILES, baseline_prefix
from infra.release.aws import Aws


def drift_check_files(described: dict[str, Any]) -> dict[str, str]:
    """File name -> S3 URI of the package's data-quality baseline (empty for a package registered without one)."""
    quality = ((described.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {})
    statistics, constraints = BASELINE_FILES
    found = {statistics: (quality.get("Statistics") or {}).get("S3Uri"),
             constraints: (quality.get("Constraints") or {}).get("S3Uri")}
    return {name: uri for name, uri in found.items() if uri}


def publish(aws: Aws, package_arn: str, artifacts_bucket: str, model: str, version: int) -> list[str]:
    """Copy the package's baseline files to the version's published prefix; returns the URIs written."""
    described = aws.call("sagemaker", "describe_model_package", package_arn, ModelPackageName=package_arn)
    target = baseline_prefix(artifacts_bucket, model, version)
    written = []
    for name, source in sorted(drift_check_files(described).items()):
        bucket, key = source.removeprefix("s3://").split("/", 1)
        destination = target + name
        aws.call("s3", "copy_object", destination, Bucket=artifacts_bucket,
                 Key=destination.removeprefix(f"s3://{artifacts_bucket}/"), CopySource={"Bucket": bucket, "Key": key})
        written.append(destination)
    return written
