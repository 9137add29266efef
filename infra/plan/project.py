"""Reads a Pulumi project and a stack file the way the CLI does, into the flat config map a program sees.

Project config defaults from `Pulumi.yaml` come first, the stack file's values override them; structured
values are passed as JSON text and scalars as strings, as the CLI passes them. Encrypted (`secure:`)
values cannot be decrypted offline: they become a placeholder and are marked secret.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.plan.inputs import InputError, is_file, read_yaml
from infra.plan.model import SECRET_PLACEHOLDER

STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}", re.ASCII)
"""What the Pulumi CLI accepts as a stack name: letters, digits, `-`, `_`, `.`; at most 100 characters."""

_STACK_FILE = re.compile(r"Pulumi\.(.+)\.yaml")


class ProjectError(Exception):
    """A project or stack file that cannot be read; the message says which file and what is wrong."""


@dataclass(frozen=True)
class StackInput:
    """What a program run needs: which project, which stack, with which config."""

    project: str
    project_dir: Path
    program_dir: Path
    stack: str
    config: dict[str, str]
    secret_keys: tuple[str, ...]


def load_project(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    document = _read_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise ProjectError(f"{path}: not a Pulumi project file (a mapping with a 'name' is required)")
    return document


def check_stack_name(stack: str) -> str:
    """`stack` if the Pulumi CLI would accept it as a stack name, else a ProjectError saying why."""
    if not STACK_NAME.fullmatch(stack):
        shown = stack if len(stack) <= 40 else f"{stack[:40]}... ({len(stack)} characters)"
        raise ProjectError(
            f"stack name {shown!r} is not valid: use 1-100 letters, digits, '-', '_' or '.'"
        )
    return stack


def stack_name_of(stack_file: Path) -> str | None:
    """The stack a file named `Pulumi.<stack>.yaml` belongs to, as the Pulumi CLI reads it; else None."""
    match = _STACK_FILE.fullmatch(stack_file.name)
    return match.group(1) if match else None


def stack_file_path(project_dir: Path, stack: str) -> Path:
    project = load_project(project_dir)
    config_dir = project_dir / str(project.get("stackConfigDir", "."))
    return config_dir / f"Pulumi.{stack}.yaml"


def load_stack(project_dir: Path, stack: str, stack_file: Path | None = None,
               program_dir: Path | None = None) -> StackInput:
    """The config a program of `project_dir` would see for `stack` (from `stack_file` if given)."""
    check_stack_name(stack)
    project = load_project(project_dir)
    name = project["name"]
    path = stack_file or stack_file_path(project_dir, stack)
    if not is_file(path):
        known = sorted(p.name for p in path.parent.glob("Pulumi.*.yaml"))
        raise ProjectError(f"{path}: no such stack file; stack files here: {', '.join(known) or 'none'}")
    document = _read_yaml(path) or {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise ProjectError(f"{path}: expected a mapping with a 'config' mapping")
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, spec in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            config[full_key] = _as_cli_string(spec.get("value", spec.get("default")))
        elif not isinstance(spec, dict):
            config[full_key] = _as_cli_string(spec)
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        if _contains_secure(value):
            secret_keys.add(full_key)
            value = _mask_secure(value)
        config[full_key] = _as_cli_string(value)
    main = program_dir or project_dir / str(project.get("main", "."))
    return StackInput(name, project_dir, main, stack, config, tuple(sorted(secret_keys)))


def _read_yaml(path: Path) -> Any:
    try:
        return read_yaml(path)
    except InputError as exc:
        raise ProjectError(str(exc)) from None


def _as_cli_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _contains_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_contains_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secure(v) for v in value)
    return False


def _mask_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _mask_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secure(v) for v in value]
    return value
