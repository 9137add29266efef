"""`drift`: the latest drift monitor results of one model in one environment, PSI by feature (docs/monitoring.md).

Reads what the monitoring jobs published (CloudWatch metrics `feature_psi` per feature and `max_feature_psi`, by
`infra.core.monitoring`) over the last `--hours`, and the drift alarm's state. Exit 1 when a feature's latest PSI is
over the environment's `monitoring.psiThreshold`; 0 otherwise (also when no run reported yet, which is said).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.config import KubernetesDeploy, SageMakerDeploy
from infra.core.monitoring import METRIC_FEATURE_PSI, drift_alarm
from infra.release import stacks
from infra.release.aws import Aws
from infra.release.errors import EXIT_OK, EXIT_VERDICT, UsageError
from infra.release.outcome import Outcome


def run(project_dir: Path, model: str, stack: str, hours: float, now: datetime | None = None) -> Outcome:
    env = stacks.load(project_dir, stack)
    deploy = env.model(model).deploy
    if not isinstance(deploy, SageMakerDeploy | KubernetesDeploy) or not deploy.monitoring.enabled:
        raise UsageError(f"--model {model}: not monitored in stack {stack!r} (set models.{model}.deploy.monitoring."
                         f"enabled in {env.file})")
    alarm = drift_alarm(env.naming, model, deploy.monitoring, "capture" if isinstance(deploy, KubernetesDeploy)
                        else "endpoint")
    aws, end = Aws(env.config.region), now or datetime.now(UTC)
    start = end - timedelta(hours=hours)
    base = {k: v for k, v in alarm.dimensions.items() if k != "FeatureSet"}
    features = _latest_psi(aws, alarm.namespace, base, start, end, alarm.period_seconds)
    state = aws.call("cloudwatch", "describe_alarms", alarm.name, AlarmNames=[alarm.name]).get("MetricAlarms", [])
    drifted = sorted(name for name, (value, _) in features.items() if value > alarm.threshold)
    out = Outcome("drift", exit_code=EXIT_VERDICT if drifted else EXIT_OK, data={
        "model": model, "stack": stack, "threshold": alarm.threshold, "alarm": alarm.name,
        "alarmState": state[0].get("StateValue") if state else None,
        "features": [{"feature": name, "psi": value, "at": at.isoformat(), "drifted": value > alarm.threshold}
                     for name, (value, at) in sorted(features.items())],
        "drifted": drifted,
    })
    out.say(f"{model} in {stack}: PSI by feature over the last {hours:g} h (threshold {alarm.threshold:g}); "
            f"drift alarm {alarm.name}: {out.data['alarmState'] or 'not found'}")
    if not features:
        out.say("  no monitoring results in that window (no run yet, or no captured requests)")
        return out
    out.say(f"  {'feature':<24} {'psi':>8}  {'at (UTC)':<20} status")
    for name, (value, at) in sorted(features.items()):
        out.say(f"  {name:<24} {value:8.4f}  {at:%Y-%m-%d %H:%M:%S}  {'DRIFT' if value > alarm.threshold else 'ok'}")
    out.say(f"  drifted: {', '.join(drifted) or 'none'}")
    return out


def _latest_psi(aws: Aws, namespace: str, base: dict[str, str], start: datetime, end: datetime,
                period: int) -> dict[str, tuple[float, datetime]]:
    """Feature -> (latest PSI, its time): every `feature_psi` series of this schedule and model."""
    listed = aws.call("cloudwatch", "list_metrics", namespace, Namespace=namespace, MetricName=METRIC_FEATURE_PSI,
                      Dimensions=[{"Name": k, "Value": v} for k, v in base.items()]).get("Metrics", [])
    latest: dict[str, tuple[float, datetime]] = {}
    for metric in listed:
        dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        if "Feature" not in dims or any(dims.get(k) != v for k, v in base.items()):
            continue
        points: list[dict[str, Any]] = aws.call(
            "cloudwatch", "get_metric_statistics", namespace, Namespace=namespace, MetricName=METRIC_FEATURE_PSI,
            Dimensions=metric["Dimensions"], StartTime=start, EndTime=end, Period=period, Statistics=["Maximum"],
        ).get("Datapoints", [])
        if points:
            newest = max(points, key=lambda p: p["Timestamp"])
            latest[dims["Feature"]] = (float(newest["Maximum"]), newest["Timestamp"])
    return latest
