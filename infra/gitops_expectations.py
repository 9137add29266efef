"""What a pull-delivered SageMaker endpoint should be serving once Argo CD has synced a commit: the pure half
of `infra.release verify` for delivery `pull` (the release tool waits for the sync, then compares).

On the push path the expected endpoint configuration is a stack output; on the pull path it is whatever the
overlay renders at the commit being verified, so it is read from there: `kubectl kustomize gitops/<env>/<model>`,
the `Endpoint`'s `spec.endpointConfigName`. No cluster and no AWS call is made here.
"""

from __future__ import annotations

from pathlib import Path

from infra import manifests, pull_overlays


def expected_endpoint_configs(environment: str, root: Path = manifests.GITOPS_ROOT) -> dict[str, str]:
    """{endpoint name: endpoint configuration name} of every pull overlay of `environment`, as rendered now.

    Raises `manifests.ManifestError` when an overlay does not render or renders no single `Endpoint`.
    """
    expected: dict[str, str] = {}
    for overlay in manifests.overlays(root):
        if overlay.environment != environment or not pull_overlays.is_pull_overlay(overlay.path):
            continue
        endpoints = [m for m in manifests.render(overlay.path) if m.get("kind") == "Endpoint"]
        if len(endpoints) != 1:
            raise manifests.ManifestError(f"{overlay.path}: expected one Endpoint, rendered {len(endpoints)}")
        spec = endpoints[0].get("spec") or {}
        expected[str(spec.get("endpointName"))] = str(spec.get("endpointConfigName"))
    return expected


def expected_package_versions(environment: str, root: Path = manifests.GITOPS_ROOT) -> dict[str, int]:
    """{model: package version on the overlay's promotion line} of every pull overlay of `environment`."""
    return {o.model: manifests.promoted_version(o) for o in manifests.overlays(root)
            if o.environment == environment and pull_overlays.is_pull_overlay(o.path)}
