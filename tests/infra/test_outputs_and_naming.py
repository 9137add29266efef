"""The one home of names and cross-stack outputs: the program writes what its readers read, by one declaration."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from infra.config import parse_stack_config
from infra.core.naming import Naming
from infra.core.outputs import EnvironmentOutputs, SharedModelOutputs, SharedOutputs
from infra.core.paths import PROJECT_ROOT
from infra.plan.model import PlanResult
from infra.plan.project import load_stack


def _declared(plan: PlanResult, type_: str, key: str = "name") -> set[str]:
    """The names the plan gives resources of one type: what an exported name must point at."""
    return {r.inputs[key] for r in plan.resources if r.type == type_ and isinstance(r.inputs.get(key), str)}


def _tail(arn_or_url: str) -> str:
    """The name at the end of an ARN or URL: after the last `/`, or `:` where the ARN format has no `/` (an SNS
    topic is `arn:aws:sns:REGION:ACCOUNT:NAME`; infra/plan/arns.py gives each type its real format)."""
    return re.split(r"[/:]", arn_or_url)[-1]


def test_every_shared_output_names_a_resource_the_shared_plan_declares(plans: dict[str, PlanResult]) -> None:
    """What the environment stacks and the release tool read from the shared stack's outputs points at the
    resources the plan declares (a name built differently from the resource's own would pass a key check)."""
    plan = plans["shared"]
    out = plan.outputs
    config = parse_stack_config(load_stack(PROJECT_ROOT, "shared").config)
    assert (out["accountId"], out["region"]) == (config.account_id, config.region)
    buckets = _declared(plan, "aws:s3/bucket:Bucket", "bucket")
    assert {out["artifactsBucket"], out["captureBucket"], out["dataBucket"]} <= buckets
    assert len({out["artifactsBucket"], out["captureBucket"], out["dataBucket"]}) == 3
    roles = _declared(plan, "aws:iam/role:Role")
    for key in ("ciDeployRoleArn", "ciPreviewRoleArn"):
        assert out[key] == f"arn:aws:iam::{config.account_id}:role/{_tail(out[key])}" and _tail(out[key]) in roles
    assert _tail(out["promotionTopicArn"]) in _declared(plan, "aws:sns/topic:Topic")
    providers = _declared(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "url")
    assert out["githubOidcProviderArn"].endswith(":oidc-provider/" + next(iter(providers)).removeprefix("https://"))
    assert set(out["models"]) == set(config.models)
    repositories = _declared(plan, "aws:ecr/repository:Repository")
    for model, values in out["models"].items():
        assert values["packageGroupName"] in _declared(
            plan, "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "modelPackageGroupName"), model
        assert _tail(values["packageGroupArn"]) == values["packageGroupName"]
        assert values["pipelineName"] in _declared(plan, "aws:sagemaker/pipeline:Pipeline", "pipelineName"), model
        serving, training = _tail(values["servingRepositoryUrl"]), _tail(values["trainingRepositoryUrl"])
        assert {serving, training} <= repositories and serving != training, model
        assert _tail(values["servingRepositoryArn"]) == serving


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_environment_output_names_a_resource_the_plan_declares(plans: dict[str, PlanResult],
                                                                      stack: str) -> None:
    plan = plans[stack]
    out = plan.outputs
    config = parse_stack_config(load_stack(PROJECT_ROOT, stack).config)
    assert _tail(out["alarmTopicArn"]) in _declared(plan, "aws:sns/topic:Topic")
    assert out["pinnedVersions"] == config.pinned_versions()
    assert set(out.get("endpoints", {})) == set(config.sagemaker_models()) - set(config.pulled_sagemaker_models())
    served = {(r.inputs["name"], r.inputs["endpointConfigName"]) for r in plan.resources
              if r.type == "aws:sagemaker/endpoint:Endpoint"}
    for model, endpoint in out.get("endpoints", {}).items():
        assert (endpoint["endpointName"], endpoint["endpointConfigName"]) in served, model
        assert endpoint["endpointConfigName"] in _declared(
            plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")


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
