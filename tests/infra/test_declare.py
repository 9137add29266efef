"""The component harness itself: it records exactly what the callable declares, and reports failures cleanly."""

from __future__ import annotations

import pytest
from declare import PROGRAM, PROJECT, STACK, declare

from infra.components.github_oidc import GitHubOidcProvider
from infra.plan.runner import ProgramError, plan_program


def test_declare_records_exactly_what_the_callable_declares_awaited() -> None:
    plan = declare(lambda: GitHubOidcProvider("github"))
    assert sorted(r.type for r in plan.resources) == [
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "mlops:ci:GitHubOidcProvider", "pulumi:pulumi:Stack"]
    provider = next(r for r in plan.resources if r.custom)
    assert provider.outputs["arn"].startswith("arn:aws:iam::")  # the mock answered before the run returned
    assert (plan.project, plan.stack) == (PROJECT, STACK)


def test_a_component_that_fails_is_reported_as_a_program_error_naming_the_cause() -> None:
    def build() -> None:
        raise ValueError("model name too long")

    with pytest.raises(ProgramError, match="ValueError: model name too long"):
        declare(build)


def test_the_fixture_program_declares_nothing_outside_the_harness() -> None:
    with pytest.raises(ProgramError, match="only runs under tests/infra/declare.py"):
        plan_program(PROGRAM, PROJECT, STACK, {"aws:region": "eu-west-1"})
