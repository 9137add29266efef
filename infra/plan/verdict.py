"""The offline policy verdict: run a CrossGuard policy pack over a plan exactly as `pulumi preview` would.

The Pulumi CLI talks to a Python policy pack over gRPC: it asks for the pack's info (`GetAnalyzerInfo`),
reconciles the `--policy-pack-config` file with the pack's defaults and sends it (`Configure`), then sends
every registered resource (`Analyze`, with the resource's inputs) and finally the whole stack
(`AnalyzeStack`, with each resource's planned outputs, parent and dependencies). This module makes the same
calls, with the same protobuf request messages, on the pack's own `_PolicyAnalyzerServicer` from
pulumi_policy, in-process and without a gRPC server. Config handling, enforcement levels, not-applicable
results, unknown values, secrets and property (de)serialization are therefore pulumi_policy's own code, and
the verdict is the one the CLI would give.

What is sent, mirroring the engine (pkg/resource/deploy/step_generator.go, analyzer_plugin.go):

* `Analyze` for every planned resource in registration order: custom resources, component resources,
  providers and the root stack alike (the engine applies no custom-only filter), with `inputs` as the
  properties, the resource options (protect, ignoreChanges, deleteBeforeReplace, parent, custom timeouts)
  and its provider (type, name, URN and the provider resource's inputs). Top-level inputs listed in
  `secret_keys` travel as secrets, as with `KeepSecrets`; the pack sees their plain values, like under the
  CLI. A provider that the plan does not contain (e.g. an engine-made default provider) is not sent.
* `AnalyzeStack` once, with every resource's planned state (`outputs` over `inputs`), parent,
  dependencies and property dependencies (empty ones skipped, as the engine does).

Policy config (`--policy-pack-config` format, `{"all": level, "<rule>": level | {"enforcementLevel": ..,
"<knob>": ..}}`) is reconciled as the CLI does (schema defaults, then the pack's initial config, then the
file: "all" first, then each rule), but validated more strictly: an unknown rule name, an unknown key or
a wrongly typed value is an error here, where the CLI would silently ignore the first two.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import runpy
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pulumi_policy
import pulumi_policy.policy as pulumi_policy_module
import yaml
from google.protobuf import struct_pb2
from pulumi.output import Unknown as OutputUnknown
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, Policy, StackValidationPolicy
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, serialize_properties

from infra.plan.inputs import InputError, loads_json, read_text
from infra.plan.model import PlannedResource, PlanResult

__all__ = [
    "ENFORCEMENT_LEVELS",
    "LoadedPack",
    "PackLoadError",
    "PolicyConfigError",
    "PolicyMeta",
    "PolicyRunError",
    "Violation",
    "default_policy_config_path",
    "evaluate",
    "has_mandatory",
    "load_pack",
    "load_policy_config",
]

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
"""The enforcement levels a policy config may name (apitype.EnforcementLevel in the CLI)."""

_UNKNOWN_WIRE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine marshals an unknown value
_PACK_NAME = re.compile(r"^[a-zA-Z0-9-_.]{1,100}$")
_LOAD_LOCK = threading.Lock()

_TO_PROTO = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
_FROM_PROTO = {v: k for k, v in _TO_PROTO.items()}
_SEVERITY = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}


class PackLoadError(Exception):
    """The directory is not a loadable Python policy pack."""


class PolicyConfigError(Exception):
    """An invalid policy config; the message names the file, rule or key, value and what is allowed."""

    def __init__(self, path: Path | str | None, problems: Sequence[str]) -> None:
        self.path = str(path) if path is not None else None
        self.problems = list(problems)
        where = self.path or "policy config"
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid policy config {where}:\n{lines}")


class PolicyRunError(RuntimeError):
    """A rule raised while analyzing (the CLI would fail the preview with 'failed to run policy')."""


@dataclass(frozen=True)
class Violation:
    """One diagnostic of the pack, as the CLI would print it."""

    policy_name: str
    enforcement: str  # "mandatory" | "advisory" | "remediate"
    urn: str | None
    resource_name: str | None
    message: str
    description: str
    remediation: str
    severity: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy_name,
            "enforcement": self.enforcement,
            "severity": self.severity,
            "urn": self.urn,
            "resource": self.resource_name,
            "message": self.message,
            "description": self.description,
            "remediation": self.remediation,
        }


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


# --- loading the pack ---------------------------------------------------------------------------------


def load_pack(pack_dir: Path) -> LoadedPack:
    """Load a Python policy pack as the CLI does (run its `__main__.py` with the pack directory on sys.path),
    capturing the `PolicyPack(...)` arguments instead of starting the pack's gRPC server."""
    directory = Path(pack_dir).resolve()
    manifest = directory / "PulumiPolicy.yaml"
    if not manifest.is_file():
        raise PackLoadError(f"{directory} is not a policy pack: PulumiPolicy.yaml is missing")
    if not (directory / "__main__.py").is_file():
        raise PackLoadError(f"{directory} is not a Python policy pack: __main__.py is missing")
    try:
        project = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PackLoadError(f"{manifest}: not valid YAML ({exc})") from exc
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


