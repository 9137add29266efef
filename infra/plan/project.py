"""Reads a Pulumi project and a stack file the way the CLI does, into the flat config map a program sees.

Project config defaults from `Pulumi.yaml` come first, the stack file's values override them; structured
values are passed as JSON text and scalars as strings, as the CLI passes them. Encrypted (`secure:`)
values cannot be decrypted offline: they become a placeholder and are marked secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.plan.model import SECRET_PLACEHOLDER


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


def stack_file_path(project_dir: Path, stack: str) -> Path:
    project = load_project(project_dir)
    config_dir = project_dir / str(project.get("stackConfigDir", "."))
    return config_dir / f"Pulumi.{stack}.yaml"


def load_stack(project_dir: Path, stack: str, stack_file: Path | None = None,
               program_dir: Path | None = None) -> StackInput:
    """The config a program of `project_dir` would see for `stack` (from `stack_file` if given)."""
    project = load_project(project_dir)
    name = project["name"]
    path = stack_file or stack_file_path(project_dir, stack)
    if not path.is_file():
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
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML ({exc})") from None


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
