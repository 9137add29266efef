"""`promote`: pin the newest approved package version where the target environment deploys from.

Push path (deploy target `sagemaker`, delivery `push`): the model's `deploy.approvedVersion` in
`stacks/Pulumi.<env>.yaml`.
Pull path (deploy target `kubernetes`, or `sagemaker` with delivery `pull`): what Argo CD serves is the overlay,
so the one line of the model's overlay under `gitops/<env>/<model>/`
that carries the marker comment `# mlops:approvedVersion` (for example
`  value: "3" # mlops:approvedVersion` in a kustomize patch); its last integer is the version.

Exactly the digits of one value change, byte for byte elsewhere (CRLF line ends, a missing final newline, other
Unicode line separators all stay). The value's position comes from the YAML parser's own marks, not from a
pattern, so a shadow variant's `approvedVersion` or a comment that mentions the key cannot be hit by mistake.
The tool refuses, with the reason, rather than change anything else:
* an alias (`approvedVersion: *v`) or an anchor used elsewhere: editing would change another key;
* a marker not preceded by a space (`"3"#mlops:approvedVersion`): it is not a YAML comment but part of the value;
* a pinned version newer than the newest Approved one: a promotion never downgrades (roll back by hand);
* a package that the list shows Approved but DescribeModelPackage no longer does (state re-checked at decision).
The new text is checked to parse to the old document with exactly that one value changed, then written
atomically (temporary file, fsync, rename) to the file itself: a symlinked stack file stays a symlink, and a
reader never sees half a file.
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
from infra.plan import inputs
from infra.release import registry, stacks
from infra.release.aws import Aws
from infra.release.errors import EXIT_VERDICT, ReleaseError, UsageError
from infra.release.outcome import Outcome

APPROVED = "Approved"

GITOPS_MARKER = "mlops:approvedVersion"
_MARKED_LINE = re.compile(  # the marker must be a YAML comment: whitespace before `#`
    r"^(?P<head>[^\n]*?)(?P<version>\d+)(?P<tail>[\"']?[ \t]+#[ \t]*" + re.escape(GITOPS_MARKER) + r"\b[^\n]*)$",
    re.MULTILINE,
)
_ANY_MARKER = re.compile(r"^[^\n]*" + re.escape(GITOPS_MARKER) + r"[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class Pin:
    """Where a version is pinned: file, 1-based line, the character span of the number in the whole text, and
    (stack files) the key path of the value."""

    file: Path
    line: int
    start: int
    end: int
    version: int
    path: tuple[str, ...] | None = None


def run(project_dir: Path, model: str, environment: str) -> Outcome:
    if environment not in stacks.known_stacks(project_dir):
        raise UsageError(f"--to {environment}: unknown environment; stacks: "
                         f"{', '.join(stacks.known_stacks(project_dir))}")
    target = stacks.load(project_dir, environment)
    if target.config.kind != "environment":
        raise UsageError(f"--to {environment}: the {target.config.kind} stack serves nothing; promote to an "
                         f"environment stack")
    deploy = target.model(model).deploy
    pin = locate_pin(project_dir, target, model)
    shared = stacks.load_shared(project_dir)
    group = shared.naming.package_group(model)
    package = registry.newest(Aws(shared.config.region), group, APPROVED)
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
    relative = _relative(pin.file, project_dir)
    if package.status != APPROVED:  # the list and the package disagree: the package's own state decides
        out.exit_code = EXIT_VERDICT
        out.data["changed"] = False
        out.say(f"{group} v{package.version} is listed as Approved but is {package.status} now; nothing pinned in "
                f"{relative}")
        return out
    lineage = f"git commit {package.git_commit}, data snapshot {package.data_snapshot}"
    if pin.version == package.version:
        out.data["changed"] = False
        out.say(f"{model} v{package.version} is already pinned in {relative}:{pin.line}; nothing to change")
        out.say(f"  {lineage}")
        return out
    if pin.version > package.version:
        out.exit_code = EXIT_VERDICT
        out.data["changed"] = False
        out.say(f"{relative}:{pin.line} pins {model} v{pin.version}, newer than the newest Approved v"
                f"{package.version}; promotion never downgrades (roll back by editing the pin yourself)")
        return out
    write_pin(pin, package.version)
    out.data["changed"] = True
    out.say(f"pinned {model} v{package.version} in {relative}:{pin.line} (was v{pin.version})")
    out.say(f"  {package.arn}")
    out.say(f"  {lineage}")
    return out


def locate_pin(project_dir: Path, target: stacks.Stack, model: str) -> Pin:
    """Where `promote` pins `model` in the environment `target`: the stack file on the push path, the marked
    line of the overlay on the pull path. Bad input (exit 2) when the model is not served there or has no pin."""
    deploy = target.model(model).deploy
    if isinstance(deploy, SageMakerDeploy) and deploy.delivery == "push":
        return stack_file_pin(target.file, model)
    if isinstance(deploy, KubernetesDeploy | SageMakerDeploy):  # Argo CD serves what the overlay says
        return gitops_pin(project_dir, target.name, model)
    raise UsageError(f"--model {model}: not served in {target.name} (deploy target 'none'); nothing to pin")


def _relative(path: Path, root: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(root.resolve()))
    return str(path)


def _read(path: Path) -> str:
    """The file's exact text (no newline translation) through the project's strict reader."""
    try:
        return inputs.read_text(path)
    except inputs.InputError as exc:
        raise UsageError(str(exc)) from None


def stack_file_pin(path: Path, model: str) -> Pin:
    """The span of `config: mlops:models: <model>: deploy: approvedVersion:` in a stack file."""
    text = _read(path)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    keys = ("config", "mlops:models", model, "deploy", "approvedVersion")
    where = f"{path}: config.mlops:models.{model}.deploy.approvedVersion"
    node, key = root, None
    for name in keys:
        key, node = _child(node, name)
        if node is None:
            raise UsageError(f"{where}: not found; nothing to pin")
    if not isinstance(node, yaml.ScalarNode) or not re.fullmatch(r"\d+", node.value or ""):
        value = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__
        raise UsageError(f"{where} is {value!r}, expected a whole number")
    between = text[key.end_mark.index:node.start_mark.index]
    if not re.fullmatch(r"[ \t]*:[ \t]*(&[^\s]+[ \t]+)?", between):
        raise UsageError(f"{where} is an alias of a value written elsewhere (line {node.start_mark.line + 1}); "
                         f"write the number itself on that line")
    literal = text[node.start_mark.index:node.end_mark.index]
    quote = 1 if literal[-1:] in ("'", '"') else 0
    end = node.end_mark.index - quote
    start = end - len(node.value)
    if text[start:end] != node.value or "\n" in literal:
        raise UsageError(f"{where} is not written as one plain number on one line; write it so")
    return Pin(path, node.start_mark.line + 1, start, end, int(node.value), keys)


def _child(node: Any, key: str) -> tuple[Any, Any]:
    if not isinstance(node, yaml.MappingNode):
        return None, None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None, None


def gitops_pin(project_dir: Path, environment: str, model: str) -> Pin:
    """The one line marked `# mlops:approvedVersion` in the model's overlay `gitops/<env>/<model>/`."""
    folder = project_dir / "gitops" / environment / model
    if not folder.is_dir():
        raise UsageError(f"no gitops overlay {folder} for {model} in {environment} (pull path)")
    found: list[Pin] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        text = _read(path)
        for marked in _ANY_MARKER.finditer(text):
            number = text.count("\n", 0, marked.start()) + 1
            match = _MARKED_LINE.match(text, marked.start(), marked.end())
            if match is None:
                raise UsageError(f"{path}:{number}: a line marked '# {GITOPS_MARKER}' must hold the version as the "
                                 f"last number before the marker, and the marker must be a comment (a space "
                                 f"before '#')")
            found.append(Pin(path, number, match.start("version"), match.end("version"), int(match["version"])))
    if len(found) != 1:
        where = ", ".join(f"{p.file}:{p.line}" for p in found) or "none"
        raise UsageError(f"{folder}: expected exactly one line marked '# {GITOPS_MARKER}', found {where}")
    return found[0]


