"""What every config section shares: strict camelCase sections, the error type, common value types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

PROJECT_NAMESPACE = "mlops"
"""Config namespace of this program's own keys (the project name in Pulumi.yaml)."""

AWS_KEYS = {
    "region": "the AWS region to deploy into (required)",
    "profile": "a named AWS CLI profile for local runs",
    "assumeRoles": "roles to assume into this stack's account, as [{roleArn, sessionName, externalId}]",
}
"""The `aws:` keys this program honours. It builds an explicit provider, so others would be ignored."""

ModelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,19}$")]
InstanceType = Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
ImageTag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]


class ConfigError(Exception):
    """Raised with every problem found in a stack's configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    """Base for config sections: camelCase keys as in the stack file, unknown keys rejected, immutable."""

    # Strict: values inside structured keys come from JSON, so a bool is never an int, a number never a
    # string. Top-level scalars arrive from the CLI as strings; parse_stack_config decodes them first.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=True
    )


