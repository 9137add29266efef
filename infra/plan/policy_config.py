"""Policy config: read a `--policy-pack-config` file, validate it strictly, reconcile it as the CLI does.

Format: `{"all": level, "<rule>": level | {"enforcementLevel": .., "<knob>": ..}}`. Reconciliation follows
the CLI (schema defaults, then the pack's initial config, then the file: "all" first, then each rule), with
one merge shared with the docs generator (policies/tools/config_merge.py). Validation is stricter than the
CLI's: an unknown rule name, an unknown key or a wrongly typed value is an error here, where the CLI would
silently ignore the first two.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
from pulumi_policy import EnforcementLevel

from infra.plan.inputs import InputError, loads_json, read_text
from infra.plan.pack import LoadedPack, PolicyMeta
from policies.tools.config_merge import Layer, file_layer, merge

__all__ = [
    "ENFORCEMENT_LEVELS",
    "PolicyConfigError",
    "default_policy_config_path",
    "level_problem",
    "load_policy_config",
]

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
"""The enforcement levels a policy config may name (apitype.EnforcementLevel in the CLI)."""


class PolicyConfigError(Exception):
    """An invalid policy config; the message names the file, rule or key, value and what is allowed."""

    def __init__(self, path: Path | str | None, problems: Sequence[str]) -> None:
        self.path = str(path) if path is not None else None
        self.problems = list(problems)
        where = self.path or "policy config"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid policy config {where}:\n{lines}")


def default_policy_config_path(pack_dir: Path, environment: str) -> Path:
    """The policy config of an environment: `<pack>/config/<environment>.json`."""
    return Path(pack_dir) / "config" / f"{environment}.json"


def load_policy_config(
    pack: LoadedPack, path: Path | None, *, environment_config: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Read, strictly validate and reconcile a policy config file (None: the pack's defaults only).

    `environment_config` is the environment's own config (`<pack>/config/<environment>.json`). When it
    exists and `path` is another file, it is the layer below `path`: rules that `path` does not name keep
    the environment's enforcement level and knob values, so a custom config cannot weaken the environment
    by leaving rules out (it can still change a rule by naming it, or all rules with "all").

    Returns, for every rule of the pack, `{"enforcementLevel": <level>, <knob>: <value>, ...}` with the
    schema defaults filled in, i.e. exactly what the CLI would send to the pack's `Configure`.
    Raises PolicyConfigError naming every problem; an empty file, or one naming no rule, is an error.
    """
    layers: list[Layer] = []
    if pack.initial_config:
        layers.append(_initial_layer(pack.initial_config, pack.meta))
    if (
        environment_config is not None
        and path is not None
        and Path(environment_config).is_file()
        and not _same_file(Path(environment_config), Path(path))
    ):
        layers.append(_read_layer(pack, Path(environment_config)))
    if path is not None:
        layers.append(_read_layer(pack, Path(path)))
    reconciled = merge(_rule_defaults(pack), layers)
    problems: list[str] = []
    for name, settings in reconciled.items():
        knobs = {k: v for k, v in settings.items() if k != "enforcementLevel"}
        problems.extend(_knob_problems(pack.meta[name], knobs, partial=False))
    if problems:
        raise PolicyConfigError(path, problems)
    return reconciled


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


def _rule_defaults(pack: LoadedPack) -> dict[str, dict[str, Any]]:
    """Each rule's level before any config (the rule's or the pack's) and its knobs' schema defaults."""
    return {
        name: {
            "enforcementLevel": meta.default_enforcement,
            **{k: schema["default"] for k, schema in meta.knobs.items() if "default" in schema},
        }
        for name, meta in pack.meta.items()
    }


