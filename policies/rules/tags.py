"""Tagging rule: every taggable AWS resource carries the required tags.

The program tags most resources through the explicit AWS provider's `defaultTags`, so the rule merges the
provider's default tags (from the provider resource's inputs, which the SDK sends as JSON text) with the
resource's own `tags`, the same way the AWS provider computes `tagsAll`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import strings_knob
from .taggable_types import TAGGABLE_TYPES
from .values import UNKNOWN, dig, is_unknown

REQUIRED_TAGS = ("environment", "owner", "cost-center", "managed-by")


def _as_tag_map(value: Any) -> Any:
    """A tag map from a map, a list of {key, value} objects or JSON text; UNKNOWN when not known."""
    if is_unknown(value):
        return UNKNOWN
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        tags: dict[str, Any] = {}
        for item in value:
            if is_unknown(item):
                return UNKNOWN
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                tags[item["key"]] = item.get("value")
        return tags
    return {}


def provider_default_tags(resource: ResourceView) -> Any:
    if resource.provider is None:
        return {}
    default_tags = resource.provider.props.get("defaultTags")
    if is_unknown(default_tags):
        return UNKNOWN
    if isinstance(default_tags, str):
        try:
            default_tags = json.loads(default_tags)
        except ValueError:
            return {}
    return _as_tag_map(dig(default_tags, "tags"))


def _taggable(resource_type: str) -> bool:
    """every taggable AWS resource type (those whose pulumi-aws inputs accept tags; see taggable_types.py)"""
    return resource_type in TAGGABLE_TYPES


def _required_tags(resource: ResourceView) -> Iterator[str]:
    if resource.type in resource.config["exemptTypes"]:
        return
    own = _as_tag_map(resource.props.get("tags"))
    if is_unknown(own):
        return
    defaults = provider_default_tags(resource)
    merged = {**({} if is_unknown(defaults) else defaults), **own}
    missing = [
        tag
        for tag in resource.config["requiredTags"]
        if tag not in merged or (not is_unknown(merged[tag]) and not str(merged[tag] or "").strip())
    ]
    if missing and not is_unknown(defaults):
        yield (
            f"'{resource.name}' ({resource.type}) lacks required tag(s) {', '.join(missing)} "
            "(neither its tags nor its provider's defaultTags set them)"
        )


RULES = [
    resource_rule(
        name="aws-required-tags",
        description=(
            "Every taggable AWS resource carries the required tags, from its own tags or the provider's "
            "default tags."
        ),
        rationale=(
            "Tags attribute cost, ownership and environment; untagged resources cannot be charged back or "
            "traced to an owner during an incident."
        ),
        severity=Severity.LOW,
        remediation=(
            "Set the missing tags in the AWS provider's default_tags (preferred, done once per stack) or in "
            "the resource's tags."
        ),
        resource_types=_taggable,
        check=_required_tags,
        knobs={
            "requiredTags": strings_knob("Tag keys every taggable resource must carry.", REQUIRED_TAGS),
            "exemptTypes": strings_knob("Resource type tokens exempt from the rule.", []),
        },
        tags=["tagging", "cost"],
    )
]
