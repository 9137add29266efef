"""Validate custom resources offline against the vendored CRDs (tests/gitops/crds/, see its README).

The API server prunes fields a structural schema does not declare, so a misspelt field would vanish
silently on apply. Validation here is stricter: an object schema that lists `properties` and does not
preserve unknown fields rejects any other key, so the typo fails the test instead.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD_DIR = Path(__file__).parent / "crds"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict JSON schema of that version of the CRD."""
    found = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=_Loader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            found[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return found


def _strict(schema: Any) -> Any:
    """A copy of an OpenAPI v3 schema node where declared objects reject undeclared keys."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _strict(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_strict(v) for v in value]
        else:
            out[key] = value
    if "properties" in schema and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def validate(manifest: dict[str, Any]) -> list[str]:
    """Every schema error of one custom resource, as `kind/name: path: message`; empty when valid."""
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    schema = schemas().get(key)  # type: ignore[arg-type]
    name = f"{manifest.get('kind')}/{(manifest.get('metadata') or {}).get('name')}"
    if schema is None:
        return [f"{name}: no vendored CRD for {key}"]
    validator = jsonschema.Draft7Validator(schema)
    return [f"{name}: {'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(manifest)]
