"""`promote`: pin the newest approved package version where the target environment deploys from.

Push path (deploy target `sagemaker`, delivery `push`): the model's `deploy.approvedVersion` in
`stacks/Pulumi.<env>.yaml`.
Pull path (deploy target `kubernetes`, or `sagemaker` with delivery `pull`): what Argo CD serves is the overlay,
so the one line of the model's overlay under `gitops/<env>/<model>/`
that carries the marker comment `# mlops:approvedVersion` (for example
`  value: "3" # mlops:approvedVersion` in a kustomize patch); its last integer is the version.

Exactly one line changes; comments, order and spacing stay as written. The value's position comes from the
YAML parser's own marks, not from a pattern, so a shadow variant's `approvedVersion` or a comment that
mentions the key cannot be hit by mistake. The new text is checked to parse to the old document with that one
value changed, then written atomically (temporary file, fsync, rename): a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.config import KubernetesDeploy, SageMakerDeploy
from infra.core.files import write_atomically
from infra.release import registry, stacks
from infra.release.aws import Aws
from infra.release.errors import EXIT_VERDICT, ReleaseError, UsageError
from infra.release.outcome import Outcome

GITOPS_MARKER = "mlops:approvedVersion"
_MARKED_LINE = re.compile(
    r"^(?P<head>.*?)(?P<version>\d+)(?P<tail>[\"']?\s*#\s*" + re.escape(GITOPS_MARKER) + r"\b.*)$"
)


@dataclass(frozen=True)
class Pin:
    """Where a version is pinned: file, 1-based line, and the character span of the number on that line."""

    file: Path
    line: int
    start: int
    end: int
    version: int


def run(project_dir: Path, model: str, environment: str) -> Outcome:
    if environment not in stacks.known_stacks(project_dir):
        raise UsageError(f"--to {environment}: unknown environment; stacks: "
                         f"{', '.join(stacks.known_stacks(project_dir))}")
    target = stacks.load(project_dir, environment)
    if target.config.kind != "environment":
        raise UsageError(f"--to {environment}: the {target.config.kind} stack serves nothing; promote to an "
                         f"environment stack")
    deploy = target.model(model).deploy
    if isinstance(deploy, SageMakerDeploy) and deploy.delivery == "push":
        pin = stack_file_pin(target.file, model)
    elif isinstance(deploy, KubernetesDeploy | SageMakerDeploy):  # Argo CD serves what the overlay says
        pin = gitops_pin(project_dir, environment, model)
    else:
        raise UsageError(f"--model {model}: not served in {environment} (deploy target 'none'); nothing to pin")
    shared = stacks.load_shared(project_dir)
    group = shared.naming.package_group(model)
    package = registry.newest(Aws(shared.config.region), group, "Approved")
    out = Outcome("promote", data={"model": model, "environment": environment,
                                   "target": deploy.target,
                                   "delivery": getattr(deploy, "delivery", "pull"), "file": str(pin.file),
                                   "line": pin.line,
                                   "from": pin.version})
    if package is None:
        out.exit_code = EXIT_VERDICT
        out.data.update(to=None, changed=False, package=None)
        out.say(f"no Approved package in {group}: nothing to promote to {environment}")
        return out
    out.data.update(to=package.version, package=package.to_json())
    lineage = f"git commit {package.git_commit}, data snapshot {package.data_snapshot}"
    relative = _relative(pin.file, project_dir)
    if pin.version == package.version:
        out.data["changed"] = False
        out.say(f"{model} v{package.version} is already pinned in {relative}:{pin.line}; nothing to change")
        out.say(f"  {lineage}")
        return out
    write_pin(pin, package.version)
    out.data["changed"] = True
    out.say(f"pinned {model} v{package.version} in {relative}:{pin.line} (was v{pin.version})")
    out.say(f"  {package.arn}")
    out.say(f"  {lineage}")
    return out


def _relative(path: Path, root: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(root.resolve()))
    return str(path)


def stack_file_pin(path: Path, model: str) -> Pin:
    """The span of `config: mlops:models: <model>: deploy: approvedVersion:` in a stack file."""
    text = path.read_text()
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({exc})") from None
    node = root
    for key in ("config", "mlops:models", model, "deploy", "approvedVersion"):
        node = _child(node, key)
        if node is None:
            raise UsageError(f"{path}: no config.mlops:models.{model}.deploy.approvedVersion to pin")
    if not isinstance(node, yaml.ScalarNode) or not re.fullmatch(r"\d+", node.value or ""):
        raise UsageError(f"{path}: {model}.deploy.approvedVersion is {node.value!r}, expected a whole number")
    start, end = node.start_mark, node.end_mark
    if start.line != end.line:
        raise UsageError(f"{path}: {model}.deploy.approvedVersion spans several lines; write it on one line")
    line_text = text.splitlines()[start.line]
    literal = line_text[start.column:end.column]
    offset = literal.index(node.value)  # a quoted "3" keeps its quotes
    return Pin(path, start.line + 1, start.column + offset, start.column + offset + len(node.value), int(node.value))


def _child(node: Any, key: str) -> Any:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def gitops_pin(project_dir: Path, environment: str, model: str) -> Pin:
    """The one line marked `# mlops:approvedVersion` in the model's overlay `gitops/<env>/<model>/`."""
    folder = project_dir / "gitops" / environment / model
    if not folder.is_dir():
        raise UsageError(f"no gitops overlay {folder} for {model} in {environment} (pull path)")
    found: list[Pin] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if GITOPS_MARKER not in line:
                continue
            match = _MARKED_LINE.match(line)
            if match is None:
                raise UsageError(f"{path}:{number}: a line marked '# {GITOPS_MARKER}' must hold the version "
                                 f"as the last number before the marker")
            found.append(Pin(path, number, match.start("version"), match.end("version"), int(match["version"])))
    if len(found) != 1:
        where = ", ".join(f"{p.file}:{p.line}" for p in found) or "none"
        raise UsageError(f"{folder}: expected exactly one line marked '# {GITOPS_MARKER}', found {where}")
    return found[0]


def write_pin(pin: Pin, version: int) -> None:
    """Replace the number at `pin` and write the file atomically; nothing else in the file changes."""
    original = pin.file.read_text()
    lines = original.splitlines(keepends=True)
    line = lines[pin.line - 1]
    lines[pin.line - 1] = line[: pin.start] + str(version) + line[pin.end:]
    updated = "".join(lines)
    _check_one_value_changed(pin, original, updated, version)
    try:
        write_atomically(pin.file, updated)
    except OSError as exc:
        raise ReleaseError(f"{pin.file}: cannot write ({exc.strerror or exc}); the file is unchanged") from None


def _check_one_value_changed(pin: Pin, original: str, updated: str, version: int) -> None:
    """Guard against an edit that would change more than the one value (or break the YAML)."""
    try:
        before, after = yaml.safe_load(original), yaml.safe_load(updated)
    except yaml.YAMLError as exc:  # pragma: no cover - the span came from the parser
        raise UsageError(f"{pin.file}: the edit would not parse ({exc}); nothing written") from None
    if before == after and pin.version != version:
        raise UsageError(f"{pin.file}:{pin.line}: the marked number is not part of the YAML data; nothing written")
    if _without_line(original, pin.line) != _without_line(updated, pin.line):  # pragma: no cover
        raise UsageError(f"{pin.file}: more than one line would change; nothing written")


def _without_line(text: str, line: int) -> list[str]:
    lines = text.splitlines()
    return lines[: line - 1] + lines[line:]


