"""Pinning a run's raw data: one S3 version of the raw file, copied to the run's own prefix before the run starts.

The Preprocess step reads an S3 *prefix* (a ProcessingInput cannot name an object version), so `start-training`
makes the version it records readable as a prefix of its own: a server-side CopyObject of
`<model>/raw/raw.csv` version V to `<model>/runs/<run id>/raw/raw.csv` in the same (versioned, SSE-KMS) data
bucket, passed to the pipeline as `RawDataUri`. S3 computes the copy's SHA-256 (`ChecksumAlgorithm`), which goes
to the pipeline as `RawDataSha256`: Preprocess (`model_code.data --raw-sha256`) refuses any other bytes, so a copy
overwritten after it was made fails the run instead of training on other data.

The copy sends no encryption headers: S3 then encrypts it with the destination bucket's default, the shared
customer-managed key ("if you don't specify encryption information in your copy request, the encryption setting
of the target object is set to the default encryption configuration of the destination bucket", CopyObject,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html); the tool checks the answer says `aws:kms`.
Tags are not copied (`TaggingDirective=REPLACE` with no tags), so the copy reads and writes no object tags.

Which version: the newest of `raw.csv` (`ListObjectVersions` on the raw prefix), or the one `--data-version`
names. The prefix must hold that one file and nothing else (a scheduled run downloads the whole prefix, a pinned
one only the copy: two files would make the two read different data), and versioning must be on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.core import bucket_layout
from infra.core.pipeline.spec import lineage_value
from infra.release.aws import Aws, expect
from infra.release.errors import AwsError, UsageError

COPY_LIMIT_BYTES = 5 * 1024**3
"""CopyObject copies up to 5 GB in one request (larger needs UploadPartCopy); API_CopyObject.html."""


@dataclass(frozen=True)
class Pinned:
    """What one run reads, and how the lineage names it."""

    source_uri: str  # s3://<data>/<model>/raw/raw.csv
    version: str  # the S3 version id of the source
    run_prefix_uri: str  # s3://<data>/<model>/runs/<run id>/raw/  (the RawDataUri parameter)
    sha256: str  # base64 SHA-256 of the copy, computed by S3 (the RawDataSha256 parameter)
    size: int

    @property
    def data_snapshot(self) -> str:
        """The DataSnapshot lineage value: `<source uri> versionId=<V>`, in the characters a package can record.

        Not `?versionId=`: a `?` makes CreateModelPackage refuse the Register step (`lineage_value`).
        """
        return lineage_value(f"{self.source_uri} versionId={self.version}")

    def to_json(self) -> dict[str, Any]:
        return {"dataSnapshot": self.data_snapshot, "rawDataUri": self.run_prefix_uri, "rawDataSha256": self.sha256,
                "bytes": self.size}


def pin(aws: Aws, bucket: str, model: str, run_id: str, version: str | None) -> Pinned:
    """Resolve the raw file's version (the newest, or `version`) and copy it to the run's prefix."""
    prefix = bucket_layout.raw_data_prefix(model)
    key = bucket_layout.raw_data_key(model)
    source = bucket_layout.s3_uri(bucket, key)
    chosen = _choose(_versions(aws, bucket, prefix), bucket, prefix, key, version)
    if chosen["Size"] > COPY_LIMIT_BYTES:
        raise UsageError(f"{source} version {chosen['VersionId']} is {chosen['Size']} bytes; a pinned run copies "
                         f"it with one CopyObject, which takes at most {COPY_LIMIT_BYTES} bytes")
    target_prefix = bucket_layout.run_raw_data_prefix(model, run_id)
    target = bucket_layout.s3_uri(bucket, target_prefix + bucket_layout.RAW_DATA_FILE)
    sha256, encryption = aws.call(
        "s3", "copy_object", target, Bucket=bucket, Key=target_prefix + bucket_layout.RAW_DATA_FILE,
        CopySource={"Bucket": bucket, "Key": key, "VersionId": chosen["VersionId"]},
        ChecksumAlgorithm="SHA256", TaggingDirective="REPLACE",
        read=lambda a: (expect(expect(a, "CopyObjectResult", dict), "ChecksumSHA256"),
                        expect(a, "ServerSideEncryption", required=False)))
    if encryption != "aws:kms":
        raise AwsError(f"s3:CopyObject to {target}: the copy is encrypted with {encryption or 'nothing'}, not "
                       "aws:kms; the data bucket's default encryption must be the shared KMS key")
    return Pinned(source_uri=source, version=chosen["VersionId"], size=chosen["Size"],
                  run_prefix_uri=bucket_layout.s3_uri(bucket, target_prefix), sha256=sha256)


def _versions(aws: Aws, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every version and delete marker under the raw prefix (all pages), each with `Kind` version|marker."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        entries, more, markers = aws.call("s3", "list_object_versions", bucket_layout.s3_uri(bucket, prefix),
                                          read=_page, **kwargs)
        found.extend(entries)
        if not more:
            return found
        kwargs.update(markers)


def _page(page: dict[str, Any]) -> tuple[list[dict[str, Any]], bool, dict[str, str]]:
    entries = []
    for kind, field in (("version", "Versions"), ("marker", "DeleteMarkers")):
        for entry in expect(page, field, list, required=False) or []:
            entries.append({"Kind": kind, "Key": expect(entry, "Key"), "VersionId": expect(entry, "VersionId"),
                            "IsLatest": expect(entry, "IsLatest", bool),
                            "Size": expect(entry, "Size", int) if kind == "version" else 0})
    more = bool(expect(page, "IsTruncated", bool, required=False))
    markers = {"KeyMarker": expect(page, "NextKeyMarker", required=more) or "",
               "VersionIdMarker": expect(page, "NextVersionIdMarker", required=more) or ""} if more else {}
    return entries, more, markers


def _choose(entries: list[dict[str, Any]], bucket: str, prefix: str, key: str, version: str | None) -> dict[str, Any]:
    """The version to pin, or a one-line reason why there is none."""
    where = bucket_layout.s3_uri(bucket, prefix)
    source = bucket_layout.s3_uri(bucket, key)
    current = sorted({e["Key"] for e in entries if e["IsLatest"] and e["Kind"] == "version"})
    others = [k for k in current if k != key]
    if others:
        count = f"{len(current)} object{'s' if len(current) > 1 else ''}"
        raise UsageError(f"{where} holds {count} ({', '.join(current[:5])}); a run reads only "
                         f"{bucket_layout.RAW_DATA_FILE} there: move the others elsewhere")
    own = [e for e in entries if e["Key"] == key]
    if not own:
        raise UsageError(f"{where} holds no {bucket_layout.RAW_DATA_FILE}: upload the raw data to {source} first")
    chosen = _pick(own, where, source, version)
    if chosen["VersionId"] == "null":  # an older null version (versioning once suspended) does not matter
        raise UsageError(f"{source} has an unversioned copy (VersionId null): the data bucket's versioning must be "
                         "Enabled before a run can pin a version")
    return chosen


def _pick(own: list[dict[str, Any]], where: str, source: str, version: str | None) -> dict[str, Any]:
    if version is None:
        latest = next((e for e in own if e["IsLatest"]), None)
        if latest is None:
            raise AwsError(f"s3:ListObjectVersions on {where} failed: malformed answer (no version of {source} is "
                           "the latest)")
        if latest["Kind"] == "marker":
            raise UsageError(f"the latest version of {source} is a delete marker (the file was deleted): upload it "
                             "again, or pick an older version with --data-version")
        return latest
    match = [e for e in own if e["VersionId"] == version]
    if not match:
        raise UsageError(f"--data-version {version!r}: {source} has no such version (it never existed or was "
                         "deleted for good)")
    if match[0]["Kind"] == "marker":
        raise UsageError(f"--data-version {version!r}: that version of {source} is a delete marker, not data")
    return match[0]
