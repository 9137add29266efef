"""Reading one Argo CD Application for `verify` of a pull-delivered SageMaker endpoint.

By default the tool asks the cluster (`kubectl -n argocd get application <name> -o json`, with the caller's
kubeconfig); `--argocd-app-json FILE` reads the same JSON from a file instead (a saved `kubectl ... -o json`
of one Application, or of a list of them), for tests and for runners without cluster access. The file is
read again on every poll, so a process that rewrites it can be followed with `--wait`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from infra.plan import inputs
from infra.release.errors import ReleaseError, UsageError

NAMESPACE = "argocd"
KUBECTL_TIMEOUT_S = 60


def read_application(name: str, app_json: Path | None) -> dict[str, Any]:
    """The Application object named `name`; a missing kubectl or file is bad usage (exit 2), a failed call exit 1."""
    if app_json is not None:
        return _from_file(name, app_json)
    command = ["kubectl", "-n", NAMESPACE, "get", "application", name, "-o", "json"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise UsageError("kubectl is not installed (needed to read the Argo CD application "
                         f"{name}); install it or pass --argocd-app-json FILE") from None
    except subprocess.TimeoutExpired:
        raise ReleaseError(f"{' '.join(command)}: no answer within {KUBECTL_TIMEOUT_S} s") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        raise ReleaseError(f"{' '.join(command)} failed: {last}")
    try:
        document = inputs.loads_json(result.stdout, " ".join(command))
    except inputs.InputError as exc:
        raise ReleaseError(str(exc)) from None
    return _pick(name, document, f"{' '.join(command)}", ReleaseError)


def _from_file(name: str, path: Path) -> dict[str, Any]:
    try:  # the project's strict reader: size cap, UTF-8, no duplicate keys, bounded depth
        document = inputs.read_json(path, f"--argocd-app-json {path}")
    except inputs.InputError as exc:
        raise UsageError(str(exc)) from None
    return _pick(name, document, f"--argocd-app-json {path}", UsageError)


def _pick(name: str, document: Any, where: str, error: type[ReleaseError]) -> dict[str, Any]:
    """The Application named `name` in one object or in a `kubectl get ... -o json` list (`items`)."""
    if not isinstance(document, dict):
        raise error(f"{where}: expected the JSON object of an Argo CD Application")
    candidates = document.get("items") if isinstance(document.get("items"), list) else [document]
    for item in candidates:
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict) and item["metadata"].get("name") == name:
            return _shaped(item, where, error)
    found = ", ".join(str(i["metadata"].get("name")) for i in candidates
                      if isinstance(i, dict) and isinstance(i.get("metadata"), dict))
    raise error(f"{where}: no Argo CD Application named {name!r} (found: {found or 'none'})")


def _shaped(application: dict[str, Any], where: str, error: type[ReleaseError]) -> dict[str, Any]:
    """The Application, once the parts `verify` reads have the types Argo CD gives them (else bad input)."""
    status = application.get("status")
    if status is None:
        return application
    if not isinstance(status, dict):
        raise error(f"{where}: status is {type(status).__name__}, expected an object")
    for part, fields in (("sync", ("revision", "status")), ("operationState", ("phase",)),
                         ("health", ("status", "message"))):
        value = status.get(part)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise error(f"{where}: status.{part} is {type(value).__name__}, expected an object")
        for key in fields:
            if value.get(key) is not None and not isinstance(value[key], str):
                raise error(f"{where}: status.{part}.{key} is {value[key]!r}, expected text")
    return application
