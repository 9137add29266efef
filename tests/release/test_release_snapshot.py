"""`start-training` pins the raw data its lineage records (issue 20, item 9), through the real tool against moto.

The run reads the run-scoped copy (`RawDataUri`) of the version it records (`DataSnapshot`): uploading a newer
version afterwards changes neither. The copy is SSE-KMS under the data bucket's key, carries S3's SHA-256 of the
bytes (`RawDataSha256`, which Preprocess checks), and copies no tags. Every state of the raw prefix that leaves no
single version to pin is one line, exit 2, and starts no run.
"""

from __future__ import annotations

import base64
import hashlib
import re

import botocore.client
import pytest
import release_seed as seed
from release_cli import release

from infra.release import snapshot

PIPELINE = "mlops-shared-churn"
BUCKET = seed.DATA_BUCKET
COMMIT = "9f" * 20
V1 = b"defaulted,age\n0,31\n"
V2 = b"defaulted,age\n1,44\n"


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _start(capsys, project, *extra: str) -> tuple[int, dict, str]:
    return release(capsys, project, "start-training", "--model", "churn", "--git-commit", COMMIT, *extra)


def _read(uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return seed.client("s3").get_object(Bucket=bucket, Key=key + "raw.csv")["Body"].read()


def _runs() -> list[dict]:
    return seed.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def test_the_run_reads_the_version_it_records_even_after_a_newer_upload(emulator, project, capsys):
    seed.pipeline(PIPELINE)
    v1 = seed.raw_data("churn", V1)
    code, doc, _ = _start(capsys, project)
    assert code == 0
    parameters = seed.execution_parameters(doc["executionArn"])
    assert parameters["DataSnapshot"] == f"s3://{BUCKET}/churn/raw/raw.csv versionId={v1}"
    seed.raw_data("churn", V2)  # the data engineers upload a new version while the run is queued
    assert _read(parameters["RawDataUri"]) == V1
    assert parameters["RawDataSha256"] == _sha256(V1)
    # the next run pins the new version, in a prefix of its own; the first run's copy is untouched
    code, second, _ = _start(capsys, project)
    again = seed.execution_parameters(second["executionArn"])
    assert code == 0 and again["RawDataUri"] != parameters["RawDataUri"]
    assert (_read(again["RawDataUri"]), again["RawDataSha256"]) == (V2, _sha256(V2))
    assert _read(parameters["RawDataUri"]) == V1


def test_an_older_version_can_be_pinned_by_its_id(emulator, project, capsys):
    seed.pipeline(PIPELINE)
    v1 = seed.raw_data("churn", V1)
    seed.raw_data("churn", V2)
    code, doc, _ = _start(capsys, project, "--data-version", v1)
    assert code == 0 and doc["lineage"]["dataSnapshot"].endswith(f" versionId={v1}")
    assert _read(doc["lineage"]["rawDataUri"]) == V1 and doc["lineage"]["rawDataSha256"] == _sha256(V1)


def test_the_copy_stays_under_the_bucket_key_and_copies_no_tags(emulator, project, capsys):
    seed.pipeline(PIPELINE)
    key = seed.data_bucket()
    s3 = seed.client("s3")
    s3.put_object(Bucket=BUCKET, Key="churn/raw/raw.csv", Body=V1, Tagging="owner=data-team")
    code, doc, _ = _start(capsys, project)
    assert code == 0
    copy_key = doc["lineage"]["rawDataUri"].removeprefix(f"s3://{BUCKET}/") + "raw.csv"
    head = s3.head_object(Bucket=BUCKET, Key=copy_key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)
    assert s3.get_object_tagging(Bucket=BUCKET, Key=copy_key)["TagSet"] == []


def _empty(s3) -> None:
    seed.data_bucket()


def _deleted(s3) -> None:  # the file was deleted: its latest version is a delete marker
    seed.raw_data("churn", V1)
    s3.delete_object(Bucket=BUCKET, Key="churn/raw/raw.csv")


def _purged(s3) -> None:  # every version deleted for good
    version = seed.raw_data("churn", V1)
    s3.delete_object(Bucket=BUCKET, Key="churn/raw/raw.csv", VersionId=version)


def _two_objects(s3) -> None:
    seed.raw_data("churn", V1)
    seed.raw_data("churn", V2, name="extra.csv")


def _wrong_name(s3) -> None:
    seed.raw_data("churn", V1, name="data.csv")


def _unversioned(s3) -> None:
    s3.create_bucket(Bucket=BUCKET)  # versioning never enabled: the only version is "null"
    s3.put_object(Bucket=BUCKET, Key="churn/raw/raw.csv", Body=V1)


def _suspended(s3) -> None:  # versioning suspended after a first version: the newest is "null"
    seed.raw_data("churn", V1)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=BUCKET, Key="churn/raw/raw.csv", Body=V2)


