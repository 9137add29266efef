"""ARNs: the one home of every ARN this project writes, beside `naming` (which makes the names inside them).

An ARN's first field is the partition: `aws`, but `aws-us-gov` in GovCloud and `aws-cn` in China. The program
asks the provider (`aws.get_partition`, in `infra/__main__.py`); a tool without a provider takes it from the
region with `partition_of`. Every ARN is then built by one `Arns` method, so no caller writes `arn:aws:` and a
stack in another partition gets correct ARNs everywhere (`tests/infra/test_arns.py` plans one).

`Arns` takes plain strings or Pulumi Outputs: with strings (tools, or values known at preview) a method returns
a string; when any part is an Output it returns an Output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import pulumi

PARTITION_REGIONS = {
    "aws": r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$",
    "aws-cn": r"^cn\-\w+\-\d+$",
    "aws-eusc": r"^eusc\-(de)\-\w+\-\d+$",
    "aws-iso": r"^us\-iso\-\w+\-\d+$",
    "aws-iso-b": r"^us\-isob\-\w+\-\d+$",
    "aws-iso-e": r"^eu\-isoe\-\w+\-\d+$",
    "aws-iso-f": r"^us\-isof\-\w+\-\d+$",
    "aws-us-gov": r"^us\-gov\-\w+\-\d+$",
}
"""Partition -> the regions it holds, as botocore's `data/partitions.json` (`regionRegex`) states them
(boto/botocore 1.44.8); `tests/infra/test_arns.py` holds this table against botocore's own resolver."""

DNS_SUFFIX = {
    "aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-eusc": "amazonaws.eu", "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov", "aws-iso-e": "cloud.adc-e.uk", "aws-iso-f": "csp.hci.ic.gov",
    "aws-us-gov": "amazonaws.com",
}
"""Partition -> the DNS suffix of its service endpoints (botocore `data/partitions.json`, `outputs.dnsSuffix`)."""


def partition_of(region: str) -> str:
    """The partition a region belongs to (for tools; the program asks its provider instead)."""
    found = [partition for partition, pattern in PARTITION_REGIONS.items() if re.match(pattern, region)]
    if len(found) != 1:
        raise ValueError(f"region {region!r} is in no AWS partition this project knows "
                         f"({', '.join(PARTITION_REGIONS)})")
    return found[0]


def _join(*parts: Any) -> Any:
    """The parts joined: a string when every part is one, else an Output."""
    if all(isinstance(part, str) for part in parts):
        return "".join(parts)
    return pulumi.Output.concat(*parts)


@dataclass(frozen=True)
class Arns:
    """The ARNs of one account in one region of one partition. Pure: strings (or Outputs) in, the same out.

    `dataclasses.replace` (or `in_account`) gives the ARNs of another account or region (the shared stack's
    packages, `*` for any account).
    """

    partition: Any
    region: Any
    account_id: Any

    @classmethod
    def for_region(cls, region: str, account_id: Any) -> Arns:
        """For a tool: the partition follows from the region."""
        return cls(partition_of(region), region, account_id)

    def in_account(self, account_id: Any, region: Any | None = None) -> Arns:
        return replace(self, account_id=account_id, region=self.region if region is None else region)

    def arn(self, service: str, resource: Any, *, region: Any | None = None, account_id: Any | None = None) -> Any:
        """`arn:<partition>:<service>:<region>:<account>:<resource>`; `region=""` for global services' ARNs."""
        region = self.region if region is None else region
        account_id = self.account_id if account_id is None else account_id
        return _join("arn:", self.partition, f":{service}:", region, ":", account_id, ":", resource)

    # -- IAM (global: no region) ---------------------------------------------------------------------------------
    def role(self, name: Any) -> Any:
        return self.arn("iam", _join("role/", name), region="")

    def account_root(self, account_id: Any | None = None) -> Any:
        """The account as a principal (`...:root`): this account, or another one (a reader account)."""
        return self.arn("iam", "root", region="", account_id=account_id)

    def oidc_provider(self, host: Any) -> Any:
        return self.arn("iam", _join("oidc-provider/", host), region="")

    def service_linked_roles(self, service: str) -> str:
        return self.arn("iam", f"role/aws-service-role/{service}/*", region="")

    def managed_policy(self, name: str) -> Any:
        """An AWS managed policy (`ReadOnlyAccess`, `AmazonEKSClusterPolicy`, ...): account `aws`."""
        return self.arn("iam", f"policy/{name}", region="", account_id="aws")

    def eks_access_policy(self, name: str) -> Any:
        """An EKS access policy (`AmazonEKSClusterAdminPolicy`): account `aws`, no region."""
        return self.arn("eks", f"cluster-access-policy/{name}", region="", account_id="aws")

    # -- S3 (no region, no account) ------------------------------------------------------------------------------
    def bucket(self, bucket: Any) -> Any:
        return self.arn("s3", bucket, region="", account_id="")

    def objects(self, bucket: Any, key_pattern: Any) -> Any:
        """Objects of a bucket: `key_pattern` is a key or a prefix ending in `*` (see `infra.core.bucket_layout`)."""
        return self.arn("s3", _join(bucket, "/", key_pattern), region="", account_id="")

    def s3_uri_objects(self, uri: str) -> str:
        """The objects under an `s3://bucket/prefix` URI."""
        return self.arn("s3", uri.removeprefix("s3://") + "*", region="", account_id="")

    # -- SageMaker -----------------------------------------------------------------------------------------------
    def sagemaker(self, resource: Any) -> Any:
        return self.arn("sagemaker", resource)

    def model_package_group(self, group: Any) -> Any:
        return self.sagemaker(_join("model-package-group/", group))

    def model_package(self, group: Any, version: Any = "*") -> Any:
        """One version of a package group (`*`: every version)."""
        version = str(version) if isinstance(version, int) else version
        return self.sagemaker(_join("model-package/", group, "/", version))

    # -- others --------------------------------------------------------------------------------------------------
    def kms(self, resource: Any) -> Any:
        """A key (`key/<id>`, `key/*`) or an alias (`alias/<name>`)."""
        return self.arn("kms", resource)

    def log_groups(self, prefix: str) -> Any:
        return self.arn("logs", f"log-group:{prefix}*")


def packages_of_group(group_arn: str) -> str:
    """Every version's ARN in a package group, from the group's ARN (`...:model-package-group/<g>` ->
    `...:model-package/<g>/*`): for a caller that holds the group's ARN (from the shared stack's outputs)."""
    head, group = group_arn.split(":model-package-group/", 1)
    return f"{head}:model-package/{group}/*"