# --- policy config ------------------------------------------------------------------------------------


def default_policy_config_path(pack_dir: Path, environment: str) -> Path:
    """The policy config of an environment: `<pack>/config/<environment>.json`."""
    return Path(pack_dir) / "config" / f"{environment}.json"


def load_policy_config(pack: LoadedPack, path: Path | None) -> dict[str, dict[str, Any]]:
    """Read, strictly validate and reconcile a policy config file (None: the pack's defaults only).

    Returns, for every rule of the pack, `{"enforcementLevel": <level>, <knob>: <value>, ...}` with the
    schema defaults filled in, i.e. exactly what the CLI would send to the pack's `Configure`.
    Raises PolicyConfigError naming every problem.
    """
    where = str(path) if path is not None else None
    raw: Any = {}
    if path is not None:
        try:  # bounded, UTF-8, strict JSON (see infra.plan.inputs): a binary or hostile file is one clear error
            text = read_text(Path(path), "file")
            if text.strip():
                raw = loads_json(text, "file")
        except InputError as exc:
            raise PolicyConfigError(where, [str(exc).removeprefix("file: ")]) from None
    if not isinstance(raw, dict):
        raise PolicyConfigError(
            where, [f"must be a JSON object mapping rule names to settings, got {_kind(raw)}"]
        )

    meta = pack.meta
    problems: list[str] = []
    given: dict[str, dict[str, Any]] = {}
    all_level: str | None = None
    for key, value in raw.items():
        if key == "all":
            level = value.get("enforcementLevel") if isinstance(value, dict) else value
            if isinstance(value, dict) and set(value) - {"enforcementLevel"}:
                extra = ", ".join(sorted(set(value) - {"enforcementLevel"}))
                problems.append(
                    f'"all": only an enforcement level may be set for all rules; unknown key(s) {extra}'
                )
            if _valid_level(level):
                all_level = level
            else:
                problems.append(f'"all": {_level_problem(level)}')
            continue
        if key not in meta:
            problems.append(_unknown_rule(key, meta))
            continue
        if isinstance(value, str):
            if _valid_level(value):
                given[key] = {"enforcementLevel": value}
            else:
                problems.append(f'"{key}": {_level_problem(value)}')
            continue
        if not isinstance(value, dict):
            problems.append(
                f'"{key}": must be an enforcement level ({", ".join(ENFORCEMENT_LEVELS)}) or an object, '
                f"got {_kind(value)} {_short(value)}"
            )
            continue
        settings = dict(value)
        if "enforcementLevel" in settings and not _valid_level(settings["enforcementLevel"]):
            problems.append(f'"{key}"."enforcementLevel": {_level_problem(settings["enforcementLevel"])}')
            settings.pop("enforcementLevel")
        knobs = {k: v for k, v in settings.items() if k != "enforcementLevel"}
        problems.extend(_knob_problems(meta[key], knobs, partial=True))
        given[key] = settings
    if problems:
        raise PolicyConfigError(where, problems)

    reconciled = _reconcile(pack, all_level, given)
    for name, settings in reconciled.items():
        knobs = {k: v for k, v in settings.items() if k != "enforcementLevel"}
        problems.extend(_knob_problems(meta[name], knobs, partial=False))
    if problems:
        raise PolicyConfigError(where, problems)
    return reconciled


