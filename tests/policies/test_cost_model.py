"""The cost model against hand computations from the snapshot, on hand-made resources of every priced kind.

Each expected figure is computed here, in the test, from the snapshot's own prices (read through
`price_book`), so a refreshed snapshot keeps the tests meaningful. A price the snapshot lacks must come out
as unpriced and counted, never as zero.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.rules.cost_model import CostInput, estimate
from policies.rules.pricing import HOURS_PER_MONTH, PriceBook, load_snapshot, price_book, runs_per_month
from policies.rules.values import UNKNOWN

REGION = "us-east-1"
H = HOURS_PER_MONTH


def usd(key: str) -> float:
    price = price_book(REGION).get(key)
    assert price is not None, f"the snapshot has no {key}; pick a priced one for this test"
    return price.usd


def res(type_: str, name: str, props: dict, deps: dict | None = None, parent: str | None = None) -> CostInput:
    urn = f"urn:pulumi:t::p::{type_}::{name}"
    return CostInput(urn=urn, type=type_, name=name, parent=parent, props=props,
                     property_dependencies={k: tuple(v) for k, v in (deps or {}).items()})


def book_with(extra: dict[str, float]) -> PriceBook:
    """The real snapshot plus test-only prices (for kinds the snapshot cannot price yet)."""
    snapshot = json.loads(json.dumps(load_snapshot()))
    for key, value in extra.items():
        snapshot["prices"][REGION][key] = {"usd": value, "per": "x", "source": "test"}
    return PriceBook(snapshot, REGION)


def endpoint_pair(variants: list, shadows: list | None = None, name: str = "ep") -> list[CostInput]:
    config = res("aws:sagemaker/endpointConfiguration:EndpointConfiguration", name,
                 {"name": f"{name}-cfg", "productionVariants": variants, "shadowProductionVariants": shadows})
    endpoint = res("aws:sagemaker/endpoint:Endpoint", name, {"name": name, "endpointConfigName": f"{name}-cfg"},
                   {"endpointConfigName": [config.urn]})
    return [config, endpoint]


def cost_of(resources: list[CostInput], name: str, type_suffix: str, book: PriceBook | None = None):
    report = estimate(resources, book or price_book(REGION))
    return next(r for r in report.resources if r.name == name and r.type.endswith(type_suffix)), report


def test_endpoint_at_declared_count_and_up_to_the_autoscaling_maximum_with_a_shadow() -> None:
    m5 = usd("sagemaker:hosting:ml.m5.large")
    resources = endpoint_pair(
        [{"variantName": "AllTraffic", "instanceType": "ml.m5.large", "initialInstanceCount": 2}],
        [{"variantName": "Shadow", "instanceType": "ml.m5.large", "initialInstanceCount": 1}],
    )
    resources += [
        res("aws:appautoscaling/target:Target", "t1",
            {"resourceId": "endpoint/ep/variant/AllTraffic", "maxCapacity": 5}),
        res("aws:appautoscaling/target:Target", "t2", {"resourceId": "endpoint/ep/variant/Shadow", "maxCapacity": 2}),
        res("aws:appautoscaling/target:Target", "other", {"resourceId": "endpoint/other/variant/AllTraffic",
                                                          "maxCapacity": 50}),
    ]
    cost, _ = cost_of(resources, "ep", ":Endpoint")
    assert cost.status == "priced"
    assert cost.min_usd == pytest.approx(round((2 + 1) * m5 * 730, 2))
    assert cost.max_usd == pytest.approx(round((5 + 2) * m5 * 730, 2))
    assert any("730 h" in a for a in cost.assumptions)


def test_an_unpriced_instance_type_is_counted_never_zero() -> None:
    resources = endpoint_pair([{"variantName": "A", "instanceType": "ml.p5.48xlarge", "initialInstanceCount": 1}])
    cost, report = cost_of(resources, "ep", ":Endpoint")
    assert cost.status == "unpriced" and "sagemaker:hosting:ml.p5.48xlarge" in cost.missing[0]
    assert report.total_max == 0 and len(report.unpriced) == 1
    assert report.summary()["unpricedCount"] == 1


def test_serverless_variant_uses_memory_and_the_stated_request_assumption() -> None:
    resources = endpoint_pair([{"variantName": "A", "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 5}}])
    cost, _ = cost_of(resources, "ep", ":Endpoint", book_with({"sagemaker:serverless:gb-second": 0.00002}))
    # 2 GB x 1 s x 1,000,000 requests x $0.00002/GB-s
    assert (cost.min_usd, cost.max_usd) == (0.0, round(2 * 1.0 * 1_000_000 * 0.00002, 2))
    unpriced, _ = cost_of(resources, "ep", ":Endpoint")  # the real snapshot has no serverless price
    assert unpriced.status == "unpriced"


def test_pipeline_steps_times_runtime_times_scheduled_runs() -> None:
    processing = usd("sagemaker:processing:ml.m5.large")
    definition = {"Steps": [
        {"Name": "Prep", "Type": "Processing", "Arguments": {
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 5400}}},
        {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [
            {"Name": "Eval", "Type": "Processing", "Arguments": {
                "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}]}},
    ]}
    pipeline = res("aws:sagemaker/pipeline:Pipeline", "p", {"pipelineName": "pipe",
                                                             "pipelineDefinition": json.dumps(definition)})
    rule = res("aws:cloudwatch/eventRule:EventRule", "r",
               {"name": "r1", "scheduleExpression": "cron(0 3 ? * MON,THU *)"})
    target = res("aws:cloudwatch/eventTarget:EventTarget", "t", {"arn": "arn:aws:sagemaker:x:1:pipeline/pipe",
                                                                  "rule": "r1"}, {"rule": [rule.urn]})
    cost, _ = cost_of([pipeline, rule, target], "p", ":Pipeline")
    runs = 10  # two weekdays: at most 5 of each in a month
    assert cost.status == "priced" and cost.min_usd == 0
    assert cost.max_usd == pytest.approx(round(runs * processing * (2 * 1.5 + 1 * 1.0), 2))
    alone, _ = cost_of([pipeline], "p", ":Pipeline")  # no schedule: on demand only
    assert alone.max_usd == 0 and any("on-demand" in a for a in alone.assumptions)


def test_monitoring_schedule_priced_through_its_job_definition() -> None:
    processing = usd("sagemaker:processing:ml.m5.xlarge")
    definition = res("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", "dq", {
        "name": "dq-1", "jobResources": {"clusterConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 1}},
        "stoppingCondition": {"maxRuntimeInSeconds": 1800}})
    schedule = res("aws:sagemaker/monitoringSchedule:MonitoringSchedule", "ms", {"monitoringScheduleConfig": {
        "monitoringJobDefinitionName": "dq-1", "monitoringType": "DataQuality",
        "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"}}})
    cost, report = cost_of([definition, schedule], "ms", ":MonitoringSchedule")
    assert cost.max_usd == pytest.approx(round(24 * 31 * processing * 0.5, 2))
    assert next(r for r in report.resources if r.name == "dq").status == "none"
    orphan, _ = cost_of([schedule], "ms", ":MonitoringSchedule")
    assert orphan.status == "unpriced"


def test_mlflow_server_defaults_to_small_and_is_unpriced_without_a_price() -> None:
    server = res("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "ml", {})
    cost, _ = cost_of([server], "ml", "MlflowTrackingServer", book_with({"sagemaker:mlflow:small": 0.5}))
    assert (cost.min_usd, cost.max_usd) == (round(0.5 * H, 2), round(0.5 * H, 2))
    unpriced, _ = cost_of([server], "ml", "MlflowTrackingServer")
    assert unpriced.status == "unpriced" and "sagemaker:mlflow:small" in unpriced.missing[0]


def test_cluster_node_group_key_alarm_dashboard() -> None:
    node = usd("ec2:linux-on-demand:m6i.large")
    resources = [
        res("aws:eks/cluster:Cluster", "c", {}),
        res("aws:eks/nodeGroup:NodeGroup", "n", {"instanceTypes": ["m6i.large"],
                                                  "scalingConfig": {"minSize": 2, "maxSize": 5}}),
        res("aws:kms/key:Key", "k", {"enableKeyRotation": True}),
        res("aws:cloudwatch/metricAlarm:MetricAlarm", "a", {"metricName": "Invocations", "period": 60}),
        res("aws:cloudwatch/metricAlarm:MetricAlarm", "hr", {"metricName": "Invocations", "period": 10}),
        res("aws:cloudwatch/dashboard:Dashboard", "d", {}),
    ]
    report = estimate(resources, price_book(REGION))
    got = {r.name: (r.min_usd, r.max_usd) for r in report.resources}
    assert got["c"] == (round(usd("eks:cluster-standard-support") * H, 2),) * 2
    assert got["n"] == (round(2 * node * H, 2), round(5 * node * H, 2))
    assert got["k"] == (usd("kms:key"), usd("kms:key") + usd("kms:rotated-backing-key"))
    assert got["a"] == (usd("cloudwatch:alarm-metric-standard"),) * 2
    assert got["hr"] == (usd("cloudwatch:alarm-metric-high-resolution"),) * 2
    assert got["d"] == (usd("cloudwatch:dashboard"),) * 2
    assert report.total_max == pytest.approx(round(sum(v[1] for v in got.values()), 2))


def test_spot_nodes_unknown_region_and_unknown_types_are_unpriced() -> None:
    spot = res("aws:eks/nodeGroup:NodeGroup", "n", {"capacityType": "SPOT", "instanceTypes": ["m6i.large"],
                                                    "scalingConfig": {"minSize": 1, "maxSize": 2}})
    novel = res("aws:rds/instance:Instance", "db", {})
    report = estimate([spot, novel], price_book(REGION))
    assert [r.status for r in report.resources] == ["unpriced", "unpriced"]
    nowhere = estimate([res("aws:kms/key:Key", "k", {})], price_book("eu-central-1"))
    assert nowhere.resources[0].status == "unpriced"
    no_region = estimate([res("aws:kms/key:Key", "k", {})], price_book(None))
    assert "region is unknown" in no_region.resources[0].missing[0]


def test_every_snapshot_price_names_a_recorded_source() -> None:
    snapshot = load_snapshot()
    assert snapshot["regions"] and snapshot["snapshotDate"]
    for region, prices in snapshot["prices"].items():
        for key, entry in prices.items():
            assert entry["usd"] > 0, f"{region} {key}: a price of zero is never recorded"
            source = snapshot["sources"].get(entry["source"])
            assert source and source.get("url") and source.get("kind") in ("aws", "secondary"), key


@pytest.mark.parametrize(("expression", "runs"), [
    ("rate(7 days)", 5), ("rate(1 day)", 31), ("rate(1 hour)", 744), ("rate(30 minutes)", 1488),
    ("cron(0 3 ? * MON *)", 5), ("cron(0 * ? * * *)", 744), ("cron(0/15 9-17 * * ? *)", 4 * 9 * 31),
    ("cron(0 12 1,15 * ? *)", 2), ("cron(0 12 ? * 2#1 *)", 1), ("cron(0 8 ? * MON-FRI *)", 25),
])
def test_schedule_upper_bounds(expression: str, runs: int) -> None:
    assert runs_per_month(expression) == runs


@pytest.mark.parametrize("expression", [
    None, "", "NOW", "rate(0 days)", "rate(5 weeks)", "cron(0 3 * * *)", "cron(61 3 ? * MON *)", "cron(a b c d e f)",
])
def test_schedules_not_understood_are_none(expression: object) -> None:
    assert runs_per_month(expression) is None


@given(st.integers(min_value=1, max_value=100_000),
       st.sampled_from(["minute", "minutes", "hour", "hours", "day", "days"]))
def test_rate_bound_covers_every_run_of_a_31_day_month(every: int, unit: str) -> None:
    minutes = every * {"minute": 1, "hour": 60, "day": 1440}[unit.rstrip("s")]
    runs = runs_per_month(f"rate({every} {unit})")
    assert runs is not None and runs * minutes >= 31 * 1440 > (runs - 1) * minutes


@given(st.lists(st.integers(0, 59), min_size=1, max_size=8, unique=True), st.lists(st.integers(0, 23), min_size=1,
       max_size=5, unique=True))
def test_cron_counts_listed_minutes_and_hours(minutes: list[int], hours: list[int]) -> None:
    expression = f"cron({','.join(map(str, minutes))} {','.join(map(str, hours))} * * ? *)"
    assert runs_per_month(expression) == len(minutes) * len(hours) * 31


def _every_kind() -> list[CostInput]:
    """One resource of every priced kind, wired as the program wires them."""
    definition = {"Steps": [{"Name": "Train", "Type": "Training", "Arguments": {
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}]}
    pipeline = res("aws:sagemaker/pipeline:Pipeline", "p", {"pipelineName": "pipe",
                                                             "pipelineDefinition": json.dumps(definition)})
    rule = res("aws:cloudwatch/eventRule:EventRule", "r", {"name": "r1", "scheduleExpression": "rate(1 day)"})
    job = res("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", "dq", {
        "name": "dq", "jobResources": {"clusterConfig": {"instanceType": "ml.m5.large", "instanceCount": 1}},
        "stoppingCondition": {"maxRuntimeInSeconds": 600}})
    return [
        *endpoint_pair([{"variantName": "A", "instanceType": "ml.m5.large", "initialInstanceCount": 1}],
                       [{"variantName": "S", "serverlessConfig": {"memorySizeInMb": 1024}}]),
        res("aws:appautoscaling/target:Target", "t", {"resourceId": "endpoint/ep/variant/A", "maxCapacity": 2}),
        pipeline, rule,
        res("aws:cloudwatch/eventTarget:EventTarget", "et", {"arn": "x:pipeline/pipe", "rule": "r1"}),
        job,
        res("aws:sagemaker/monitoringSchedule:MonitoringSchedule", "ms", {"monitoringScheduleConfig": {
            "monitoringJobDefinitionName": "dq", "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"}}}),
        res("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "ml", {"trackingServerSize": "Medium"}),
        res("aws:eks/cluster:Cluster", "c", {}),
        res("aws:eks/nodeGroup:NodeGroup", "n", {"instanceTypes": ["m6i.large"],
                                                  "scalingConfig": {"minSize": 1, "maxSize": 2}}),
        res("aws:kms/key:Key", "k", {"enableKeyRotation": True}),
        res("aws:cloudwatch/metricAlarm:MetricAlarm", "a", {"metricQueries": [{"metric": {"metricName": "x"}}]}),
        res("aws:cloudwatch/dashboard:Dashboard", "d", {}),
    ]


_ODD = st.sampled_from([UNKNOWN, None, "", "x", -1, 0, 1.5, True, [], {}, [UNKNOWN], {"a": UNKNOWN}, "{not json"])


def _scramble(value: object, data: st.DataObject) -> object:
    if data.draw(st.integers(0, 4)) == 0:
        return data.draw(_ODD)
    if isinstance(value, dict):
        return {k: _scramble(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_scramble(v, data) for v in value]
    return value


@settings(max_examples=300)
@given(st.data())
def test_odd_or_unknown_values_never_crash_and_never_price_below_zero(data: st.DataObject) -> None:
    resources = [CostInput(r.urn, r.type, r.name, r.parent, {k: _scramble(v, data) for k, v in r.props.items()},
                           r.property_dependencies) for r in _every_kind()]
    report = estimate(resources, price_book(REGION))
    for cost in report.resources:
        assert 0 <= cost.min_usd <= cost.max_usd or cost.status in ("unpriced", "none", "usage-based"), cost
        assert cost.status != "priced" or not cost.missing
    assert report.total_min <= report.total_max


def test_every_kind_is_priced_or_names_what_it_misses() -> None:
    report = estimate(_every_kind(), book_with({"sagemaker:training:ml.m5.large": 0.2}))
    statuses = {r.name: r.status for r in report.resources}
    assert statuses["ep"] == "partial"  # the serverless shadow has no price in the snapshot
    assert statuses["ml"] == "unpriced" and statuses["p"] == "partial"  # ML storage volume unpriced
    assert all(statuses[n] == "priced" for n in ("ms", "c", "n", "k", "a", "d"))
