"""The stack outputs other parties read, declared once as typed structures.

The shared stack writes `SharedOutputs`; environment stacks read it through a `StackReference`; the release
tool reads the JSON of `pulumi stack output --json`. All three go through the classes here, so an output key
exists in one place and a rename is a type error, not a silent `None` at deploy time.

Field names are snake_case in Python and camelCase on the wire (the keys `pulumi stack output` shows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, Generic, TypeVar

import pulumi
from pydantic.alias_generators import to_camel

T = TypeVar("T")


def _to_wire(value: Any) -> Any:
    if isinstance(value, _Outputs):
        return value.to_wire()
    if isinstance(value, Mapping):
        return {key: _to_wire(item) for key, item in value.items()}
    return value


def _read(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """Field values from wire keys: a field with a default may be absent (a stack deployed before it existed),
    any other is required (a missing key raises KeyError naming it)."""
    return {f.name: data[to_camel(f.name)] if f.default is MISSING else data.get(to_camel(f.name), f.default)
            for f in fields(cls)}


class _Outputs:
    """camelCase (de)serialization shared by every output structure."""

    @classmethod
    def wire_keys(cls) -> list[str]:
        """The output keys as `pulumi stack output` shows them."""
        return [to_camel(f.name) for f in fields(cls)]  # type: ignore[arg-type]

    def to_wire(self) -> dict[str, Any]:
        return {to_camel(f.name): _to_wire(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    def export(self) -> None:
        """`pulumi.export` every field under its wire key; an absent (None) field is not exported."""
        for key, value in self.to_wire().items():
            if value is not None:
                pulumi.export(key, value)


@dataclass(frozen=True)
class SharedModelOutputs(_Outputs, Generic[T]):
    """Per model: where its images and versions live, and its training pipeline."""

    package_group_name: T
    package_group_arn: T
    training_repository_url: T
    serving_repository_url: T
    serving_repository_arn: T
    pipeline_name: T
    serving_image_uri: T | None = None
    """The serving image the registered packages name; the environments' monitor jobs run it too."""
    retrain_guard_arn: T | None = None
    """The model's retraining guard function, which environments' drift alarms invoke (docs/monitoring.md)."""

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SharedModelOutputs[Any]:
        return cls(**_read(cls, data))


@dataclass(frozen=True)
class SharedOutputs(_Outputs, Generic[T]):
    """What the shared stack exports for environment stacks, CI and the release tool."""

    account_id: T
    region: T
    kms_key_arn: T
    data_bucket: T
    artifacts_bucket: T
    capture_bucket: T
    models: Mapping[str, SharedModelOutputs[T]]
    promotion_topic_arn: T
    github_oidc_provider_arn: T
    ci_preview_role_arn: T
    ci_deploy_role_arn: T
    mlflow_tracking_server_arn: T | None = None
    """The MLflow tracking server training logs to (only with `experiments.enabled`)."""
    ci_release_role_arn: T | None = None
    """The automatic loop's role (GitHub environment `<shared>-release`): train, approve, promote."""

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SharedOutputs[Any]:
        """From the JSON of `pulumi stack output --json --show-secrets` (plain values)."""
        values = _read(cls, data)
        values["models"] = {name: SharedModelOutputs.from_wire(m) for name, m in values["models"].items()}
        return cls(**values)


class SharedStack:
    """The shared stack as an environment stack sees it, through one `StackReference`.

    Each output is read once: every `require_output` copies the whole outputs map into fresh Outputs.
    """

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        self.reference = pulumi.StackReference(name, opts=opts)
        self._cache: dict[str, pulumi.Output[Any]] = {}

    def output(self, field: str) -> pulumi.Output[Any]:
        """One top-level output, by its Python field name (`kms_key_arn`)."""
        if field not in {f.name for f in fields(SharedOutputs)}:
            raise KeyError(f"SharedOutputs has no field {field!r}")
        if field not in self._cache:
            self._cache[field] = self.reference.require_output(to_camel(field))
        return self._cache[field]

    def model(self, model: str) -> SharedModelOutputs[pulumi.Output[Any]]:
        """One model's outputs; a model the shared stack does not train fails with a clear message."""
        models = self.output("models")

        def pick(field: str) -> pulumi.Output[Any]:
            def select(values: Mapping[str, Any]) -> Any:
                if model not in values:
                    raise pulumi.RunError(
                        f"model {model!r} is deployed here but the shared stack does not declare it "
                        f"(shared models: {', '.join(sorted(values)) or 'none'})"
                    )
                return values[model][to_camel(field)]

            return models.apply(select)

        return SharedModelOutputs(**{f.name: pick(f.name) for f in fields(SharedModelOutputs)})


@dataclass(frozen=True)
class EndpointOutputs(_Outputs, Generic[T]):
    """One SageMaker endpoint of an environment, as `infra.release verify` checks it."""

    endpoint_name: T
    endpoint_config_name: T


@dataclass(frozen=True)
class EnvironmentOutputs(_Outputs, Generic[T]):
    """What an environment stack exports for CI and the release tool."""

    endpoints: Mapping[str, EndpointOutputs[T]]
    pinned_versions: Mapping[str, int]
    alarm_topic_arn: T | None
    ci_preview_role_arn: T
    ci_deploy_role_arn: T
    gitops_applications: Mapping[str, str] | None = None
    """Pull path: model -> the Argo CD Application that syncs `gitops/<env>/<model>` (None without a cluster)."""

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> EnvironmentOutputs[Any]:
        values = {f.name: data.get(to_camel(f.name)) for f in fields(cls)}
        values["endpoints"] = {
            name: EndpointOutputs(endpoint_name=e["endpointName"], endpoint_config_name=e["endpointConfigName"])
            for name, e in (values["endpoints"] or {}).items()
        }
        values["pinned_versions"] = dict(values["pinned_versions"] or {})
        return cls(**values)
