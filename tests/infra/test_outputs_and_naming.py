"""The one home of names and cross-stack outputs: the program writes what its readers read, by one declaration."""

from __future__ import annotations

from dataclasses import fields

import pytest

from infra.core.naming import Naming
from infra.core.outputs import EnvironmentOutputs, SharedModelOutputs, SharedOutputs
from infra.plan.model import PlanResult


def test_shared_plan_exports_exactly_the_declared_outputs(plans: dict[str, PlanResult]) -> None:
    outputs = plans["shared"].outputs
    assert sorted(outputs) == sorted(SharedOutputs.wire_keys())
    for model, values in outputs["models"].items():
        assert sorted(values) == sorted(SharedModelOutputs.wire_keys()), model


def test_shared_outputs_read_back_from_the_wire_form(plans: dict[str, PlanResult]) -> None:
    """What `pulumi stack output --json` prints parses into the same structure the program exported."""
    shared = SharedOutputs.from_wire(plans["shared"].outputs)
    assert set(shared.models) == {"churn", "fraud"}
    assert shared.models["churn"].package_group_name == Naming("mlops", "shared").package_group("churn")
    assert shared.to_wire() == plans["shared"].outputs


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_environment_outputs_read_back_from_the_wire_form(plans: dict[str, PlanResult], stack: str) -> None:
    outputs = plans[stack].outputs
    environment = EnvironmentOutputs.from_wire(outputs)
    assert set(outputs) <= set(EnvironmentOutputs.wire_keys())
    naming = Naming("mlops", stack)
    for model, endpoint in environment.endpoints.items():
        assert endpoint.endpoint_name == naming.endpoint(model)
        assert endpoint.endpoint_config_name.startswith(naming.endpoint(model) + "-")


def test_shared_outputs_from_the_wire_name_a_missing_key() -> None:
    with pytest.raises(KeyError, match="kmsKeyArn"):
        SharedOutputs.from_wire({k: "x" for k in SharedOutputs.wire_keys() if k != "kmsKeyArn"})


def test_every_physical_name_in_the_plans_comes_from_the_stack_naming(plans: dict[str, PlanResult]) -> None:
    """Everything the program names explicitly sits under the stack's prefix, which the deploy role is scoped to."""
    name_keys = ("name", "bucket", "pipelineName", "modelPackageGroupName", "dashboardName")
    checked = set()
    for stack, plan in plans.items():
        naming = Naming("mlops", stack)
        for resource in plan.resources:
            if not resource.type.startswith("aws:"):
                continue  # providers, the stack reference, components
            for key in name_keys:
                value = resource.inputs.get(key)
                if not isinstance(value, str):
                    continue
                bare = value.removeprefix("alias/").removeprefix("/aws/lambda/")  # Lambda's log group convention
                assert bare == naming.prefix or bare.startswith(naming.prefix + "-"), (resource.urn, key, value)
                checked.add(resource.type)
    # Buckets, repositories, package groups, pipelines, roles, endpoints, alarms, topics, rules, aliases, ...
    assert len(checked) >= 12, sorted(checked)


def test_a_name_aws_would_reject_is_refused_not_truncated() -> None:
    naming = Naming("mlops", "staging")
    with pytest.raises(ValueError, match="longer than 63 characters"):
        naming.endpoint("m" * 60)
    assert len(naming.serving_role("m" * 40)) <= 64


def test_output_declarations_have_distinct_wire_keys() -> None:
    for cls in (SharedOutputs, SharedModelOutputs, EnvironmentOutputs):
        keys = cls.wire_keys()
        assert len(keys) == len(set(keys)) == len(fields(cls))
