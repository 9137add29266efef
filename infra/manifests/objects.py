"""Facts every rendered overlay must state, whatever it deploys: its objects live in the model's namespace and,
where an object names an AWS region for the ACK controller, that region is the stack's.

Read defensively: an overlay is input, so a missing or odd field is a disagreement to report, never a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ACK_REGION_ANNOTATION = "services.k8s.aws/region"
"""The ACK runtime reads the region of a resource from this annotation on the resource, then on its namespace,
before its own `aws.region` flag (aws-controllers-k8s community docs, "Manage Resources In Multiple Regions");
so an object carrying it is created in that region whatever the controller was installed for."""


def metadata(manifest: dict[str, Any]) -> dict[str, Any]:
    value = manifest.get("metadata")
    return value if isinstance(value, dict) else {}


def annotations(manifest: dict[str, Any]) -> dict[str, Any]:
    value = metadata(manifest).get("annotations")
    return value if isinstance(value, dict) else {}


def label(manifest: dict[str, Any]) -> str:
    return f"{manifest.get('kind', '?')} {str(metadata(manifest).get('name', '?'))!r}"


def namespace_problems(where: str, manifests: Sequence[dict[str, Any]], namespace: str) -> list[str]:
    """Objects outside the model's namespace, including cluster-scoped ones (they have no namespace at all)."""
    off = sorted({f"{label(m)} in {metadata(m).get('namespace') or '<no namespace: cluster-scoped>'}"
                  for m in manifests if metadata(m).get("namespace") != namespace})
    return [f"{where}: objects outside the namespace {namespace}: {off}"] if off else []


def region_problems(where: str, manifests: Sequence[dict[str, Any]], region: str) -> list[str]:
    """Objects whose ACK region annotation names another region than the stack's (`aws:region`)."""
    return [f"{where}: {label(m)} sets {ACK_REGION_ANNOTATION}={annotations(m)[ACK_REGION_ANNOTATION]!r}; the "
            f"stack's region is {region!r}"
            for m in manifests
            if ACK_REGION_ANNOTATION in annotations(m) and annotations(m)[ACK_REGION_ANNOTATION] != region]
