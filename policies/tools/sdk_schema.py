"""The input schema of the installed Pulumi provider SDKs (pulumi-aws, pulumi-kubernetes), read from their typed
`*Args` classes: which resource types carry which input property, and at which paths (wire names).

A rule's coverage is a claim about the provider schema ("every type that carries X"). The tests hold each rule to
it (`tests/policies/test_policy_coverage.py`): the property's carriers are derived from the installed SDK at test
time, so a provider upgrade that adds a type carrying a judged property fails the suite until the rule reads it.

Developer and test tool only: the pack never imports it (it runs without the provider SDKs).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import sys
from collections.abc import Iterator

_REFERENCE = re.compile(r"ForwardRef\('([\w.]+Args)'\)")
Path = tuple[str, ...]


def _resolve(name: str, module_name: str) -> type | None:
    target: object = sys.modules[module_name]
    for part in name.split("."):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target if isinstance(target, type) else None


def _properties(cls: type) -> Iterator[tuple[str, list[type]]]:
    """(wire name, the Args classes its value may hold) for each input property of an Args class."""
    for attribute in vars(cls).values():
        if not isinstance(attribute, property) or attribute.fget is None:
            continue
        name = getattr(attribute.fget, "_pulumi_name", None)
        if not isinstance(name, str):
            continue
        annotation = str(attribute.fget.__annotations__.get("return", ""))
        nested = [found for ref in dict.fromkeys(_REFERENCE.findall(annotation))
                  if (found := _resolve(ref, cls.__module__)) is not None]
        yield name, nested


def paths(cls: type, seen: tuple[type, ...] = (), depth: int = 14) -> set[Path]:
    """Every input path of an Args class (lists are transparent); recursive types are followed once."""
    found: set[Path] = set()
    if depth == 0:
        return found
    for name, nested in _properties(cls):
        found.add((name,))
        for inner in nested:
            if inner in seen:
                continue
            found |= {(name, *p) for p in _cached_paths(inner, (*seen, cls), depth - 1)}
    return found


@functools.cache
def _cached_paths(cls: type, seen: tuple[type, ...], depth: int) -> frozenset[Path]:
    return frozenset(paths(cls, seen, depth))


def _import_quietly(name: str) -> object:
    """Import a submodule without leaving it in place of the class its package exports under the same name:
    pulumi-kubernetes names modules like their classes (`apiextensions/CustomResource.py` defines
    `CustomResource`), and the binding Python makes on import would shadow the class for every later
    `k8s.apiextensions.CustomResource(...)` in the same process."""
    parent_name, _, attribute = name.rpartition(".")
    module = importlib.import_module(name)
    parent = sys.modules[parent_name]
    exported = getattr(module, attribute, None)
    if vars(parent).get(attribute) is module and isinstance(exported, type):
        setattr(parent, attribute, exported)
    return module


@functools.cache
def resources(package: str, *subpackages: str) -> dict[str, type]:
    """Resource type token -> its Args class, for the package (or only the named subpackages)."""
    roots = [importlib.import_module(f"{package}.{s}" if s else package) for s in subpackages or ("",)]
    found: dict[str, type] = {}
    for root in roots:
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{root.__name__}."):
            if info.ispkg or any(part.startswith("_") for part in info.name.split(".")[1:]):
                continue
            module = _import_quietly(info.name)
            for attribute in list(vars(module).values()):
                token = getattr(attribute, "pulumi_type", None)
                args = getattr(module, f"{getattr(attribute, '__name__', '')}Args", None)
                if isinstance(attribute, type) and isinstance(token, str) and isinstance(args, type):
                    found[token] = args
    return found


def carriers(package: str, subpackages: tuple[str, ...], predicate: object) -> dict[str, list[Path]]:
    """Resource types whose inputs reach a path the predicate accepts -> those paths (sorted)."""
    test = predicate if callable(predicate) else (lambda p: p[-1] == predicate)
    out: dict[str, list[Path]] = {}
    for token, args in sorted(resources(package, *subpackages).items()):
        hits = sorted(p for p in _cached_paths(args, (), 14) if test(p))
        if hits:
            out[token] = hits
    return out
