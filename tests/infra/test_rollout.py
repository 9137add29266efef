"""Rollout arithmetic and the config layer's refusal of rollouts that AWS rejects or that cannot roll back."""

from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, parse_stack_config
from infra.core.rollout import (
    METRIC_DELAY_SECONDS,
    achievable_percents,
    alarm_detection_seconds,
    bake_problems,
    describe_steps,
    step_instances,
    step_problems,
    traffic_steps,
)
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT

BASE = {"aws:region": "us-east-1", "mlops:environment": "dev"}


def deploy_problems(**deploy: object) -> list[str]:
    section = {"target": "sagemaker", "approvedVersion": 3, "instanceType": "ml.m5.large", **deploy}
    try:
        parse_stack_config({**BASE, "mlops:models": json.dumps({"churn": {
                                                                          "deploy": section}})})
    except ConfigError as exc:
        return exc.problems
    return []


# -- pure arithmetic ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("percent", "fleet", "instances"), [
    (10, 2, 1), (10, 10, 1), (25, 4, 1), (50, 2, 1), (33, 3, 1), (50, 4, 2), (12, 8, 1), (20, 10, 2), (1, 1, 1),
])
def test_a_percentage_becomes_the_nearest_whole_instance_and_at_least_one(percent: int, fleet: int,
                                                                          instances: int) -> None:
    assert step_instances(percent, fleet) == instances


def test_traffic_steps_in_instances_for_every_strategy() -> None:
    assert describe_steps(traffic_steps("all-at-once", None, 3)) == "3/3"
    assert describe_steps(traffic_steps("canary", 25, 4)) == "1/4 4/4"
    assert describe_steps(traffic_steps("linear", 50, 2)) == "1/2 2/2"
    assert describe_steps(traffic_steps("linear", 30, 10)) == "3/10 6/10 9/10 10/10"
    assert [round(s.percent) for s in traffic_steps("linear", 25, 4)] == [25, 50, 75, 100]


def test_a_10_percent_canary_on_two_instances_is_refused_with_what_it_really_is() -> None:
    (problem,) = step_problems("canary", 10, 2)
    assert "stepPercent 10 of 2 instances is 1 instance(s), i.e. 50 % of the traffic, not 10 %" in problem
    assert "stepPercent values this fleet can honour: 50" in problem


def test_linear_steps_need_two_instances_and_must_be_10_to_50_percent_of_the_fleet() -> None:
    assert "needs a fleet of at least 2 instances" in step_problems("linear", 50, 1)[0]
    assert step_problems("linear", 50, 2) == []
    (problem,) = step_problems("linear", 5, 20)
    assert "1 of 20 instances (5 %) is outside SageMaker's 10-50 % of the fleet" in problem
    assert achievable_percents("linear", 4) == [25, 50]
    assert achievable_percents("canary", 5) == [20, 40]


def test_every_achievable_percent_is_accepted_and_nothing_else_within_a_fleet() -> None:
    for fleet in range(2, 21):
        for strategy in ("canary", "linear"):
            allowed = set(achievable_percents(strategy, fleet))
            accepted = {p for p in range(1, 51) if not step_problems(strategy, p, fleet)}
            assert allowed <= accepted, (strategy, fleet)
            for percent in accepted:  # whatever is accepted is a whole-instance step AWS takes
                share = 100 * step_instances(percent, fleet) / fleet
                assert abs(share - percent) < 1 and share <= 50 and (strategy == "canary" or share >= 10)


def test_bake_time_must_outlast_alarm_detection() -> None:
    assert alarm_detection_seconds(60, 2) == 120 + METRIC_DELAY_SECONDS == 180
    (problem,) = bake_problems(60, 60, 2)
    assert ("rollout.waitSeconds (60) is shorter than the rollback alarms need to fire: alarms.periodSeconds (60) "
            "x alarms.evaluationPeriods (2) + 60 s metric delay = 180 s") in problem
    assert bake_problems(180, 60, 2) == []


# -- through the config layer --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("deploy", "expected"), [
    ({"instanceCount": 1, "rollout": {"strategy": "linear", "stepPercent": 50}},
     "mlops:models.churn.deploy: rollout.stepPercent vs instanceCount: a linear rollout needs a fleet of at least "
     "2 instances"),
    ({"instanceCount": 2, "rollout": {"strategy": "canary", "stepPercent": 10, "waitSeconds": 600}},
     "stepPercent 10 of 2 instances is 1 instance(s), i.e. 50 % of the traffic, not 10 %"),
    ({"rollout": {"strategy": "all-at-once", "waitSeconds": 60}},
     "mlops:models.churn.deploy: rollout.waitSeconds (60) is shorter than the rollback alarms need to fire"),
    ({"rollout": {"waitSeconds": 200}, "alarms": {"periodSeconds": 60, "evaluationPeriods": 3}},
     "= 240 s; wait at least 240 s"),
])
def test_config_rejects_rollouts_aws_rejects_or_that_cannot_roll_back(deploy: dict, expected: str) -> None:
    found = deploy_problems(**deploy)
    assert any(expected in p for p in found), found


def test_config_accepts_a_real_canary_and_reports_its_steps() -> None:
    assert deploy_problems(instanceCount=4, rollout={"strategy": "canary", "stepPercent": 25}) == []
    config = parse_stack_config({**BASE, "mlops:models": json.dumps({"churn": {"deploy": {
        "target": "sagemaker", "approvedVersion": 3, "instanceType": "ml.m5.large", "instanceCount": 4,
        "rollout": {"strategy": "canary", "stepPercent": 25}}}})})
    assert describe_steps(config.sagemaker_models()["churn"].traffic_steps()) == "1/4 4/4"


def test_serverless_has_no_bake_and_is_not_held_to_it() -> None:
    assert deploy_problems(instanceType=None, serverless={}, rollout={"waitSeconds": 0}) == []


def test_kubernetes_targets_are_held_to_the_same_bake_rule() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config({**BASE, "mlops:models": json.dumps({"fraud": {"deploy": {
            "target": "kubernetes", "approvedVersion": 2, "rollout": {"waitSeconds": 30}}}})})
    assert "rollout.waitSeconds (30) is shorter" in str(caught.value)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_file_rolls_out_validly_and_says_so_in_its_comment(stack: str) -> None:
    stack_input = load_stack(PROJECT_ROOT, stack)
    config = parse_stack_config(stack_input.config)
    steps = describe_steps(config.sagemaker_models()["churn"].traffic_steps())
    comment = (PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    expected = {"dev": ("1/1", "all at once and bake 3 minutes"),
                "staging": ("1/2 2/2", "two steps of 1 of 2 instances (50 % each)"),
                "prod": ("1/4 4/4", "canary of 1 of 4 instances (25 % of the traffic)")}[stack]
    assert steps == expected[0]
    assert expected[1] in comment
