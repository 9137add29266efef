"""Reads the files a user hands the offline plan (stack files, stack outputs, policy config) defensively.

Every file is untrusted input: it may be binary, huge, nested ten thousand levels deep, or a YAML alias
bomb. Each reader bounds the size, requires UTF-8 text, and parses into plain JSON-like values only, so that
any problem ends as one `InputError` line naming the file, never as a traceback or an exhausted machine.

YAML is read as the Pulumi CLI reads it (YAML 1.2 core scalars, as Go's yaml.v3 does): `true`/`false` only
are booleans (`yes`, `on` stay strings), unquoted dates stay strings, `017` is 17. Explicit tags for types a
config cannot hold (`!!binary`, `!!set`, `!!timestamp`, `!!omap`, Python tags) are refused, as are
non-string mapping keys, duplicate keys, NaN and infinities. Aliases are allowed but the expanded document
is bounded (`MAX_NODES` values, `MAX_DEPTH` levels), which stops "billion laughs" before it grows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
"""The largest input file read (1 MiB); stack files, outputs and policy configs are a few KiB."""

MAX_DEPTH = 64
"""The deepest nesting of lists and mappings accepted in any input."""

MAX_NODES = 100_000
"""The most values a document may expand to (aliases counted at every use)."""


class InputError(ValueError):
    """An input file that cannot be used; the message is one line naming the file and the problem."""


def is_file(path: Path) -> bool:
    """`path.is_file()`, but False (not an OSError) for a path the system refuses, e.g. one too long."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def read_text(path: Path, what: str | None = None, limit: int = MAX_BYTES) -> str:
    """The file's text: at most `limit` bytes, UTF-8, no NUL bytes (a binary file is refused)."""
    label = what or str(path)
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputError(f"{label}: larger than {limit // 1024} KiB; not an input this tool reads")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not UTF-8 text (byte {exc.start}); is it a binary file?") from None
    if "\x00" in text:
        raise InputError(f"{label}: contains NUL bytes; is it a binary file?")
    return text


def read_json(path: Path, what: str | None = None) -> Any:
    """A JSON file as plain values (see `loads_json`)."""
    label = what or str(path)
    return loads_json(read_text(path, label), label)


def loads_json(text: str, what: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys, at most `MAX_DEPTH` levels, `MAX_NODES` values."""
    if _json_depth(text) > MAX_DEPTH:
        # Refused before parsing: the recursive parser would hit the interpreter's recursion limit, and a finalizer
        # that runs at that depth prints "Exception ignored" to stderr even though the error is caught.
        raise InputError(f"{what}: nested too deeply; at most {MAX_DEPTH} levels are allowed")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except _JsonProblem as exc:
        raise InputError(f"{what}: {exc}") from None
    except RecursionError:
        raise InputError(f"{what}: nested too deeply; at most {MAX_DEPTH} levels are allowed") from None
    _check_size(value, what)
    return value


def read_yaml(path: Path, what: str | None = None) -> Any:
    """A YAML file as plain values (see the module docstring for what is refused)."""
    label = what or str(path)
    return loads_yaml(read_text(path, label), label)


def loads_yaml(text: str, what: str) -> Any:
    try:
        value = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader, narrowed
    except yaml.MarkedYAMLError as exc:
        raise InputError(f"{what}: {_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{what}: not valid YAML ({_one_line(str(exc))})") from None
    except RecursionError:
        raise InputError(f"{what}: nested too deeply; at most {MAX_DEPTH} levels are allowed") from None
    _check_size(value, what)
    return value


# --- JSON ---------------------------------------------------------------------------------------------


class _JsonProblem(Exception):
    pass


def _json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text, counted without recursion (brackets inside
    strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise _JsonProblem(f"{name} is not a JSON number; use a finite number or null")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JsonProblem(f"duplicate key {key!r}; each key may appear once in an object")
        result[key] = value
    return result


# --- YAML ---------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, plain types only, unique string keys, bounded composition."""

    yaml_implicit_resolvers: dict = {}
    yaml_constructors = {
        tag: constructor
        for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
        if tag is None
        or tag.rsplit(":", 1)[-1] in {"null", "bool", "int", "float", "str", "seq", "map"}
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                kind = {bool: "a boolean", int: "an integer", float: "a number"}.get(type(key), "null")
                raise _constructor_error(f"mapping key {key!r} is {kind}; keys must be strings (quote it)", key_node)
            if key == "<<":
                # Merge keys copy pairs on every use: a bomb of their own. Pulumi users rarely need them.
                raise _constructor_error("merge keys (<<) are not supported; write the keys out", key_node)
            if key in mapping:
                raise _constructor_error(f"duplicate key {key!r}; each key may appear once in a mapping", key_node)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if not _INT.fullmatch(text):
            raise _constructor_error(f"{text!r} is not an integer (decimal, 0o octal or 0x hex digits)", node)
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits.startswith(("0o", "0x")):
            return sign * int(digits[2:], 8 if digits[1] == "o" else 16)
        return sign * int(digits, 10)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node))
        if not _FLOAT.fullmatch(text):
            raise _constructor_error(f"{text!r} is not a number", node)
        if not _FINITE.fullmatch(text):
            raise _constructor_error(f"{text!r} is not a finite number; config values must be finite", node)
        return float(text)

    def construct_undefined(self, node: yaml.Node) -> Any:
        raise _constructor_error(
            f"the tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed; values are strings, numbers, "
            "booleans, null, lists and mappings",
            node)


def _constructor_error(problem: str, node: yaml.Node) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


_CORE_TAG_INT = "tag:yaml.org,2002:int"
_INT = re.compile(r"[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)", re.ASCII)
_FINITE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_FLOAT = re.compile(_FINITE.pattern + r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)", re.ASCII)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_yaml_map)
_StrictLoader.add_constructor(_CORE_TAG_INT, _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
_StrictLoader.add_constructor(None, _StrictLoader.construct_undefined)
# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), as the Pulumi CLI resolves it.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictLoader.add_implicit_resolver(_CORE_TAG_INT, re.compile(f"^(?:{_INT.pattern})$", re.ASCII), list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(f"^(?:{_FLOAT.pattern})$", re.ASCII), list("-+.0123456789"))


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = _one_line(exc.problem or exc.context or "not valid YAML")
    mark = exc.problem_mark or exc.context_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    if isinstance(exc, yaml.constructor.ConstructorError):
        return f"{problem}{where}"
    return f"not valid YAML: {problem}{where}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- shared ---------------------------------------------------------------------------------------------


def _check_size(value: Any, what: str) -> None:
    """Refuse documents whose expansion (aliases counted at each use) exceeds the bounds."""
    budget = MAX_NODES
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise InputError(f"{what}: expands to more than {MAX_NODES} values (repeated YAML aliases?)")
        if depth > MAX_DEPTH:
            raise InputError(f"{what}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
