"""The `gitops/<env>/<model>` overlays: where they are, what `kubectl kustomize` renders for them, and the one
promotion line each carries."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.core.paths import PROJECT_ROOT
from infra.plan import inputs

GITOPS_ROOT = PROJECT_ROOT / "gitops"
PROMOTION_LINE = re.compile(r"^\s*- MODEL_PACKAGE_VERSION=(\d+)(?:\s+#\s*mlops:approvedVersion)?\s*$", re.MULTILINE)
"""The one line of `gitops/<env>/<model>/kustomization.yaml` that promotion changes (see docs/gitops.md); it may
end in the marker comment `# mlops:approvedVersion` by which `infra.release promote` finds it."""


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def generated_header(environment: str, model: str) -> str:
    """The first line of every file `--write-patches` generates in `gitops/<env>/<model>/`."""
    return (f"# Generated from stacks/Pulumi.{environment}.yaml (models.{model}.deploy) by "
            "`python -m infra.manifests --write-patches`; CI fails if they differ.\n")


def generated_yaml(environment: str, model: str, data: Any, *, width: int = 80) -> str:
    """A generated file: the header, then `data` as block YAML in the given key order, with no anchors."""
    return generated_header(environment, model) + yaml.dump(data, Dumper=_NoAliases, sort_keys=False, width=width)


class ManifestError(Exception):
    """An overlay that cannot be rendered or read; the message names the directory and the cause."""


@dataclass(frozen=True)
class Overlay:
    """One `gitops/<env>/<model>` directory."""

    path: Path
    environment: str
    model: str


def overlays(root: Path = GITOPS_ROOT) -> list[Overlay]:
    """Every overlay: the directories `<root>/<env>/<model>` that hold a kustomization.yaml."""
    return [
        Overlay(path=p.parent, environment=p.parent.parent.name, model=p.parent.name)
        for p in sorted(root.glob("*/*/kustomization.yaml"))
        if p.parent.parent.name != "base"
    ]


def overlay_of(directory: Path) -> Overlay:
    directory = directory.resolve()
    if not (directory / "kustomization.yaml").is_file():
        raise ManifestError(f"{directory}: no kustomization.yaml (expected gitops/<env>/<model>)")
    return Overlay(path=directory, environment=directory.parent.name, model=directory.name)


@functools.lru_cache(maxsize=64)
def _kustomize(directory: str, stamp: tuple[float, ...]) -> tuple[dict[str, Any], ...]:
    try:
        result = subprocess.run(["kubectl", "kustomize", directory], capture_output=True, text=True, timeout=60,
                                check=False)
    except FileNotFoundError:
        raise ManifestError("kubectl is not installed (needed for `kubectl kustomize`)") from None
    if result.returncode != 0:
        detail = " ".join(result.stderr.split())  # one line: kustomize's errors span several
        raise ManifestError(f"{directory}: kubectl kustomize failed: {detail[:600] or f'exit {result.returncode}'}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize DIRECTORY` renders (cached while no file under gitops/ changes), as JSON
    values (a YAML timestamp becomes its text); raises ManifestError for a document that is not an object."""
    files = sorted(p for p in directory.resolve().parent.parent.rglob("*") if p.is_file())
    stamp = tuple(p.stat().st_mtime for p in files)
    docs = [json.loads(json.dumps(doc, default=str)) for doc in _kustomize(str(directory.resolve()), stamp)]
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) or not isinstance(
                doc.get("metadata"), dict):
            raise ManifestError(f"{directory}: rendered document {index + 1} is not a Kubernetes object (a mapping "
                                "with a string kind and a metadata mapping)")
    return docs


def kustomization_text(directory: Path) -> str:
    """The overlay's kustomization.yaml through the project's strict reader (a binary or huge file is one
    ManifestError line, not a traceback)."""
    try:
        return inputs.read_text(directory / "kustomization.yaml")
    except inputs.InputError as exc:
        raise ManifestError(str(exc)) from None


def promoted_version(overlay: Overlay) -> int:
    """The package version on the overlay's promotion line; exactly one such line must exist."""
    text = kustomization_text(overlay.path)
    found = PROMOTION_LINE.findall(text)
    if len(found) != 1:
        raise ManifestError(f"{overlay.path}/kustomization.yaml: expected exactly one promotion line "
                            f"'- MODEL_PACKAGE_VERSION=<n>', found {len(found)}")
    return int(found[0])
