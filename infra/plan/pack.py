"""Loading a CrossGuard policy pack as the Pulumi CLI does, without starting its gRPC server.

The CLI runs a Python pack's `__main__.py` with the pack directory on sys.path; the pack constructs one
`PolicyPack(...)`, which would start serving. Here the constructor is swapped for one that captures its
arguments, so the offline verdict (infra.plan.verdict) can drive the pack's own analyzer servicer in-process.
"""

from __future__ import annotations

import inspect
import re
import runpy
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi_policy
import pulumi_policy.policy as pulumi_policy_module
from pulumi_policy import EnforcementLevel, Policy, StackValidationPolicy

from infra.plan.inputs import InputError, read_yaml

__all__ = ["LoadedPack", "PackLoadError", "PolicyMeta", "load_pack"]

_PACK_NAME = re.compile(r"^[a-zA-Z0-9-_.]{1,100}$")
_LOAD_LOCK = threading.Lock()


class PackLoadError(Exception):
    """The directory is not a loadable Python policy pack."""


@dataclass(frozen=True)
class PolicyMeta:
    """What the pack declares about one rule (for config validation, reports and docs)."""

    name: str
    description: str
    kind: str  # "resource" | "stack"
    severity: str
    remediation: str
    default_enforcement: str
    knobs: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedPack:
    """A policy pack loaded from its directory, without starting its gRPC server."""

    directory: Path
    name: str
    version: str
    policies: tuple[Policy, ...]
    enforcement_level: EnforcementLevel
    initial_config: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def meta(self) -> dict[str, PolicyMeta]:
        return {p.name: _meta(p, self.enforcement_level) for p in self.policies}

    def servicer(self) -> Any:
        """A fresh analyzer servicer: what the CLI's gRPC calls reach in the pack's process."""
        return pulumi_policy_module._PolicyAnalyzerServicer(
            self.name,
            self.version,
            list(self.policies),
            self.enforcement_level,
            dict(self.initial_config) if self.initial_config is not None else None,
            self.options.get("description"),
            self.options.get("display_name"),
            self.options.get("readme"),
            self.options.get("provider"),
            self.options.get("tags"),
            self.options.get("repository"),
        )


def _meta(policy: Policy, pack_level: EnforcementLevel) -> PolicyMeta:
    schema = policy.config_schema
    level = policy.enforcement_level or pack_level
    return PolicyMeta(
        name=policy.name,
        description=policy.description,
        kind="stack" if isinstance(policy, StackValidationPolicy) else "resource",
        severity=policy.severity.value if policy.severity is not None else "unspecified",
        remediation=policy.remediation_steps or "",
        default_enforcement=level.value,
        knobs=dict(schema.properties) if schema is not None else {},
        required=tuple(schema.required or ()) if schema is not None else (),
        tags=tuple(policy.tags or ()),
    )


def load_pack(pack_dir: Path) -> LoadedPack:
    """Load a Python policy pack as the CLI does (run its `__main__.py` with the pack directory on sys.path),
    capturing the `PolicyPack(...)` arguments instead of starting the pack's gRPC server."""
    directory = Path(pack_dir).resolve()
    manifest = directory / "PulumiPolicy.yaml"
    if not manifest.is_file():
        raise PackLoadError(f"{directory} is not a policy pack: PulumiPolicy.yaml is missing")
    if not (directory / "__main__.py").is_file():
        raise PackLoadError(f"{directory} is not a Python policy pack: __main__.py is missing")
    try:  # bounded, UTF-8, strict YAML (see infra.plan.inputs): a binary or hostile manifest is one clear error
        project = read_yaml(manifest) or {}
    except InputError as exc:
        raise PackLoadError(str(exc)) from None
    if not isinstance(project, dict):
        raise PackLoadError(f"{manifest}: must be a YAML mapping (name, runtime, version)")
    runtime = project.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise PackLoadError(f"{manifest}: runtime is {runtime_name!r}; only Python packs can be run offline")
    # Like the CLI, a version in PulumiPolicy.yaml wins over the "0.0.1" a Python pack reports itself.
    version = str(project.get("version") or "0.0.1")

    captured: list[dict[str, Any]] = []

    signature = inspect.signature(pulumi_policy_module.PolicyPack.__init__)

    class _CapturedPolicyPack:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                raise PackLoadError(f"{directory}/__main__.py: PolicyPack(...) {exc}") from exc
            captured.append({k: v for k, v in bound.arguments.items() if k != "self"})

    with _LOAD_LOCK:
        modules_before = set(sys.modules)
        originals = (pulumi_policy.PolicyPack, pulumi_policy_module.PolicyPack)
        pulumi_policy.PolicyPack = pulumi_policy_module.PolicyPack = _CapturedPolicyPack  # type: ignore[misc]
        try:
            runpy.run_path(str(directory), run_name="__main__")
        except PackLoadError:
            raise
        except Exception as exc:
            raise PackLoadError(
                f"policy pack {directory} failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            pulumi_policy.PolicyPack, pulumi_policy_module.PolicyPack = originals  # type: ignore[misc]
            _forget_modules_under(directory, set(sys.modules) - modules_before)

    if len(captured) != 1:
        raise PackLoadError(
            f"{directory}/__main__.py must construct exactly one PolicyPack, built {len(captured)}"
        )
    args = captured[0]
    return _validated_pack(directory, version, args)


def _forget_modules_under(directory: Path, names: Iterable[str]) -> None:
    """Drop the pack's own modules (e.g. its top-level `rules` package) so that another pack can load."""
    for name in names:
        module_file = getattr(sys.modules.get(name), "__file__", None)
        if module_file and Path(module_file).resolve().is_relative_to(directory):
            del sys.modules[name]


def _validated_pack(directory: Path, version: str, args: dict[str, Any]) -> LoadedPack:
    # The checks PolicyPack.__init__ makes before it starts serving.
    name, policies = args.pop("name"), args.pop("policies")
    if not isinstance(name, str) or not _PACK_NAME.match(name):
        raise PackLoadError(f"invalid policy pack name {name!r}")
    if not isinstance(policies, list) or not policies or not all(isinstance(p, Policy) for p in policies):
        raise PackLoadError(f"policy pack {name!r}: policies must be a non-empty list of Policy objects")
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PackLoadError(f"policy pack {name!r}: duplicate policy names {duplicates}")
    level = args.pop("enforcement_level", None) or EnforcementLevel.ADVISORY
    if not isinstance(level, EnforcementLevel):
        raise PackLoadError(f"policy pack {name!r}: enforcement_level must be an EnforcementLevel")
    initial_config = args.pop("initial_config", None)
    return LoadedPack(
        directory=directory,
        name=name,
        version=version,
        policies=tuple(policies),
        enforcement_level=level,
        initial_config=initial_config,
        options=args,
    )
