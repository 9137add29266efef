"""Components the Kubernetes provider expands at preview, expanded offline into the objects they register.

`kubernetes.yaml.v2.ConfigGroup` and `ConfigFile` are provider-side components: under `pulumi preview` the
provider reads their YAML and registers one resource per object, and the policy pack judges those objects.
The SDK's mock runtime registers the component alone, so without this module a Deployment declared in YAML
would never be judged. This follows the provider (pulumi/pulumi-kubernetes, provider/pkg/provider/yaml/v2/
yaml.go and configgroup.go): files (globs allowed for ConfigGroup), then the `yaml` text, then `objs`; empty
documents skipped; `List` kinds flattened; every object needs apiVersion, kind and metadata.name; the resource
name is `<prefix>-<namespace>/<name>` (or `<prefix>-<name>`), the prefix defaulting to the component's name;
a Secret's `data`/`stringData` are secret.

Components that cannot be expanded offline (a Helm v4 chart needs `helm` and often a chart repository; YAML
fetched from a URL needs the network) are reported as `infra.plan.model.NotExpanded`, and the plan's verdict says so.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
EXPANDED = (CONFIG_GROUP, CONFIG_FILE)
NOT_EXPANDABLE = {
    "kubernetes:helm.sh/v4:Chart": (
        "a Helm v4 chart is rendered by the provider with helm (and usually a chart repository); the offline "
        "plan cannot render it, so the objects it installs were NOT judged"
    ),
    "kubernetes:kustomize/v2:Directory": (
        "a Kustomize directory is rendered by the provider; the offline plan does not render it, so its "
        "objects were NOT judged"
    ),
}
"""Provider-side components whose objects the offline plan cannot see, with the reason shown in the verdict."""

_GLOB = re.compile(r"(?:^|[^\\])[*?\[]")


class ExpansionError(ValueError):
    """The component's objects cannot be known offline (the reason is shown in the verdict)."""


@dataclass(frozen=True)
class ExpandedObject:
    name: str
    type: str
    object: dict[str, Any]
    secret_keys: frozenset[str]


def resource_type(obj: dict[str, Any]) -> str:
    """The Pulumi type token the Kubernetes provider registers for an object (`kubernetes:core/v1:Service`)."""
    api_version = str(obj.get("apiVersion", ""))
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{obj.get('kind')}"


def expand(typ: str, name: str, inputs: dict[str, Any], base_dir: Path) -> list[ExpandedObject]:
    """The objects a ConfigGroup/ConfigFile registers; ExpansionError when they cannot be known offline."""
    if typ not in EXPANDED:
        raise ExpansionError(NOT_EXPANDABLE.get(typ, f"{typ} is not expanded offline"))
    texts: list[str] = []
    files = [inputs.get("file")] if typ == CONFIG_FILE else _strings(inputs.get("files"), "files")
    for file in files:
        texts.extend(_read(file, base_dir, glob_ok=typ == CONFIG_GROUP))
    texts.extend(_strings(inputs.get("yaml"), "yaml"))
    objects = [obj for text in texts for obj in _decode(text)]
    objects.extend(o for o in inputs.get("objs") or [] if o)
    prefix = inputs.get("resourcePrefix")
    prefix = name if prefix is None else str(prefix)
    return [_registered(obj, prefix) for root in objects for obj in _flatten(root)]


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ExpansionError(f"{field} is not known at preview (an output of another resource)")
    return values


def _read(file: Any, base_dir: Path, glob_ok: bool) -> Iterator[str]:
    if not isinstance(file, str) or not file:
        raise ExpansionError("file is not known at preview")
    if urlparse(file).scheme and urlparse(file).netloc:
        raise ExpansionError(f"{file} is fetched over the network, which the offline plan does not do")
    path = Path(file) if Path(file).is_absolute() else base_dir / file
    paths = sorted(glob.glob(str(path))) if glob_ok and _GLOB.search(file) else [str(path)]
    for found in paths:
        try:
            yield Path(found).read_text()
        except OSError as exc:
            raise ExpansionError(f"reading YAML file {file}: {exc.strerror or exc}") from None


def _decode(text: str) -> list[dict[str, Any]]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ExpansionError(f"decoding YAML: {exc}") from None
    return [d for d in documents if d]


def _flatten(obj: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(obj, dict):
        raise ExpansionError(f"a YAML document is not an object: {str(obj)[:80]}")
    if not obj.get("kind") or not obj.get("apiVersion"):
        raise ExpansionError(f"Kubernetes resources require a kind and apiVersion: {str(obj)[:80]}")
    if str(obj["kind"]).endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            yield from _flatten(item)
        return
    yield obj


def _registered(obj: dict[str, Any], prefix: str) -> ExpandedObject:
    metadata = obj.get("metadata") or {}
    if not metadata.get("name"):
        raise ExpansionError(f"YAML object does not have a .metadata.name: {str(obj)[:80]}")
    name = f"{metadata['namespace']}/{metadata['name']}" if metadata.get("namespace") else str(metadata["name"])
    if prefix:
        name = f"{prefix}-{name}"
    typ = resource_type(obj)
    secret = typ == "kubernetes:core/v1:Secret"
    secrets = frozenset(k for k in ("data", "stringData") if secret and k in obj)
    return ExpandedObject(name=name, type=typ, object=obj, secret_keys=secrets)


def decode_yaml(args: dict[str, Any]) -> dict[str, Any]:
    """The answer to the provider function `kubernetes:yaml:decode` (used by the v1 yaml.ConfigFile/ConfigGroup)."""
    return {"result": _decode(str(args.get("text", "")))}
