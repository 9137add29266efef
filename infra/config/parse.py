"""From the CLI's flat `namespace:key` map to a validated StackConfig, or every problem by key path."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError

from infra.config.base import (
    AWS_KEYS,
    PROJECT_NAMESPACE,
    ConfigError,
)
from infra.config.deploy import DEPLOY_TARGETS, Deploy
from infra.config.stack import StackConfig
from infra.core.training_contract import hyperparameter_problems


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate the CLI's flat config map. Raises ConfigError with every problem found."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    allowed_project_keys = sorted(
        key for key in (f.alias or n for n, f in StackConfig.model_fields.items()) if key not in AWS_KEYS
    )
    for full_key, value in sorted(raw.items()):
        namespace, _, key = full_key.partition(":")
        if namespace == "aws":
            if key not in AWS_KEYS:
                problems.append(
                    f"aws:{key}: not supported by this program (it builds its own provider); "
                    f"allowed: {', '.join('aws:' + k for k in AWS_KEYS)}"
                )
                continue
        elif namespace == PROJECT_NAMESPACE:
            if key not in allowed_project_keys:
                problems.append(f"{full_key}: unknown key; allowed keys: {', '.join(allowed_project_keys)}")
                continue
        else:
            continue  # Other namespaces (other providers, other programs' keys) are not ours to judge.
        try:
            decoded = _decode(key, value)
        except json.JSONDecodeError as exc:
            problems.append(f"{full_key}: not valid JSON ({exc.msg}); got {_short(value)}")
            values[key] = None
        except ValueError as exc:
            problems.append(f"{full_key}: {exc}")
            values[key] = None
        else:
            if decoded is not _UNSET:
                values[key] = decoded
    undecodable = {key for key, value in values.items() if value is None}
    try:
        config = StackConfig.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems.extend(_describe(e) for e in exc.errors() if not e["loc"] or e["loc"][0] not in undecodable)
    else:
        problems.extend(_contract_problems(config))
        if not problems:
            return config
    raise ConfigError(problems)


def _contract_problems(config: StackConfig) -> list[str]:
    """Hyperparameters the model code's training entry point would refuse (its published contract)."""
    return [
        f"{PROJECT_NAMESPACE}:models.{model}.training.hyperparameters.{key}: {problem}"
        for model, training in sorted(config.trained_models().items())
        for key, problem in hyperparameter_problems(training.hyperparameters)
    ]


_UNSET = object()
"""An optional key given as the empty string: Pulumi.yaml declares such keys with default "" (see config_docs)."""

_MAX_JSON_DEPTH = 32


def scalar_kind(annotation: Any) -> str | None:
    """'str', 'int' or 'bool' for a key the CLI passes as a plain string; None for one it passes as JSON text."""
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    if getattr(annotation, "__origin__", None) is Literal:
        kinds = {type(a) for a in annotation.__args__}
        return "str" if kinds == {str} else "int" if kinds == {int} else None
    if annotation in (str, int, bool):
        return annotation.__name__
    if annotation is SecretStr:  # a `secure:` value reaches the program decrypted, as a plain string
        return "str"
    if getattr(annotation, "__metadata__", None) is not None:  # Annotated[str, Field(...)]
        return scalar_kind(annotation.__origin__)
    if len(args) == 1 and type(None) in getattr(annotation, "__args__", ()):  # X | None
        return scalar_kind(args[0])
    return None


def _field_for(key: str) -> Any:
    return next((f for n, f in StackConfig.model_fields.items() if (f.alias or n) == key), None)


