"""Reading one Argo CD Application for `verify` of a pull-delivered SageMaker endpoint.

By default the tool asks the cluster (`kubectl -n argocd get application <name> -o json`, with the caller's
kubeconfig); `--argocd-app-json FILE` reads the same JSON from a file instead (a saved `kubectl ... -o json`
of one Application, or of a list of them), for tests and for runners without cluster access. The file is
read again on every poll, so a process that rewrites it can be followed with `--wait`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

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
        document = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"{' '.join(command)}: the answer is not JSON ({exc.msg})") from None
    return _pick(name, document, f"{' '.join(command)}", ReleaseError)


def _from_file(name: str, path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"--argocd-app-json {path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--argocd-app-json {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return _pick(name, document, f"--argocd-app-json {path}", UsageError)


def _pick(name: str, document: Any, where: str, error: type[ReleaseError]) -> dict[str, Any]:
    """The Application named `name` in one object or in a `kubectl get ... -o json` list (`items`)."""
    if not isinstance(document, dict):
        raise error(f"{where}: expected the JSON object of an Argo CD Application")
    candidates = document.get("items") if isinstance(document.get("items"), list) else [document]
    for item in candidates:
        if isinstance(item, dict) and (item.get("metadata") or {}).get("name") == name:
            return item
    found = ", ".join(str((i.get("metadata") or {}).get("name")) for i in candidates if isinstance(i, dict))
    raise error(f"{where}: no Argo CD Application named {name!r} (found: {found or 'none'})")
