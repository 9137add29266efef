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

Loading the pack lives in infra.plan.pack, the policy config in infra.plan.policy_config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from pulumi.output import Unknown as OutputUnknown
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, serialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from infra.plan.model import PlannedResource, PlanResult
from infra.plan.pack import LoadedPack, PolicyMeta
from infra.plan.policy_config import PolicyConfigError, level_problem

__all__ = ["PolicyRunError", "Violation", "evaluate", "has_mandatory"]

_UNKNOWN_WIRE = UNKNOWN_STRING_VALUE  # how the engine marshals an unknown value

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
            raise PolicyConfigError(None, [f'"{name}": {level_problem(level)}'])
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
