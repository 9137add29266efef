"""What a pull-delivered SageMaker endpoint should be serving once Argo CD has synced a commit: the pure half
of `infra.release verify` for delivery `pull` (the release tool waits for the sync, then compares).

On the push path the expected endpoint configuration is a stack output; on the pull path it is whatever the
overlay renders at the commit being verified, so it is read from there: `kubectl kustomize gitops/<env>/<model>`,
the `Endpoint`'s `spec.endpointConfigName`. No cluster and no AWS call is made here.
"""

from __future__ import annotations

from pathlib import Path

from infra.manifests import overlays as manifests
from infra.manifests import pull_overlays


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


def sync_verdict(application: dict, commit: str) -> str | None:
    """Whether an Argo CD Application (the JSON of `kubectl -n argocd get application <name> -o json`, or of
    `GET /api/v1/applications/<name>`) has synced `commit` and judges the result healthy: None when it has, else
    why not (a reason to keep waiting, or to fail once a deadline passes).

    Argo CD records the synced commit in `status.sync.revision` (the full SHA); `status.operationState.phase`
    says whether the last sync operation finished; health for ACK objects comes from ACK.ResourceSynced (see
    `infra.core.argocd_health.HEALTH_LUA`), so Healthy means the endpoint is InService on the wanted configuration.
    """
    status = application.get("status") or {}
    revision = str((status.get("sync") or {}).get("revision") or "")
    same = bool(revision) and len(commit) >= 7 and (revision.startswith(commit) or commit.startswith(revision))
    if not same:
        return f"synced revision is {revision or 'none'}, not {commit}"
    sync = (status.get("sync") or {}).get("status")
    if sync != "Synced":
        return f"sync status is {sync or 'unknown'}"
    phase = (status.get("operationState") or {}).get("phase")
    if phase not in (None, "Succeeded"):
        return f"last sync operation is {phase}"
    health = status.get("health") or {}
    if health.get("status") != "Healthy":
        message = f": {health['message']}" if health.get("message") else ""
        return f"health is {health.get('status') or 'unknown'}{message}"
    return None
