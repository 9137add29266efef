"""`aws.iam.get_policy_document` answered offline, with the JSON the provider itself would return.

The function is pure: the provider builds the document from its arguments without calling AWS. This module
follows the provider's data source (hashicorp/terraform-provider-aws, internal/service/iam/
policy_document_data_source.go, with the JSON model in policy_model.go), so that rules judge the very
document a real `pulumi preview` would produce:

* `version` defaults to 2012-10-17 (or 2008-10-17); a statement's `effect` defaults to Allow; a `sid` is
  alphanumeric and unique within `statements` and across `sourcePolicyDocuments`.
* actions, resources and principal identifiers are sets: one value is written as a string, several sorted
  in reverse order (policyDecodeConfigStrings); `&{` becomes `${` in resources, principals and condition
  values (policy variables).
* principals of one type merge into one key; a single `{"type": "*", "identifiers": ["*"]}` is written as
  `"*"`. Condition values keep their order and a single value is written as a string.
* `sourcePolicyDocuments` are merged first, then the statements, then `overridePolicyDocuments`; a statement
  with the Sid of an earlier one replaces it (iamPolicyDoc.Merge). The newer Version wins.
* `json` is Go's `json.MarshalIndent(doc, "", "  ")` (fields in struct order, map keys sorted, `<`, `>`,
  `&` escaped as Go does), `minifiedJson` is `json.Marshal`, and `id` is the CRC-32 of `json`
  (create.StringHashcode).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from typing import Any

TOKEN = "aws:iam/getPolicyDocument:getPolicyDocument"
VERSIONS = ("2008-10-17", "2012-10-17")
_SID = re.compile(r"^[a-zA-Z0-9]*$")
_STATEMENT_FIELDS = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
                     "NotPrincipal", "Condition")


class PolicyDocumentError(ValueError):
    """Arguments the provider would refuse, with the provider's reason."""


def policy_document(args: Mapping[str, Any]) -> dict[str, Any]:
    """The data source's result (`json`, `minifiedJson`, `id` and the arguments) for the invoke's arguments."""
    version = args.get("version") or "2012-10-17"
    if version not in VERSIONS:
        raise PolicyDocumentError(f"version: expected one of {', '.join(VERSIONS)}, got {version!r}")
    for deprecated in ("sourceJson", "overrideJson"):
        if args.get(deprecated):
            raise PolicyDocumentError(f"{deprecated} is not used by the provider and must be empty")
    merged: dict[str, Any] = {"Version": "", "Id": "", "Statement": []}
    seen_sids: set[str] = set()
    for index, text in enumerate(args.get("sourcePolicyDocuments") or []):
        if text is None:
            continue
        source = _parse(text, f"sourcePolicyDocuments[{index}]")
        for statement in source["Statement"]:
            sid = statement.get("Sid", "")
            if sid and sid in seen_sids:
                raise PolicyDocumentError(f"duplicate Sid ({sid}) in sourcePolicyDocuments[{index}]")
            if sid:
                seen_sids.add(sid)
        _merge(merged, source)
    own = {"Version": version, "Id": args.get("policyId") or "",
           "Statement": _statements(args.get("statements") or [], version)}
    _merge(merged, own)
    for index, text in enumerate(args.get("overridePolicyDocuments") or []):
        if text is not None:
            _merge(merged, _parse(text, f"overridePolicyDocuments[{index}]"))
    document = _ordered(merged)
    pretty = _go_escape(json.dumps(document, indent=2, ensure_ascii=False))
    minified = _go_escape(json.dumps(document, separators=(",", ":"), ensure_ascii=False))
    return {**dict(args), "version": version, "json": pretty, "minifiedJson": minified,
            "id": str(zlib.crc32(pretty.encode()))}