def write_pin(pin: Pin, version: int) -> None:
    """Replace the number at `pin` and write the file atomically; nothing else in the file changes."""
    original = _read(pin.file)
    updated = original[: pin.start] + str(version) + original[pin.end:]
    _check_one_value_changed(pin, original, updated, version)
    target = pin.file.resolve()  # a symlinked file is written where it points: the link stays a link
    try:
        write_atomically(target, updated)
    except OSError as exc:
        raise ReleaseError(f"{pin.file}: cannot write ({exc.strerror or exc}); the file is unchanged") from None


def _check_one_value_changed(pin: Pin, original: str, updated: str, version: int) -> None:
    """The edit must change exactly one value of the YAML data: the one meant (an anchor shared with another key,
    a number inside a longer token, or a number outside the data are refused)."""
    try:
        before = inputs.loads_yaml(original, str(pin.file))
        after = inputs.loads_yaml(updated, str(pin.file))
    except inputs.InputError as exc:
        raise UsageError(f"{exc}; nothing written") from None
    changed = list(_changed_leaves(before, after, ()))
    if not changed:
        raise UsageError(f"{pin.file}:{pin.line}: the marked number is not part of the YAML data; nothing written")
    if len(changed) > 1 or (pin.path is not None and changed[0] != pin.path):
        paths = ", ".join(".".join(map(str, c)) for c in changed[:4])
        raise UsageError(f"{pin.file}:{pin.line}: changing this number would change {paths} (an anchor used "
                         f"elsewhere?); nothing written")


def _changed_leaves(before: Any, after: Any, path: tuple[Any, ...]) -> Any:
    """The paths at which two parsed documents differ."""
    if isinstance(before, dict) and isinstance(after, dict) and before.keys() == after.keys():
        for key in before:
            yield from _changed_leaves(before[key], after[key], (*path, key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _changed_leaves(b, a, (*path, index))
    elif before != after or type(before) is not type(after):
        yield path


