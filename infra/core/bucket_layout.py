"""Where things lie in the shared artifact store's buckets: the one home of every S3 key and prefix.

The training pipeline reads a model's raw data (the latest file, or the copy of one version that
`start-training` pinned under the run's own prefix) and writes its artifacts under these prefixes, its role and the
CI roles are scoped to them, the release tool reads the data snapshot's version from them, and an endpoint's
data capture (push or pull) writes under its capture prefix. Bucket names are `Naming.bucket`; ARNs `Arns`.
"""

from __future__ import annotations

from datetime import UTC, datetime

RAW_DATA_FILE = "raw.csv"
"""The file the preprocessing step reads from a model's raw data prefix."""


def model_prefix(model: str) -> str:
    """Everything of one model in the data and artifacts buckets (and no other model's)."""
    return f"{model}/"


def raw_data_prefix(model: str) -> str:
    """The raw training data of a model (the preprocessing step's input)."""
    return f"{model_prefix(model)}raw/"


def raw_data_key(model: str) -> str:
    """The raw data file whose S3 version a training run records as its data snapshot."""
    return f"{raw_data_prefix(model)}{RAW_DATA_FILE}"


RUNS_DIR = "runs"
"""Under a model's prefix in the data bucket: one folder per run the release tool started, holding the exact
raw data that run reads (a server-side copy of one S3 version of the raw file; `infra.release.snapshot`)."""


def run_raw_data_prefix(model: str, run_id: str) -> str:
    """The pinned input of one run: `<model>/runs/<run id>/raw/` (the Preprocess step's `RawDataUri`)."""
    return f"{model_prefix(model)}{RUNS_DIR}/{run_id}/raw/"


def capture_prefix(environment: str, model: str) -> str:
    """One endpoint's (or Kubernetes model server's) captured traffic in the shared capture bucket: what the
    model's monitoring job reads, and all its capture writer may write."""
    return f"{environment}/{model}/"


CAPTURE_HOUR_FORMAT = "%Y/%m/%d/%H"
"""Under a capture prefix, files lie by the UTC hour of their requests, `<yyyy>/<mm>/<dd>/<hh>/<file>.jsonl`, as
SageMaker's data capture lays them out under its destination
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html, "View captured data":
`s3://{destination-bucket-prefix}/{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/filename.jsonl`). An endpoint adds
its endpoint and variant names before the hour; a Kubernetes model server's shipper (model_code.capture_shipper,
which cannot import this module) writes the hour right under the prefix; tests hold the two to this function."""


def capture_key(environment: str, model: str, hour: datetime, file_name: str) -> str:
    """The key of one capture file a Kubernetes model server ships (`hour` in UTC)."""
    return f"{capture_prefix(environment, model)}{hour.astimezone(UTC).strftime(CAPTURE_HOUR_FORMAT)}/{file_name}"


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"