def _statements(configured: list[Any], version: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    sids: set[str] = set()
    for index, item in enumerate(configured):
        where = f"statements[{index}]"
        item = item or {}
        effect = item.get("effect") or "Allow"
        if effect not in ("Allow", "Deny"):
            raise PolicyDocumentError(f"{where}.effect: expected Allow or Deny, got {effect!r}")
        sid = item.get("sid") or ""
        if not _SID.match(sid):
            raise PolicyDocumentError(f"{where}.sid {sid!r}: must only include alphanumeric characters")
        if sid in sids:
            raise PolicyDocumentError(f"duplicate Sid ({sid}); remove the Sid or make it unique")
        if sid:
            sids.add(sid)
        statement: dict[str, Any] = {"Sid": sid, "Effect": effect}
        for key, field in (("actions", "Action"), ("notActions", "NotAction")):
            if item.get(key):
                statement[field] = _set_of_strings(item[key])
        for key, field in (("resources", "Resource"), ("notResources", "NotResource")):
            if item.get(key):
                statement[field] = _set_of_strings([_variables(v, version, f"{where}.{key}") for v in item[key]])
        for key, field in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if item.get(key):
                statement[field] = _principals(item[key], version, f"{where}.{key}")
        if item.get("conditions"):
            statement["Condition"] = _conditions(item["conditions"], version, f"{where}.conditions")
        statements.append(statement)
    return statements


def _set_of_strings(values: list[Any]) -> Any:
    unique = sorted({str(v) for v in values}, reverse=True)
    return unique[0] if len(unique) == 1 else unique


def _variables(value: Any, version: str, where: str) -> str:
    text = str(value)
    if version == "2008-10-17" and "&{" in text:
        raise PolicyDocumentError(f"{where}: found &{{ sequence in ({text}), not supported in version 2008-10-17")
    return text.replace("&{", "${")


def _principals(blocks: list[Any], version: str, where: str) -> Any:
    pairs: list[tuple[str, Any]] = []
    for block in blocks:
        kind = str(block.get("type", ""))
        identifiers = [_variables(v, version, where) for v in block.get("identifiers") or []]
        pairs.append((kind, _set_of_strings(identifiers) if identifiers else []))
    if len(pairs) == 1 and pairs[0][0] == "*" and pairs[0][1] in ("*", ["*"]):
        return "*"
    merged: dict[str, Any] = {}
    for kind, identifiers in pairs:
        current = merged.get(kind)
        if isinstance(identifiers, list):
            base = [] if current is None else ([current] if isinstance(current, str) else current)
            merged[kind] = base + sorted(identifiers, reverse=True)
        elif current is None:
            merged[kind] = identifiers
        else:
            merged[kind] = ([current] if isinstance(current, str) else current) + [identifiers]
    return merged


def _conditions(blocks: list[Any], version: str, where: str) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, list[str]]] = {}
    for block in blocks:
        values = [_variables(v, version, where) for v in block.get("values") or []]
        raw.setdefault(str(block.get("test", "")), {}).setdefault(str(block.get("variable", "")), []).extend(values)
    return {test: {var: vals[0] if len(vals) == 1 else vals for var, vals in variables.items()}
            for test, variables in raw.items()}


def _parse(text: Any, where: str) -> dict[str, Any]:
    """A policy document as the provider reads it back (iamPolicyDoc's UnmarshalJSON)."""
    try:
        document = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError as exc:
        raise PolicyDocumentError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(document, dict):
        raise PolicyDocumentError(f"{where}: expected a JSON policy document object")
    statements = document.get("Statement") or []
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyDocumentError(f"{where}: Statement must be a list of objects")
    parsed = []
    for statement in statements:
        copy = {k: statement[k] for k in _STATEMENT_FIELDS if statement.get(k) not in (None, "", [], {})}
        for field in ("Principal", "NotPrincipal"):
            if isinstance(copy.get(field), dict):
                copy[field] = {k: sorted(v, reverse=True) if isinstance(v, list) else v
                               for k, v in copy[field].items()}
        if isinstance(copy.get("Condition"), dict):
            copy["Condition"] = {
                test: {var: (str(vals).lower() if isinstance(vals, bool) else vals)
                       for var, vals in (variables or {}).items()}
                for test, variables in copy["Condition"].items()
            }
        parsed.append(copy)
    return {"Version": str(document.get("Version") or ""), "Id": str(document.get("Id") or ""),
            "Statement": parsed}


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    if new["Id"]:
        into["Id"] = new["Id"]
    if new["Version"] > into["Version"]:
        into["Version"] = new["Version"]
    for statement in new["Statement"]:
        sid = statement.get("Sid", "")
        existing = next((i for i, s in enumerate(into["Statement"]) if sid and s.get("Sid") == sid), None)
        if existing is None:
            into["Statement"].append(statement)
        else:
            into["Statement"][existing] = statement


def _ordered(document: dict[str, Any]) -> dict[str, Any]:
    """The document with Go's field order and omitempty, and map keys (principal types, tests) sorted."""
    out: dict[str, Any] = {}
    if document["Version"]:
        out["Version"] = document["Version"]
    if document["Id"]:
        out["Id"] = document["Id"]
    statements = []
    for statement in document["Statement"]:
        ordered = {}
        for field in _STATEMENT_FIELDS:
            value = statement.get(field)
            if value in (None, "", [], {}):
                continue
            if field in ("Principal", "NotPrincipal", "Condition") and isinstance(value, dict):
                value = {k: (dict(sorted(v.items())) if isinstance(v, dict) else v) for k, v in sorted(value.items())}
            ordered[field] = value
        statements.append(ordered)
    if statements:
        out["Statement"] = statements
    return out


def _go_escape(text: str) -> str:
    """Go's encoding/json escapes these characters in every string (HTML safety); so must a faithful copy."""
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text