def _read_layer(pack: LoadedPack, path: Path) -> Layer:
    """One config file as a merge layer, after strict validation of every entry."""
    where = str(path)
    try:  # bounded, UTF-8, no NUL, strict JSON (see infra.plan.inputs): a hostile file is one clear error
        text = read_text(path, "file")
        if not text.strip():
            raise PolicyConfigError(
                where, ['is empty; it must be a JSON object naming rules (or "all") and their settings']
            )
        raw = loads_json(text, "file")
    except InputError as exc:
        raise PolicyConfigError(where, [str(exc).removeprefix("file: ")]) from None
    if not isinstance(raw, dict):
        raise PolicyConfigError(
            where, [f"must be a JSON object mapping rule names to settings, got {_kind(raw)}"]
        )
    if not raw:
        raise PolicyConfigError(where, ['names no rule; name rules (or "all") and their settings'])

    meta = pack.meta
    problems: list[str] = []
    for key, value in raw.items():
        if key == "all":
            level = value.get("enforcementLevel") if isinstance(value, dict) else value
            if isinstance(value, dict) and set(value) - {"enforcementLevel"}:
                extra = ", ".join(sorted(set(value) - {"enforcementLevel"}))
                problems.append(
                    f'"all": only an enforcement level may be set for all rules; unknown key(s) {extra}'
                )
            if not _valid_level(level):
                problems.append(f'"all": {level_problem(level)}')
            continue
        if key not in meta:
            problems.append(_unknown_rule(key, meta))
            continue
        if isinstance(value, str):
            if not _valid_level(value):
                problems.append(f'"{key}": {level_problem(value)}')
            continue
        if not isinstance(value, dict):
            problems.append(
                f'"{key}": must be an enforcement level ({", ".join(ENFORCEMENT_LEVELS)}) or an object, '
                f"got {_kind(value)} {_short(value)}"
            )
            continue
        if "enforcementLevel" in value and not _valid_level(value["enforcementLevel"]):
            problems.append(f'"{key}"."enforcementLevel": {level_problem(value["enforcementLevel"])}')
        knobs = {k: v for k, v in value.items() if k != "enforcementLevel"}
        problems.extend(_knob_problems(meta[key], knobs, partial=True))
    if problems:
        raise PolicyConfigError(where, problems)
    return file_layer(raw)


def _initial_layer(initial_config: Mapping[str, Any], known: Mapping[str, Any]) -> Layer:
    """The pack's programmatic initial_config ({name: EnforcementLevel | {...}}) as a config layer."""
    level_for_all, settings_by_rule = None, {}
    for name, value in initial_config.items():
        settings = {"enforcementLevel": value} if isinstance(value, EnforcementLevel) else dict(value)
        level = settings.get("enforcementLevel")
        if isinstance(level, EnforcementLevel):
            settings["enforcementLevel"] = level.value
        if name == "all":
            level_for_all = settings.get("enforcementLevel")
        elif name in known:
            settings_by_rule[name] = settings
    return level_for_all, settings_by_rule


def _knob_problems(meta: PolicyMeta, knobs: Mapping[str, Any], *, partial: bool) -> list[str]:
    schema: dict[str, Any] = {"type": "object", "properties": dict(meta.knobs), "additionalProperties": False}
    if meta.required and not partial:
        schema["required"] = list(meta.required)
    problems = []
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(dict(knobs)), key=lambda e: list(e.absolute_path)):
        if error.validator == "additionalProperties":
            for key in sorted(set(knobs) - set(meta.knobs)):
                allowed = ", ".join(["enforcementLevel", *sorted(meta.knobs)])
                problems.append(f'"{meta.name}": unknown key "{key}"; allowed keys: {allowed}')
            continue
        if not error.absolute_path:
            problems.append(f'"{meta.name}": {error.message}')
            continue
        path = "".join(f'."{p}"' if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
        expected = _expected(error.schema) if isinstance(error.schema, dict) else str(error.schema)
        problems.append(
            f'"{meta.name}"{path}: got {_short(error.instance)} ({_kind(error.instance)}); '
            f"expected {expected}"
        )
    return problems


def _expected(schema: Mapping[str, Any]) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
    elif "type" in schema:
        kind = schema["type"]
        if kind == "array" and isinstance(schema.get("items"), dict) and "type" in schema["items"]:
            parts.append(f"an array of {schema['items']['type']}s")
        elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            parts.append(f"an object of {schema['additionalProperties'].get('type', 'value')}s")
        else:
            parts.append(f"{'an' if str(kind)[0] in 'aeiou' else 'a'} {kind}")
    if "minimum" in schema and "maximum" in schema:
        parts.append(f"between {schema['minimum']} and {schema['maximum']}")
    elif "minimum" in schema:
        parts.append(f">= {schema['minimum']}")
    elif "maximum" in schema:
        parts.append(f"<= {schema['maximum']}")
    if "pattern" in schema:
        parts.append(f"matching {schema['pattern']}")
    if schema.get("uniqueItems"):
        parts.append("without duplicates")
    return " ".join(parts) or json.dumps(dict(schema))


def _valid_level(value: Any) -> bool:
    return isinstance(value, str) and value in ENFORCEMENT_LEVELS


def level_problem(value: Any) -> str:
    return f"enforcement level {_short(value)} is not one of {', '.join(ENFORCEMENT_LEVELS)}"


def _unknown_rule(name: str, meta: Mapping[str, PolicyMeta]) -> str:
    close = difflib.get_close_matches(name, list(meta), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f'unknown rule "{name}"{hint} (rules of this pack: {", ".join(sorted(meta))})'


def _kind(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
