"""Protection rule (stack): stateful resources that hold data or history cannot be deleted by an update.

CrossGuard sees a resource's `protect` option but not `retainOnDelete`: the engine does not send it to
policy packs (AnalyzerResourceOptions has no such field). The rule therefore requires `protect=True`; a
resource may additionally be retained on delete.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import StackView, stack_rule
from .knobs import bool_knob, strings_knob

PROTECTED_TYPES = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:s3/directoryBucket:DirectoryBucket",
    "aws:kms/key:Key",
    "aws:kms/replicaKey:ReplicaKey",
    "aws:kms/externalKey:ExternalKey",
    "aws:kms/replicaExternalKey:ReplicaExternalKey",
    "aws:ecr/repository:Repository",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
)


def _protected(stack: StackView) -> Iterator[tuple[str, str | None]]:
    if not stack.config["requireProtection"]:
        return
    for resource in stack.of_type(*stack.config["resourceTypes"]):
        if not resource.protect:
            yield (
                (
                    f"'{resource.name}' ({resource.type}) is not protected; a refactoring or `pulumi "
                    "destroy` "
                    "could delete it and the data or history it holds"
                ),
                resource.urn,
            )


RULES = [
    stack_rule(
        name="stateful-resources-protected",
        description=(
            "Buckets, KMS keys, ECR repositories and model package groups are protected from deletion "
            "(where the environment requires it)."
        ),
        rationale=(
            "Keys, buckets, image repositories and model registries hold data and history that no "
            "re-deployment can bring back; protection makes their deletion a deliberate, separate step."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Create the resource with opts=pulumi.ResourceOptions(protect=True) (retain_on_delete=True may "
            "be "
            "added, but CrossGuard cannot see it and it does not replace protect)."
        ),
        check=_protected,
        knobs={
            "requireProtection": bool_knob("Require protect=True on the listed resource types.", True),
            "resourceTypes": strings_knob("Resource type tokens that must be protected.", PROTECTED_TYPES),
        },
        tags=["resilience", "data-protection"],
    )
]
