"""The offline plan's record of one program run: what every consumer (renderers, policy verdict) reads.

The fields mirror what the Pulumi engine knows about a registered resource, so that the policy pack can be
fed the same facts offline as the CLI feeds it during `pulumi preview`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class PlannedResource:
    """One resource as the engine saw its registration.

    `inputs` and `outputs` use the provider's wire (camelCase) property names, as policies see them.
    Secret values are unwrapped here (policies see plaintext, as under the CLI); `secret_paths` lists the
    top-level input keys that were secret so that renderers can mask them.
    """

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    ignore_changes: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    provider: str | None = None
    secret_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NotExpanded:
    """A provider-side component whose objects the plan could not see, so the pack did not judge them."""

    urn: str
    type: str
    reason: str


@dataclass(frozen=True)
class PlanResult:
    """Everything one offline run of a program produced."""

    project: str
    stack: str
    resources: tuple[PlannedResource, ...]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str] = frozenset()
    not_expanded: tuple[NotExpanded, ...] = ()
