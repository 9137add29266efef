"""Whether a value is one SageMaker records as a package's CustomerMetadataProperties value.

The pattern is botocore's copy of the SageMaker API model (`CustomerMetadataValue`), evaluated as written by the
`regex` engine, which knows Unicode property classes such as `\\p{L}`: not restated, not reimplemented. Java (the
service) applies it as a whole-string match; `${1,256}` there repeats the end anchor, so the length is the shape's
min and max, counted in UTF-16 units as Java counts characters.
"""

from __future__ import annotations

import botocore.session
import regex

_SHAPE = botocore.session.get_session().get_service_model("sagemaker").shape_for("CustomerMetadataValue")
PATTERN: str = _SHAPE.metadata["pattern"]
_BODY = regex.compile(regex.sub(r"\$\{\d+,\d+\}$", "", PATTERN))
MIN_LENGTH: int = _SHAPE.metadata["min"]
MAX_LENGTH: int = _SHAPE.metadata["max"]


def recordable(value: str) -> bool:
    units = len(value.encode("utf-16-le")) // 2
    return MIN_LENGTH <= units <= MAX_LENGTH and _BODY.fullmatch(value) is not None


def unrecordable(metadata: dict[str, str]) -> dict[str, str]:
    """The entries of `metadata` that CreateModelPackage / UpdateModelPackage would refuse."""
    return {key: value for key, value in metadata.items() if not recordable(value)}