def _other_model_only(s3) -> None:  # data of another model does not count
    seed.raw_data("fraud", V1)


EDGES = [
    # (name, seeding, extra arguments, what the one line says)
    ("prefix-empty", _empty, (), "churn/raw/ holds no raw.csv: upload the raw data"),
    ("other-model-only", _other_model_only, (), "churn/raw/ holds no raw.csv"),
    ("delete-marker-latest", _deleted, (), "raw.csv is a delete marker (the file was deleted)"),
    ("object-purged", _purged, (), "churn/raw/ holds no raw.csv"),
    ("two-objects", _two_objects, (), "churn/raw/ holds 2 objects (churn/raw/extra.csv, churn/raw/raw.csv)"),
    ("wrong-name", _wrong_name, (), "churn/raw/ holds 1 object (churn/raw/data.csv); a run reads only raw.csv there"),
    ("unversioned", _unversioned, (), "unversioned copy (VersionId null)"),
    ("versioning-suspended", _suspended, (), "unversioned copy (VersionId null)"),
    ("version-missing", lambda s3: seed.raw_data("churn", V1), ("--data-version", "no-such-version"),
     "--data-version 'no-such-version': s3://mlops-shared-data-111111111111/churn/raw/raw.csv has no such version"),
    ("version-malformed", lambda s3: seed.raw_data("churn", V1), ("--data-version", "v 1;rm"),
     "--data-version 'v 1;rm': expected an S3 version id"),
    ("version-empty", lambda s3: seed.raw_data("churn", V1), ("--data-version", ""),
     "--data-version '': expected an S3 version id"),
]


@pytest.mark.parametrize(("name", "seeding", "extra", "says"), EDGES, ids=[e[0] for e in EDGES])
def test_no_single_version_to_pin_is_one_line_and_starts_nothing(emulator, project, capsys, name, seeding, extra,
                                                                   says):
    seed.pipeline(PIPELINE)
    seeding(seed.client("s3"))
    code, doc, err = _start(capsys, project, *extra)
    assert code == 2 and "executionArn" not in (doc or {}), (code, doc)
    [line] = err.splitlines()
    assert line.startswith("infra.release start-training: error: ") and says in line, line
    assert "Traceback" not in err and _runs() == []


def test_a_version_id_that_is_a_delete_marker_is_refused(emulator, project, capsys):
    seed.pipeline(PIPELINE)
    seed.raw_data("churn", V1)
    marker = seed.client("s3").delete_object(Bucket=BUCKET, Key="churn/raw/raw.csv")["VersionId"]
    code, _, err = _start(capsys, project, "--data-version", marker)
    assert code == 2 and f"--data-version {marker!r}: that version of " in err and "is a delete marker" in err
    assert _runs() == []


def test_an_older_version_behind_a_delete_marker_can_still_be_pinned(emulator, project, capsys):
    seed.pipeline(PIPELINE)
    v1 = seed.raw_data("churn", V1)
    seed.client("s3").delete_object(Bucket=BUCKET, Key="churn/raw/raw.csv")
    code, doc, _ = _start(capsys, project, "--data-version", v1)
    assert code == 0 and _read(doc["lineage"]["rawDataUri"]) == V1