def _reconcile(
    pack: LoadedPack, all_level: str | None, given: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """ReconcilePolicyPackConfig of the CLI: defaults, then the pack's initial config, then the file."""
    result: dict[str, dict[str, Any]] = {}
    for name, meta in pack.meta.items():
        defaults = {k: schema["default"] for k, schema in meta.knobs.items() if "default" in schema}
        result[name] = {"enforcementLevel": meta.default_enforcement, **json.loads(json.dumps(defaults))}
    layers: list[tuple[str | None, Mapping[str, Mapping[str, Any]]]] = []
    if pack.initial_config:
        layers.append(_initial_layer(pack.initial_config, result))
    layers.append((all_level, given))
    for level_for_all, settings_by_rule in layers:
        if level_for_all is not None:
            for settings in result.values():
                settings["enforcementLevel"] = level_for_all
        for name, settings in settings_by_rule.items():
            result[name].update(settings)
    return result


def _initial_layer(
    initial_config: Mapping[str, Any], known: Mapping[str, Any]
) -> tuple[str | None, dict[str, dict[str, Any]]]:
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


def _level_problem(value: Any) -> str:
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


# --- evaluation ---------------------------------------------------------------------------------------


def evaluate(
    pack: LoadedPack, plan: PlanResult, config: Mapping[str, Mapping[str, Any]], *, analyzer: Any = None
) -> list[Violation]:
    """Every violation the pack reports on the plan under `config` (from load_policy_config).

    Violations come in the CLI's order: resource rules resource by resource, then stack rules.
    Rules whose enforcement is `disabled` do not run. `analyzer` replaces the in-process servicer with
    another implementation of the Analyzer service methods `(request, context) -> response`, e.g. an
    adapter over a gRPC stub of the pack started as the CLI starts it (used by the parity test).
    """
    servicer = analyzer if analyzer is not None else pack.servicer()
    servicer.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=plan.stack, project=plan.project, organization="organization", dry_run=True
        ),
        None,
    )
    servicer.Configure(_configure_request(config), None)

    meta = pack.meta
    by_urn = {r.urn: r for r in plan.resources}
    violations: list[Violation] = []

    for resource in plan.resources:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=_struct(resource.inputs, resource.secret_keys),
            options=_options(resource, for_stack=False),
        )
        provider = _provider(resource, by_urn)
        if provider is not None:
            request.provider.CopyFrom(provider)
        response = _call(pack, servicer.Analyze, request, f"analyzing {resource.urn}")
        # The engine attributes every diagnostic of Analyze to the analyzed resource.
        violations.extend(_violation(d, resource.urn, by_urn, meta) for d in response.diagnostics)

    stack_request = analyzer_pb2.AnalyzeStackRequest(
        resources=[_stack_resource(r, by_urn) for r in plan.resources]
    )
    response = _call(pack, servicer.AnalyzeStack, stack_request, "analyzing the stack")
    violations.extend(_violation(d, d.urn or None, by_urn, meta) for d in response.diagnostics)
    return violations


def has_mandatory(violations: Iterable[Violation]) -> bool:
    """Whether any violation blocks the deployment (exit 1 of `python -m infra.plan`)."""
    return any(v.enforcement == "mandatory" for v in violations)


def _call(pack: LoadedPack, method: Any, request: Any, what: str) -> Any:
    try:
        return method(request, None)
    except Exception as exc:
        raise PolicyRunError(
            f"policy pack '{pack.name}' failed while {what}: {type(exc).__name__}: {exc}"
        ) from exc