def _decode(key: str, value: Any) -> Any:
    """The CLI's text for one top-level key, as the typed value the model validates strictly.

    Objects and lists arrive as JSON text; booleans and integers as their words and digits; anything else as
    the string itself. A YAML list or map given for a string key arrives as JSON text too, and is refused here
    rather than becoming, say, a tag value.
    """
    field = _field_for(key)
    if not isinstance(value, str) or field is None:
        return value
    kind = scalar_kind(field.annotation)
    if value == "" and field.default is None and not field.is_required():
        return _UNSET
    if kind is None:
        return _load_json(value)
    if kind == "bool":
        # The words the Pulumi SDK's `Config.get_bool` accepts; anything else is left for the model to refuse.
        return {"true": True, "True": True, "false": False, "False": False}.get(value, value)
    if kind == "int":
        return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else value
    if value[:1] in "[{":
        try:
            structured = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(structured, list | dict):
            raise ValueError(f"expected a single value, got a {type(structured).__name__}; got {_short(structured)}")
    return value


def _load_json(text: str) -> Any:
    """JSON with duplicate keys refused (the last one would silently win) and nesting bounded."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate key(s) {', '.join(map(repr, duplicates))}")
        return dict(pairs)

    depth = max_depth = 0
    in_string = escaped = False
    for char in text:  # A cheap bound before parsing: json's recursion would otherwise end in RecursionError.
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            max_depth = max(max_depth, depth)
        elif char in "]}":
            depth -= 1
    if max_depth > _MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_JSON_DEPTH} levels")
    return json.loads(text, object_pairs_hook=no_duplicates)


def _describe(error: Mapping[str, Any]) -> str:
    """One line per pydantic error: the key path as written in the stack file, the value, what is allowed."""
    loc, section = _walk(error["loc"])
    if error["type"] == "extra_forbidden":
        _, parent = _walk(error["loc"][:-1])
        return f"{_key_path(loc)}: unknown key; allowed keys: {', '.join(_keys_of(parent))}"
    if error["type"] == "missing":
        return f"{_key_path(loc)}: required key is missing"
    if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
        *others, last = (repr(t) for t in DEPLOY_TARGETS)
        allowed = f"Input should be {', '.join(others)} or {last}"
        if error["type"] == "union_tag_not_found":
            return f"{_key_path([*loc, 'target'])}: required key is missing; {allowed}"
        return f"{_key_path([*loc, 'target'])}: {allowed}; got {_short((error.get('ctx') or {}).get('tag'))}"
    message = error["msg"].removeprefix("Value error, ")
    if loc[-1:] == ["[key]"]:
        return f"{_key_path(loc[:-2])}: the name {loc[-2]!r} is not allowed: {message}"
    if error["type"] in ("value_error", "assertion_error") or error["type"].startswith("model_"):
        return f"{_key_path(loc)}: {message}"
    return f"{_key_path(loc)}: {message}; got {_short(error.get('input'))}"


def _key_path(loc: list[str]) -> str:
    if not loc:
        return PROJECT_NAMESPACE
    head = loc[0]
    namespace = "aws" if head in AWS_KEYS else PROJECT_NAMESPACE
    return f"{namespace}:{'.'.join(loc)}"


def _walk(loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """Follow an error location through the schema: the key path as the stack file spells it (without the
    discriminator tags pydantic inserts for `deploy`), and the config section the location ends in."""
    model: Any = StackConfig
    path: list[str] = []
    union_next = False
    for part in loc:
        if union_next and part in DEPLOY_TARGETS:
            model, union_next = DEPLOY_TARGETS[part], False
            continue  # pydantic's tag, not a key of the stack file
        path.append(str(part))
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            continue  # A free-form map key (a model name): the next part indexes into the map's value type.
        model = _section_type(field.annotation)
        union_next = model == Deploy
    return path, model


def _keys_of(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(f.alias or n for n, f in model.model_fields.items())
    return []


def _section_type(annotation: Any) -> Any:
    """The BaseModel (or the Deploy union) inside `X | None` or `dict[str, X]`, or the annotation itself."""
    if annotation == Deploy:
        return annotation
    args = getattr(annotation, "__args__", ())
    for arg in (annotation, *reversed(args)):
        if arg == Deploy or (isinstance(arg, type) and issubclass(arg, BaseModel)):
            return arg
    return annotation


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