def test_versions_are_read_across_pages(emulator, project, capsys, monkeypatch):
    """ListObjectVersions answers at most 1000 entries a page; the tool follows the markers to the newest."""
    seed.pipeline(PIPELINE)
    first = seed.raw_data("churn", V1)
    for i in range(4):
        seed.raw_data("churn", V1 + str(i).encode())
    newest = seed.raw_data("churn", V2)
    calls: list[dict] = []
    real = snapshot._page

    def small_pages(page: dict) -> tuple:
        calls.append(page)
        return real(page)

    monkeypatch.setattr(snapshot, "_page", small_pages)

    make = botocore.client.BaseClient._make_api_call

    def two_per_page(self: botocore.client.BaseClient, operation: str, params: dict) -> dict:
        if operation == "ListObjectVersions":
            params = {**params, "MaxKeys": 2}
        return make(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", two_per_page)
    code, doc, _ = _start(capsys, project)
    assert code == 0 and doc["lineage"]["dataSnapshot"].endswith(f" versionId={newest}") and len(calls) == 3
    code, doc, _ = _start(capsys, project, "--data-version", first)  # the oldest is on the last page
    assert code == 0 and _read(doc["lineage"]["rawDataUri"]) == V1


def test_a_copy_not_under_the_kms_key_starts_no_run(emulator, project, capsys):
    """A data bucket whose default encryption is not SSE-KMS (a hand-changed bucket): the run would read data
    outside the shared key; the tool names it and starts nothing."""
    seed.pipeline(PIPELINE)
    s3 = seed.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="churn/raw/raw.csv", Body=V1)
    code, _, err = _start(capsys, project)
    [line] = err.splitlines()
    assert code == 2 and "s3:CopyObject to s3://mlops-shared-data-111111111111/churn/runs/" in line
    assert "not aws:kms; the data bucket's default encryption must be the shared KMS key" in line
    assert _runs() == []


@pytest.mark.parametrize("reason", ["drift (event from #ops-alerts)", "x" * 300, "retrain?\nplease", "*"])
def test_every_lineage_parameter_is_one_a_package_can_record(emulator, project, capsys, reason):
    """CreateModelPackage takes `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`, 1-256 (tests/infra/test_lineage_values.py): a `?` in
    the snapshot or a `(` in a drift payload would fail the run at Register, hours after it started."""
    seed.pipeline(PIPELINE)
    seed.raw_data("churn", V1)
    code, doc, _ = _start(capsys, project, "--trigger-reason", reason)
    assert code == 0
    parameters = seed.execution_parameters(doc["executionArn"])
    allowed = re.compile(r"[\w .:/=+\-@]{1,256}")  # ASCII view of the API's pattern, enough for these values
    for name in ("GitCommit", "DataSnapshot", "TriggerReason", "RawDataUri", "RawDataSha256"):
        assert allowed.fullmatch(parameters[name]), (name, parameters[name])
    assert doc["lineage"]["triggerReason"] == parameters["TriggerReason"]


def test_an_old_null_version_does_not_block_runs_once_versioning_is_enabled_again(emulator, project, capsys):
    """Versioning suspended once, then Enabled again: the null version left behind is noncurrent (it lives 90 days
    under the data bucket's lifecycle) and the newest real version is pinned; pinning the null one is refused."""
    seed.pipeline(PIPELINE)
    s3 = seed.client("s3")
    _suspended(s3)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    v3 = s3.put_object(Bucket=BUCKET, Key="churn/raw/raw.csv", Body=V1)["VersionId"]
    code, doc, err = _start(capsys, project)
    assert code == 0, err
    assert doc["lineage"]["dataSnapshot"].endswith(f" versionId={v3}") and _read(doc["lineage"]["rawDataUri"]) == V1
    code, _, err = _start(capsys, project, "--data-version", "null")
    assert code == 2 and "unversioned copy (VersionId null)" in err
