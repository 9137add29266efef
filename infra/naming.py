"""Physical names and tags, so that every component names and labels resources the same way.

Convention (see ARCHITECTURE.md): `<project>-<stack>-<model>-<role>` where AWS needs a name. Explicit
names matter here beyond looks: the CI deploy role's permissions are scoped to this prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import StackConfig


@dataclass(frozen=True)
class Naming:
    """Builds physical names and tags for one stack."""

    project: str
    stack: str
    config: StackConfig

    @property
    def prefix(self) -> str:
        """Every physical name of this stack starts with this; IAM scoping relies on it."""
        return f"{self.project}-{self.stack}"

    def name(self, *parts: str, limit: int = 63) -> str:
        """`<project>-<stack>-<parts...>`, refusing to silently truncate a name AWS would reject."""
        value = "-".join([self.prefix, *parts])
        if len(value) > limit:
            raise ValueError(f"physical name {value!r} is longer than {limit} characters; shorten the model name")
        return value

    def base_tags(self) -> dict[str, str]:
        """Tags every taggable resource carries; applied through the provider's default tags."""
        return {
            **self.config.tags,
            "environment": self.config.environment,
            "owner": self.config.owner,
            "cost-center": self.config.cost_center,
            "managed-by": "pulumi",
            "pulumi-stack": self.stack,
        }

    @staticmethod
    def model_tags(model: str) -> dict[str, str]:
        """The per-resource tag that ties a resource to the model it serves."""
        return {"model": model}
