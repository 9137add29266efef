"""What the release tool knows about a stack without the Pulumi CLI: its validated config and its names.

The stack file is read exactly as `python -m infra.plan` reads it (`infra.plan.project`: `Pulumi.yaml`
defaults, then `stacks/Pulumi.<stack>.yaml`), validated by the program's own `parse_stack_config`, and names
come from the program's own `Naming`. So a name the tool looks up is the name `pulumi up` gave the resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import ConfigError, Model, StackConfig, Training, parse_stack_config
from infra.core.naming import Naming
from infra.core.outputs import EnvironmentOutputs, SharedOutputs
from infra.plan import inputs
from infra.plan.project import ProjectError, load_project, load_stack, stack_file_path
from infra.release.errors import UsageError


@dataclass(frozen=True)
class Stack:
    """One stack: its name, validated config, naming, and the file promotion edits."""

    name: str
    config: StackConfig
    naming: Naming
    file: Path

    def model(self, model: str) -> Model:
        if model not in self.config.models:
            known = ", ".join(sorted(self.config.models)) or "none"
            raise UsageError(f"--model {model}: not a model of stack {self.name!r} ({self.file}); models: {known}")
        return self.config.models[model]


def known_stacks(project_dir: Path) -> list[str]:
    try:
        folder = stack_file_path(project_dir, "x").parent
    except ProjectError as exc:
        raise UsageError(str(exc)) from None
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in folder.glob("Pulumi.*.yaml"))


def load(project_dir: Path, stack: str) -> Stack:
    """The stack's validated config; an unknown stack or an invalid file is bad input (exit 2)."""
    try:
        project = load_project(project_dir)
        path = stack_file_path(project_dir, stack)
        if not path.is_file():
            raise UsageError(
                f"unknown stack {stack!r}: no {path}; stacks: {', '.join(known_stacks(project_dir)) or 'none'}"
            )
        raw = load_stack(project_dir, stack).config
    except ProjectError as exc:
        raise UsageError(str(exc)) from None
    try:
        config = parse_stack_config(raw)
    except ConfigError as exc:
        raise UsageError(f"{path}: " + "; ".join(exc.problems)) from None
    return Stack(stack, config, Naming(project=project["name"], stack=stack), path)


def load_shared(project_dir: Path) -> Stack:
    """The shared stack: the one stack file whose `mlops:kind` is `shared` (registries, training), which must be
    the stack every environment names in `mlops:sharedStack` (`Naming.of_stack`, as the program reads it)."""
    known = known_stacks(project_dir)
    shared = [s for s in known if _kind(project_dir, s) == "shared"]
    if len(shared) != 1:
        raise UsageError(
            f"expected exactly one stack file with mlops:kind 'shared' in {project_dir}, found "
            f"{', '.join(shared) or 'none'}"
        )
    for name in known:
        if name != shared[0] and _kind(project_dir, name) == "environment":
            named = Naming.of_stack(load(project_dir, name).config.shared_stack).stack
            if named != shared[0]:
                raise UsageError(f"stack {name!r}: mlops:sharedStack names {named!r}, but the shared stack file is "
                                 f"{shared[0]!r}; rename both together")
    return load(project_dir, shared[0])


def _kind(project_dir: Path, stack: str) -> str:
    try:
        return load_stack(project_dir, stack).config.get("mlops:kind", "environment")
    except ProjectError:
        return "unknown"


def training_of(shared: Stack, model: str) -> Training:
    training = shared.model(model).training
    if training is None:  # pragma: no cover - parse_stack_config requires it in a shared stack
        raise UsageError(f"--model {model}: the shared stack does not train it")
    return training


def read_outputs(path: Path | None) -> dict[str, Any] | None:
    """The JSON of `pulumi stack output --json [--show-secrets]`, or None when no file was given; read by the
    project's strict reader (size cap, UTF-8, no duplicate keys, bounded depth)."""
    if path is None:
        return None
    try:
        data = inputs.read_json(path, f"--outputs {path}")
    except inputs.InputError as exc:
        raise UsageError(str(exc)) from None
    if not isinstance(data, dict):
        raise UsageError(f"--outputs {path}: expected the JSON object of `pulumi stack output --json`")
    return data


def environment_outputs(path: Path | None) -> EnvironmentOutputs[Any] | None:
    return _outputs(path, EnvironmentOutputs, "an environment stack")


def shared_outputs(path: Path | None) -> SharedOutputs[Any] | None:
    return _outputs(path, SharedOutputs, "the shared stack")


def _outputs(path: Path | None, declared: Any, whose: str) -> Any:
    """`--outputs FILE` read into the declared output structure, or one usage error naming the expected keys."""
    data = read_outputs(path)
    if data is None:
        return None
    for key in MAPPING_OUTPUTS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise UsageError(f"--outputs {path}: not the outputs of {whose}: {key} is "
                             f"{type(data[key]).__name__}, expected an object")
    try:
        parsed = declared.from_wire(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise UsageError(
            f"--outputs {path}: not the outputs of {whose} (missing or malformed {exc}); "
            f"expected keys: {', '.join(declared.wire_keys())}"
        ) from None
    _check_values(parsed.to_wire(), f"--outputs {path}", "")
    return parsed


MAPPING_OUTPUTS = ("endpoints", "pinnedVersions", "models", "gitopsApplications")
"""Outputs that are objects keyed by model."""
OPTIONAL_OUTPUTS = {"alarmTopicArn", "gitopsApplications", "ciReleaseRoleArn", "mlflowTrackingServerArn"}
"""Outputs a stack may leave unset (no alarm topic, no cluster, no tracking server)."""
OPTIONAL_MODEL_OUTPUTS = {"servingImageUri", "retrainGuardArn"}
"""Per-model outputs a shared stack deployed before they existed does not have."""


def _check_values(value: Any, where: str, key: str) -> None:
    """Every value the tool may use is what the stack exports: a name or ARN is non-empty text, never the
    `[secret]` that `pulumi stack output` prints without --show-secrets; a pinned version a whole number."""
    if isinstance(value, dict):
        for name, item in value.items():
            _check_values(item, where, f"{key}.{name}" if key else str(name))
        return
    top = key.split(".", 1)[0]
    if value is None and (top in OPTIONAL_OUTPUTS
                          or (top == "models" and key.rsplit(".", 1)[-1] in OPTIONAL_MODEL_OUTPUTS)):
        return
    if top == "pinnedVersions":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{where}: {key} is {value!r}; expected a version number >= 1")
        return
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: {key} is {value!r}; expected a non-empty name or ARN")
    if value == "[secret]":
        raise UsageError(f"{where}: {key} is '[secret]'; write the file with `pulumi stack output --json "
                         f"--show-secrets`")
