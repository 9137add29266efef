"""What determines one model's pipeline definition, and the names in it that others rely on."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.core.bucket_layout import RAW_DATA_FILE  # noqa: F401 - re-exported for the pipeline steps

# Step and parameter names are part of the contract with operators, dashboards, the release tool and the
# policy pack: keep them stable.
STEP_PREPROCESS = "Preprocess"
STEP_TRAIN = "Train"
STEP_EVALUATE = "Evaluate"
STEP_GATE = "CheckMetricGate"
STEP_GATE_FAILED = "GateFailed"
STEP_REGISTER = "Register"
STEP_BASELINE = "Baseline"  # the data-quality baseline the monitor judges captured requests by (docs/monitoring.md)
# Only when the shared stack has a tracking server and a VPC: the one step with network access (docs/pipeline.md).
STEP_LOG_EXPERIMENT = "LogExperiment"
PARAM_METRIC_THRESHOLD = "MetricThreshold"
PARAM_APPROVAL_STATUS = "ModelApprovalStatus"
# Lineage (contract with infra/release, docs/delivery.md): `start-training` passes both parameters, the Register
# step records them with the execution ARN as the package's CustomerMetadataProperties under these same keys.
PARAM_GIT_COMMIT = "GitCommit"
PARAM_DATA_SNAPSHOT = "DataSnapshot"
LINEAGE_UNKNOWN = "unknown"
# Why the run started: `drift alarm <name> value <v> at <time>` (retrain_guard), `schedule <rule>` (the retraining
# schedule), `manual by <actor>` (infra.release start-training); recorded on the package like the two above.
PARAM_TRIGGER_REASON = "TriggerReason"
# What Preprocess reads (docs/delivery.md, "Lineage"): `RawDataUri` is an S3 prefix holding `raw.csv`, by default
# the model's raw prefix (the latest file: what a scheduled run reads); `start-training` passes the run-scoped copy
# of the exact version it records as DataSnapshot. `RawDataSha256` is the base64 SHA-256 S3 computed of that copy;
# Preprocess refuses a file with another digest. Its default says nothing is pinned, so nothing is compared.
PARAM_RAW_DATA_URI = "RawDataUri"
PARAM_RAW_DATA_SHA256 = "RawDataSha256"
RAW_DATA_UNPINNED = "unpinned"
METADATA_BASELINE = "DataBaseline"  # the package's own baseline: s3 URI of the Baseline step's output
BASELINE_STATISTICS_FILE = "statistics.json"  # written by `python -m model_code.monitor baseline`
BASELINE_CONSTRAINTS_FILE = "constraints.json"


LINEAGE_VALUE_PUNCTUATION = "_.:/=+-@"
LINEAGE_VALUE_MAX = 256


def lineage_value(text: str) -> str:
    """`text` as a value the Register step can record: CreateModelPackage refuses any other.

    The package's CustomerMetadataProperties values must match `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`, 1-256 characters
    (the SageMaker API model's `CustomerMetadataValue` shape: botocore `data/sagemaker/*/service-2.json`), and the
    parameters reach those values at run time, where no plan sees them. So every producer of a lineage parameter
    (the release tool, the schedule, the retraining guard) passes its text through here: any other character
    becomes a space, runs of white space one, and the result is cut to 256 UTF-16 units (the API counts Java
    characters). Text with nothing left records `unknown`.
    """
    kept = "".join(c if unicodedata.category(c)[0] in "LZN" or c in LINEAGE_VALUE_PUNCTUATION else " " for c in text)
    value = " ".join(kept.split())
    while len(value.encode("utf-16-le")) // 2 > LINEAGE_VALUE_MAX:
        value = value[:-1]
    return value.strip() or LINEAGE_UNKNOWN


def scheduled_data_snapshot(raw_data_s3_uri: str) -> str:
    """The DataSnapshot a scheduled run records: no version is pinned, the run reads the latest raw file.

    Distinguishes a scheduled run from a manual one that passed nothing (`unknown`); the version actually read
    is the one current at the execution's start (the data bucket is versioned).
    """
    return lineage_value(f"scheduled: latest {raw_data_s3_uri.rstrip('/')}/{RAW_DATA_FILE}")


METADATA_EXECUTION_ARN = "PipelineExecutionArn"
PROPERTY_FILE_EVALUATION = "EvaluationReport"
EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class PipelineSpec:
    """Everything that determines one model's pipeline definition (and nothing else).

    The builder trusts these values: they come from the validated stack config (`infra.config.Training`,
    `infra.config.Network`) and from names the program makes, so they are not validated a second time here.
    """

    pipeline_name: str
    region: str
    role_arn: str
    default_bucket: str  # artifacts bucket name (pipeline session default bucket)
    raw_data_s3_uri: str  # s3://<data-bucket>/<model>/raw/  (input to preprocessing)
    artifacts_s3_uri: str  # s3://<artifacts-bucket>/<model>/  (processed data, model, evaluation)
    kms_key_arn: str  # customer-managed key for volumes and outputs
    training_image_uri: str  # also used for processing (the image ships model_code)
    serving_image_uri: str  # inference image recorded on the registered model package
    training_instance_type: str
    training_instance_count: int
    processing_instance_type: str
    volume_size_gb: int
    max_runtime_seconds: int
    use_spot: bool
    max_wait_seconds: int | None  # required when use_spot (checked by the config layer)
    hyperparameters: Mapping[str, str]
    metric_name: str  # e.g. "auc" or "accuracy"
    metric_threshold: float
    model_package_group_name: str
    inference_instance_types: tuple[str, ...]
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    psi_threshold: float = 0.2  # the baseline's default PSI threshold; each environment's monitor may override it
    experiment_logging: ExperimentLogging | None = None  # None: no LogExperiment step

    def job_tags(self) -> list[tuple[str, str]]:
        """Job tags in a stable order (the caller's dict order must not leak into the JSON)."""
        return sorted(self.tags.items())


@dataclass(frozen=True)
class ExperimentLogging:
    """Where the LogExperiment step logs each run, and the role it runs as (it may read only the report)."""

    tracking_server_arn: str
    experiment_name: str
    role_arn: str
