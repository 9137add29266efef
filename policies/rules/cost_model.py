"""Monthly cost of planned resources, from the price snapshot (`pricing`), as a range with its assumptions.

One model, two callers: `infra.plan` (the plan's table, JSON and `--cost-diff`) and the `monthly-budget` rule.
Each resource gets a status:

* `priced`: every part of its standing charge has a price; `min`/`max` are USD per month.
* `partial`: some parts priced, the named ones not (the figures cover the priced parts only).
* `unpriced`: a charge this model knows of but cannot price (no price in the snapshot, an input unknown at
  preview, a type with no pricing rule): counted and named, never taken as zero.
* `usage-based`: billed only per request/GB with no declared size (buckets, topics, repositories): not
  estimated, listed.
* `none`: no charge of its own (configuration of another resource, billed through it, or free).

Input resources are plain (`CostInput`): type, name, URN, parent, properties and property dependencies, so
that both the plan's records and the pack's stack view convert to them without this module knowing either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cost_sagemaker import price_endpoint, price_mlflow, price_monitoring_schedule, price_pipeline
from .cost_types import CostInput, Graph, ResourceCost, amount
from .pricing import HOURS_PER_MONTH, PriceBook
from .values import as_list, dig, has_unknown, is_unknown

__all__ = ["CostInput", "CostReport", "ResourceCost", "estimate"]

# Types with no standing charge of their own, and why (the reason is shown in the plan's JSON).
NO_CHARGE_PREFIXES = {
    "aws:iam/": "IAM is free",
    "aws:kms/alias:": "an alias of a priced key",
    "aws:eks/access": "EKS access configuration",
    "aws:appautoscaling/": "scaling configuration; the instances it adds are priced on the endpoint's range",
    "aws:s3/bucketPolicy:": "configuration of a bucket",
    "aws:s3/bucketPublicAccessBlock:": "configuration of a bucket",
    "aws:s3/bucketVersioning": "configuration of a bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration": "configuration of a bucket",
    "aws:s3/bucketLifecycleConfiguration": "configuration of a bucket",
    "aws:s3/bucketOwnershipControls:": "configuration of a bucket",
    "aws:s3/bucketNotification:": "configuration of a bucket",
    "aws:s3/bucketLogging": "configuration of a bucket",
    "aws:ecr/lifecyclePolicy": "configuration of a repository",
    "aws:ecr/repositoryPolicy": "configuration of a repository",
    "aws:sns/topicPolicy": "configuration of a topic",
    "aws:cloudwatch/eventTarget": "configuration of a rule",
    "aws:lambda/permission:": "configuration of a function",
    "aws:sagemaker/model:": "billed through the endpoint that serves it",
    "aws:sagemaker/endpointConfiguration:": "billed through the endpoint that uses it",
    "aws:sagemaker/modelPackageGroup": "registry metadata",
    "aws:sagemaker/dataQualityJobDefinition:": "billed through the monitoring schedule that runs it",
    "aws:sagemaker/modelQualityJobDefinition:": "billed through the monitoring schedule that runs it",
    "aws:sagemaker/modelBiasJobDefinition:": "billed through the monitoring schedule that runs it",
    "aws:sagemaker/modelExplainabilityJobDefinition:": "billed through the monitoring schedule that runs it",
    "kubernetes:": "runs on the cluster's nodes, priced on the node group",
    "random:": "not a cloud resource",
    "pulumi:": "not a cloud resource",
    "mlops:": "a component; its children are priced",
}
USAGE_BASED = {
    "aws:s3/bucket:Bucket": "S3 storage and requests: no size is declared",
    "aws:s3/bucketV2:BucketV2": "S3 storage and requests: no size is declared",
    "aws:sns/topic:Topic": "SNS requests and deliveries",
    "aws:ecr/repository:Repository": "ECR image storage: no size is declared",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge events",
    "aws:lambda/function:Function": "Lambda requests and GB-seconds: no invocation rate is declared",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch Logs ingestion and storage: no volume is declared",
}


@dataclass
class CostReport:
    """The estimate of one plan: per resource, totals, and what could not be priced."""

    region: str | None
    snapshot_date: str
    resources: list[ResourceCost] = field(default_factory=list)

    @property
    def costed(self) -> list[ResourceCost]:
        return [r for r in self.resources if r.status in ("priced", "partial")]

    @property
    def unpriced(self) -> list[ResourceCost]:
        return [r for r in self.resources if r.status in ("unpriced", "partial")]

    @property
    def total_min(self) -> float:
        return round(sum(r.min_usd for r in self.costed), 2)

    @property
    def total_max(self) -> float:
        return round(sum(r.max_usd for r in self.costed), 2)

    def by_component(self) -> dict[str, tuple[float, float]]:
        totals: dict[str, tuple[float, float]] = {}
        for r in self.costed:
            low, high = totals.get(r.component, (0.0, 0.0))
            totals[r.component] = (round(low + r.min_usd, 2), round(high + r.max_usd, 2))
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0])))

    def most_expensive(self, count: int) -> list[ResourceCost]:
        return sorted(self.costed, key=lambda r: (-r.max_usd, r.urn))[:count]

    def summary(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "period": "month",
            "hoursPerMonth": HOURS_PER_MONTH,
            "region": self.region,
            "snapshotDate": self.snapshot_date,
            "monthlyUsd": {"min": self.total_min, "max": self.total_max},
            "byComponent": {k: {"min": v[0], "max": v[1]} for k, v in self.by_component().items()},
            "unpricedCount": len(self.unpriced),
            "unpriced": [{"urn": r.urn, "type": r.type, "name": r.name, "missing": r.missing}
                         for r in self.unpriced],
            "usageBased": sorted(r.urn for r in self.resources if r.status == "usage-based"),
        }


def estimate(resources: Sequence[CostInput], prices: PriceBook) -> CostReport:
    """Price every resource of a plan; the order of `resources` is kept."""
    graph = Graph(resources)
    report = CostReport(region=prices.region, snapshot_date=prices.snapshot_date)
    for resource in resources:
        report.resources.append(_price(resource, graph, prices))
    return report


def _price(resource: CostInput, graph: Graph, prices: PriceBook) -> ResourceCost:
    cost = ResourceCost.for_resource(resource, graph.component_of(resource))
    pricer = _PRICERS.get(resource.type)
    if pricer is not None:
        if prices.region is None:
            cost.add_missing("the AWS region is unknown, so no regional price applies")
        else:
            pricer(resource, graph, prices, cost)
        return cost.settle()
    if resource.type in USAGE_BASED:
        return cost.mark("usage-based", USAGE_BASED[resource.type])
    for prefix, reason in NO_CHARGE_PREFIXES.items():
        if resource.type.startswith(prefix):
            return cost.mark("none", reason)
    if not resource.type.startswith("aws:"):
        return cost.mark("none", "not an AWS resource")
    cost.add_missing(f"no pricing rule for {resource.type}")
    return cost.settle()


# --- non-SageMaker pricers ----------------------------------------------------------------------------


def _eks_cluster(resource: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    cost.hourly("eks:cluster-standard-support", 1, 1, prices, "control plane")
    cost.assume("the Kubernetes version is in standard support (extended support is billed higher)")


def _node_group(resource: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    props = resource.props
    capacity, declared = props.get("capacityType"), props.get("instanceTypes")
    if has_unknown(capacity) or has_unknown(declared):
        cost.add_missing("capacityType or instanceTypes unknown until apply")
        return
    if str(capacity or "ON_DEMAND").upper() == "SPOT":
        cost.add_missing("spot capacity: its price varies and is not in the snapshot")
        return
    types = [t for t in as_list(declared) if isinstance(t, str)]
    if not types:
        types = ["t3.medium"]
        cost.assume("instanceTypes not set: EKS's default t3.medium")
    low, high = amount(dig(props, "scalingConfig", "minSize")), amount(dig(props, "scalingConfig", "maxSize"))
    if low is None or high is None or high < low:
        cost.add_missing("scalingConfig.minSize/maxSize unknown (or maxSize below minSize)")
        return
    found = {t: prices.get(f"ec2:linux-on-demand:{t}") for t in types}
    missing = [t for t, p in found.items() if p is None]
    if missing:
        cost.add_missing(f"no price for ec2:linux-on-demand:{', '.join(missing)}")
        return
    rates = [p for p in found.values() if p is not None]
    cheapest, dearest = min(rates, key=lambda p: p.usd), max(rates, key=lambda p: p.usd)
    cost.add(cheapest.usd * low * HOURS_PER_MONTH, dearest.usd * high * HOURS_PER_MONTH,
             {cheapest.source, dearest.source},
             f"{low:g} to {high:g} x {'/'.join(types)} nodes (scalingConfig min to max) x {HOURS_PER_MONTH} h")
    cost.assume("node root volumes (EBS) and data transfer are not priced")


def _kms_key(resource: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    cost.monthly("kms:key", 1, 1, prices, "one key")
    if resource.props.get("enableKeyRotation") is True:
        cost.monthly("kms:rotated-backing-key", 0, 1, prices,
                     "rotation: each yearly rotated backing key adds one key-month (max shows the second year)")
    cost.assume("API requests are not priced")


def _metric_alarm(resource: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    props = resource.props
    queries = as_list(props.get("metricQueries"))
    metrics = sum(1 for q in queries if isinstance(q, dict) and q.get("metric") is not None) if queries else 1
    if is_unknown(props.get("metricQueries")) or metrics == 0:
        metrics = max(metrics, 1)
        cost.assume("metric count unknown: one metric")
    period = amount(props.get("period"))
    high_res = period is not None and period < 60
    key = "cloudwatch:alarm-metric-high-resolution" if high_res else "cloudwatch:alarm-metric-standard"
    cost.monthly(key, metrics, metrics, prices, f"{metrics} alarm metric(s)")
    cost.assume("before the free tier (10 standard alarm metrics per account)")


def _eks_addon(resource: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    cost.assume("its pods run on the cluster's nodes, priced on the node group")
    cost.add_missing("an add-on's own charge (Marketplace add-ons may carry one) is not in the snapshot")


def _dashboard(resource: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    cost.monthly("cloudwatch:dashboard", 1, 1, prices, "one dashboard")
    cost.assume("before the free tier (3 dashboards per account)")


_PRICERS = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:eks/addon:Addon": _eks_addon,
    "aws:kms/key:Key": _kms_key,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sagemaker/endpoint:Endpoint": price_endpoint,
    "aws:sagemaker/pipeline:Pipeline": price_pipeline,
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": price_monitoring_schedule,
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": price_mlflow,
}
PRICED_TYPES: Iterable[str] = tuple(_PRICERS)
