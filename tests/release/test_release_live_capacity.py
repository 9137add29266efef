"""A release starts at the live capacity: `live-capacity` reads the endpoint's live instance count from the
emulator, deploy.yml hands its `configMap` to the Pulumi action's `config-map` (which sets it as stack config), and
the program's endpoint configuration starts the green fleet at that count, bounded by the scaling range."""

from __future__ import annotations

import json

import pytest
import release_seed as seed
from release_cli import release, release_text

from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT, plan_program, plan_stack


def _scaled(stack: str, declared: int, live: int) -> None:
    config = seed.endpoint_config(stack, "churn", 3, "abcdef0123", count=declared)
    seed.endpoint(stack, "churn", config)
    if live != declared:  # what Application Auto Scaling calls when it scales out
        seed.client("sagemaker").update_endpoint_weights_and_capacities(
            EndpointName=f"mlops-{stack}-churn",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": live}])


@pytest.mark.parametrize(("stack", "declared", "live", "starts"), [
    ("prod", 4, 6, 6),   # scaled out within [4, 8]: the release keeps the 6
    ("prod", 4, 4, 4),
    ("prod", 4, 8, 8),
    ("staging", 2, 3, 2),  # a linear 50 % step of 3 instances is 2 (67 %), over SageMaker's 50 %: stays at 2
])
def test_live_capacity_reads_the_live_count(emulator, project, capsys, stack, declared, live, starts):
    _scaled(stack, declared, live)
    code, doc, err = release(capsys, project, "live-capacity", "--stack", stack)
    assert (code, err) == (0, "")
    assert doc["counts"] == {"churn": live}
    assert json.loads(doc["configMap"]) == {"mlops:liveInstanceCounts": {"value": json.dumps({"churn": live}),
                                                                         "secret": False}}
    code, text, _ = release_text(capsys, project, "live-capacity", "--stack", stack)
    assert code == 0 and f"churn: {live} live instance(s) on mlops-{stack}-churn; the release starts at {starts} " \
        in text


def test_a_first_deploy_has_no_live_count(emulator, project, capsys):
    code, doc, err = release(capsys, project, "live-capacity", "--stack", "prod")
    assert (code, err) == (0, "") and doc["counts"] == {} and doc["configMap"] == ""


def test_the_shared_stack_has_no_capacity(emulator, project, capsys):
    code, _, err = release(capsys, project, "live-capacity", "--stack", "shared")
    assert code == 2 and "shared stack has no endpoints" in err


def _release_count(plan) -> int:
    [config] = [r for r in plan.resources if r.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
                and r.inputs["productionVariants"][0]["variantName"] == "AllTraffic"
                and "churn" in r.name]
    return config.inputs["productionVariants"][0]["initialInstanceCount"]


@pytest.fixture(scope="module")
def shared_outputs():
    return plan_stack("shared").outputs


@pytest.mark.parametrize(("live", "starts"), [(None, 4), (2, 4), (6, 6), (7, 7), (8, 8)])
def test_pulumi_up_starts_the_release_at_the_passed_count(emulator, project, capsys, shared_outputs, live, starts):
    """What the Pulumi action does with `config-map` (Stack.setAllConfig), then the program under the SDK mocks."""
    config = dict(load_stack(PROJECT_ROOT, "prod").config)
    if live is not None:
        _scaled("prod", 4, live)
        code, doc, _ = release(capsys, project, "live-capacity", "--stack", "prod")
        assert code == 0
        for key, item in json.loads(doc["configMap"]).items():
            config[key] = item["value"]
    stack_input = load_stack(PROJECT_ROOT, "prod")
    plan = plan_program(stack_input.program_dir, stack_input.project, "prod", config, stack_input.secret_keys,
                        {config["mlops:sharedStack"]: shared_outputs})
    assert _release_count(plan) == starts


@pytest.mark.parametrize(("live", "starts"), [(0, 4), (9, 8), (1000, 8)])
def test_the_program_bounds_a_passed_count_by_the_scaling_range(shared_outputs, live, starts):
    """A count outside [instanceCount, maxCapacity] (the range changed since it was read) is bounded."""
    config = dict(load_stack(PROJECT_ROOT, "prod").config)
    config["mlops:liveInstanceCounts"] = json.dumps({"churn": live})
    stack_input = load_stack(PROJECT_ROOT, "prod")
    plan = plan_program(stack_input.program_dir, stack_input.project, "prod", config, stack_input.secret_keys,
                        {config["mlops:sharedStack"]: shared_outputs})
    assert _release_count(plan) == starts


@pytest.mark.parametrize(("value", "expected"), [
    ('{"fraud": 3}', "only an autoscaled SageMaker endpoint"),
    ('{"churn": -1}', "liveInstanceCounts"),
    ('{"churn": "3"}', "liveInstanceCounts"),
    ('{"nosuch": 3}', "only an autoscaled SageMaker endpoint"),
])
def test_a_wrong_live_count_is_a_config_error(value, expected):
    from infra.config import ConfigError, parse_stack_config

    config = dict(load_stack(PROJECT_ROOT, "prod").config)
    config["mlops:liveInstanceCounts"] = value
    with pytest.raises(ConfigError, match=expected):
        parse_stack_config(config)
