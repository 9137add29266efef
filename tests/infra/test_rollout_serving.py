"""What a release of a SageMaker endpoint really does, as the plan shows it: the instance-count steps, the
capacity a release starts at under autoscaling, the scaling guard for instance-type changes, and the
configurations and models kept for a rollback."""

from __future__ import annotations

from planned import of_type, one, stack_models

from infra.plan.model import PlannedResource, PlanResult

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
GUARD = "random:index/randomId:RandomId"


def with_deploy(plan_with, stack: str, **deploy: object) -> PlanResult:
    models = stack_models(stack)
    churn = {**models["churn"], "deploy": {**models["churn"]["deploy"], **deploy}}
    return plan_with(stack, models={**models, "churn": churn})


def guard_of(plan: PlanResult) -> PlannedResource:
    return one(plan, GUARD, "churn-scaling-guard")


def routing(plan: PlanResult) -> dict:
    return one(plan, ENDPOINT).inputs["deploymentConfig"]["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]


def test_steps_are_sent_as_the_instance_counts_the_config_validated(pushed_plans: dict[str, PlanResult]) -> None:
    plans = pushed_plans
    assert routing(plans["prod"])["canarySize"] == {"type": "INSTANCE_COUNT", "value": 1}
    assert routing(plans["staging"])["linearStepSize"] == {"type": "INSTANCE_COUNT", "value": 1}
    assert "canarySize" not in routing(pushed_plans["dev"]) and "linearStepSize" not in routing(pushed_plans["dev"])
    tags = {stack: one(plans[stack], ENDPOINT).inputs["tags"] for stack in ("dev", "staging", "prod")}
    assert {s: (t["release-instance-count"], t["traffic-steps"]) for s, t in tags.items()} == {
        "dev": ("1", "1/1"), "staging": ("2", "1/2 2/2"), "prod": ("4", "1/4 4/4")}


def test_a_release_of_an_autoscaled_variant_starts_at_the_capacity_the_config_asks_for(plan_with) -> None:
    release = with_deploy(plan_with, "prod", approvedVersion=4)
    (variant,) = one(release, CONFIG).inputs["productionVariants"]
    target = one(release, TARGET).inputs
    deploy = stack_models("prod")["churn"]["deploy"]
    # Blue/green provisions the green fleet at the configuration's initial count, with scaling suspended.
    assert variant["initialInstanceCount"] == deploy["instanceCount"] == 4
    assert target["minCapacity"] == deploy["autoscaling"]["minCapacity"] <= variant["initialInstanceCount"]
    assert variant["initialInstanceCount"] <= target["maxCapacity"]
    # The canary is a whole instance of that fleet, not a percentage AWS would round.
    assert routing(release)["canarySize"] == {"type": "INSTANCE_COUNT", "value": 1}


def test_a_release_of_a_new_version_keeps_autoscaling_registered(plan_with, plans: dict[str, PlanResult]) -> None:
    # Changing the model is allowed on an autoscaled variant: the guard (and so the target) must not change.
    release = with_deploy(plan_with, "prod", approvedVersion=4)
    assert guard_of(release).inputs["keepers"] == guard_of(plans["prod"]).inputs["keepers"]
    assert one(release, CONFIG).inputs["name"] != one(plans["prod"], CONFIG).inputs["name"]


def _depends_on(resource: PlannedResource, other: PlannedResource, key: str | None = None) -> bool:
    if key is None:
        return other.urn in resource.dependencies
    return other.urn in resource.property_dependencies.get(key, ())


def test_an_instance_type_change_replaces_the_scaling_guard_before_the_endpoint_update(plan_with,
                                                                                      plans: dict) -> None:
    prod = plans["prod"]
    guard, endpoint, target = guard_of(prod), one(prod, ENDPOINT), one(prod, TARGET)
    assert guard.delete_before_replace is True
    assert guard.inputs["keepers"] == {"AllTraffic": "ml.c5.xlarge"}
    # The endpoint update waits for the guard; the target (by the property that forces its replacement) and so
    # the policy depend on it, so the engine deletes them, deregistering the variant, before replacing the guard.
    assert _depends_on(endpoint, guard)
    assert _depends_on(target, guard, "resourceId") and _depends_on(target, endpoint, "resourceId")
    assert target.inputs["resourceId"] == "endpoint/mlops-prod-churn/variant/AllTraffic"
    assert one(prod, POLICY).inputs["resourceId"] == target.inputs["resourceId"]
    changed = with_deploy(plan_with, "prod", instanceType="ml.c5.2xlarge")
    assert guard_of(changed).inputs["keepers"] == {"AllTraffic": "ml.c5.2xlarge"}


def test_the_shadow_variant_type_is_guarded_too(plans: dict[str, PlanResult]) -> None:
    staging = plans["staging"]
    assert guard_of(staging).inputs["keepers"] == {"AllTraffic": "ml.m5.large", "Shadow": "ml.m5.large"}
    assert len(of_type(staging, TARGET)) == 2


def test_no_guard_without_autoscaling(pushed_plans: dict[str, PlanResult]) -> None:
    assert not [r for r in of_type(pushed_plans["dev"], GUARD) if r.name.endswith("scaling-guard")]
    assert one(pushed_plans["dev"], ENDPOINT).dependencies  # the alarms


def test_configurations_and_models_a_rollback_may_return_to_are_retained(pushed_plans: dict[str, PlanResult]) -> None:
    for stack in ("dev", "staging", "prod"):
        plan = pushed_plans[stack]
        kept = [r for r in plan.resources if r.retain_on_delete]
        assert {r.type for r in kept} == {CONFIG, "aws:sagemaker/model:Model"}, stack
        assert not one(plan, ENDPOINT).retain_on_delete


def test_retained_names_carry_a_generation_marker_replaced_exactly_when_content_changes(plan_with,
                                                                                       plans: dict) -> None:
    # Reverting to earlier content must not reuse a retained resource's name (the create would fail): the name
    # depends on a random id whose keepers are the content digest.
    prod = plans["prod"]
    for kind, marker_name in ((CONFIG, "churn-config-generation"), ("aws:sagemaker/model:Model",
                                                                     "churn-model-generation")):
        marker = one(prod, GUARD, marker_name)
        assert marker.urn in one(prod, kind, "churn").property_dependencies["name"], kind
        assert set(marker.inputs["keepers"]) == {"content"}
    release = with_deploy(plan_with, "prod", approvedVersion=4)
    for marker_name in ("churn-config-generation", "churn-model-generation"):
        assert (one(release, GUARD, marker_name).inputs["keepers"]
                != one(prod, GUARD, marker_name).inputs["keepers"])
    rollout_only = with_deploy(plan_with, "prod", rollout={"strategy": "canary", "stepPercent": 50, "waitSeconds": 900})
    assert (one(rollout_only, GUARD, "churn-config-generation").inputs["keepers"]
            == one(prod, GUARD, "churn-config-generation").inputs["keepers"])