def _configure_request(config: Mapping[str, Mapping[str, Any]]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, settings in config.items():
        level = settings.get("enforcementLevel")
        if level is not None and level not in _TO_PROTO:
            raise PolicyConfigError(None, [f'"{name}": {_level_problem(level)}'])
        entry = request.policyConfig[name]
        if level is not None:
            entry.enforcementLevel = _TO_PROTO[level]
        properties = {k: v for k, v in settings.items() if k != "enforcementLevel"}
        if properties:
            entry.properties.update(_wire(properties))
    return request


def _options(resource: PlannedResource, *, for_stack: bool) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect,
        ignoreChanges=list(resource.ignore_changes),
        deleteBeforeReplace=resource.delete_before_replace,
        deleteBeforeReplaceDefined=resource.delete_before_replace,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
        # The engine sets the parent option for Analyze; AnalyzeStack gets it as the resource's parent.
        parent="" if for_stack else (resource.parent or ""),
    )


def _provider_urn(reference: str | None) -> str | None:
    # A provider reference is "<provider URN>::<provider id>".
    return reference.rsplit("::", 1)[0] if reference else None


def _provider(
    resource: PlannedResource, by_urn: Mapping[str, PlannedResource]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    provider = by_urn.get(_provider_urn(resource.provider) or "")
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type,
        urn=provider.urn,
        name=provider.name,
        properties=_struct(provider.inputs, provider.secret_keys),
    )


def _stack_resource(
    resource: PlannedResource, by_urn: Mapping[str, PlannedResource]
) -> analyzer_pb2.AnalyzerResource:
    state = {**resource.inputs, **{k: v for k, v in resource.outputs.items() if v is not None}}
    message = analyzer_pb2.AnalyzerResource(
        type=resource.type,
        urn=resource.urn,
        name=resource.name,
        properties=_struct(state, resource.secret_keys),
        options=_options(resource, for_stack=True),
        parent=resource.parent or "",
        dependencies=list(resource.dependencies),
    )
    for key, urns in resource.property_dependencies.items():
        if urns:
            message.propertyDependencies[key].urns.extend(urns)
    provider = _provider(resource, by_urn)
    if provider is not None:
        message.provider.CopyFrom(provider)
    return message


def _struct(properties: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> struct_pb2.Struct:
    wire = _wire(dict(properties))
    for key in secret_keys:
        if key in wire:
            wire[key] = {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": wire[key]}
    struct = struct_pb2.Struct()
    struct.update(wire)
    return struct


def _wire(value: Any) -> Any:
    """A JSON-like copy of a property value as the engine marshals it (unknowns as the unknown sentinel)."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, OutputUnknown):
        return _UNKNOWN_WIRE
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_wire(v) for v in value]
    # Assets, archives and policy secrets: pulumi_policy's own serializer gives their signature objects.
    return _wire_signature(serialize_properties({"v": value})["v"])


def _wire_signature(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _wire_signature(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_signature(v) for v in value]
    return value


def _violation(
    diagnostic: Any, urn: str | None, by_urn: Mapping[str, PlannedResource], meta: Mapping[str, PolicyMeta]
) -> Violation:
    info = meta.get(diagnostic.policyName)
    description = diagnostic.description
    message = diagnostic.message
    # pulumi_policy prefixes every message with the rule's description.
    if message.startswith(description + "\n"):
        message = message[len(description) + 1 :]
    resource = by_urn.get(urn or "")
    return Violation(
        policy_name=diagnostic.policyName,
        enforcement=_FROM_PROTO.get(diagnostic.enforcementLevel, "advisory"),
        urn=urn,
        resource_name=resource.name if resource is not None else None,
        message=message,
        description=description,
        remediation=info.remediation if info is not None else "",
        severity=_SEVERITY.get(diagnostic.severity, info.severity if info is not None else "unspecified"),
    )
