"""`verify`: every SageMaker endpoint of a stack is InService on exactly the configuration the stack declares.

`pulumi up` can "succeed" while SageMaker rolled the blue/green update back (an alarm fired during the bake),
or while the endpoint never moved to the new configuration. This command tells those apart:

* rolled back: InService on another configuration, and AWS says why (FailureReason), or one of the model's
  rollback alarms is in ALARM, or the endpoint changed after the declared configuration was created;
* never updated: InService on another configuration that predates the declared one (or the declared one
  does not exist);
* still updating: Creating/Updating/SystemUpdating/RollingBack (`--wait` polls until a deadline);
* failed: Failed, OutOfService, UpdateRollbackFailed, Deleting, or no endpoint at all.

The declared configuration's name ends with a digest of its resolved content (role ARN, key ARN, capture
bucket: values only the engine knows), so it cannot be recomputed from the stack file. `--outputs` (the JSON
of `pulumi stack output --json`) gives the exact name; without it the check is weaker but still real: the
configuration the endpoint serves must run the model version the stack file pins (the model name carries
`v<version>`) with the declared instance type and count. CI always passes `--outputs`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.components.sagemaker_endpoint import VARIANT
from infra.config import SageMakerDeploy
from infra.naming import Naming
from infra.release import stacks
from infra.release.aws import Aws
from infra.release.errors import EXIT_VERDICT, AwsError, UsageError
from infra.release.outcome import Outcome

IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack"}
ALARM_SIGNALS = ("5xx-errors", "model-errors", "latency-p99")

OK, ROLLED_BACK, NEVER_UPDATED, UPDATING, FAILED = "ok", "rolled-back", "never-updated", "updating", "failed"


@dataclass(frozen=True)
class Finding:
    model: str
    endpoint: str
    verdict: str
    detail: str
    status: str | None = None
    config: str | None = None
    declared: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "endpoint": self.endpoint, "verdict": self.verdict, "detail": self.detail,
                "status": self.status, "endpointConfigName": self.config, "declaredConfigName": self.declared}


def run(project_dir: Path, stack: str, outputs_file: Path | None, wait: bool, timeout: float,
        interval: float) -> Outcome:
    target = stacks.load(project_dir, stack)
    if target.config.kind != "environment":
        raise UsageError(f"--stack {stack}: the shared stack has no endpoints; verify an environment stack")
    outputs = stacks.environment_outputs(outputs_file)
    served = target.config.sagemaker_models()
    aws = Aws(target.config.region)
    out = Outcome("verify", data={"stack": stack, "exactConfig": outputs is not None})
    declared: dict[str, str | None] = {}
    names = {model: target.naming.endpoint(model) for model in served}
    for model in served:
        if outputs is None:
            declared[model] = None
        elif model not in outputs.endpoints:
            raise UsageError(f"--outputs {outputs_file}: no endpoint of model {model!r} in 'endpoints' "
                             f"(has: {', '.join(sorted(outputs.endpoints)) or 'none'}); outputs of another stack?")
        else:
            declared[model] = outputs.endpoints[model].endpoint_config_name
            names[model] = outputs.endpoints[model].endpoint_name  # the engine's own record wins
    deadline = time.monotonic() + timeout
    findings: list[Finding] = []
    for model, deploy in served.items():
        while True:
            finding = check(aws, target.naming, model, deploy, declared[model], names[model])
            if finding.verdict != UPDATING or not wait:
                break
            if time.monotonic() >= deadline:
                finding = Finding(**{**vars(finding), "detail": f"{finding.detail}; gave up after {timeout:g} s"})
                break
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        findings.append(finding)
    skipped = sorted(set(target.config.models) - set(served))
    out.data["endpoints"] = [f.to_json() for f in findings]
    out.data["skipped"] = skipped
    if not served:
        out.say(f"stack {stack} serves no model on SageMaker; nothing to verify")
    for f in findings:
        mark = "ok  " if f.verdict == OK else "FAIL"
        out.say(f"{mark} {f.endpoint} ({f.model}): {f.verdict}: {f.detail}")
    for model in skipped:
        out.say(f"skip {model}: not served on SageMaker in {stack} (the pull path is checked by Argo CD's health)")
    if outputs is None and served:
        out.say("note: without --outputs the exact endpoint configuration name is not checked (see --help)")
    if any(f.verdict != OK for f in findings):
        out.exit_code = EXIT_VERDICT
    return out


def check(aws: Aws, naming: Naming, model: str, deploy: SageMakerDeploy, declared: str | None,
          name: str) -> Finding:
    try:
        endpoint = aws.call("sagemaker", "describe_endpoint", f"endpoint {name}", EndpointName=name)
    except AwsError as exc:
        if exc.code == "ValidationException" and "not find" in str(exc).lower():
            return Finding(model, name, FAILED, "the endpoint does not exist (never created, or deleted)",
                           declared=declared)
        raise
    status = endpoint.get("EndpointStatus", "Unknown")
    current = endpoint.get("EndpointConfigName")
    reason = " ".join(str(endpoint.get("FailureReason") or "").split())

    def finding(verdict: str, detail: str) -> Finding:
        return Finding(model, name, verdict, detail, status, current, declared)

    if status in IN_PROGRESS:
        target = f" towards {declared}" if declared else ""
        return finding(UPDATING, f"still {status}{target} (on {current})")
    if status != "InService":
        return finding(FAILED, f"{status}" + (f": {reason}" if reason else " (no failure reason given)"))
    if declared is not None:
        if current == declared:
            return finding(OK, f"InService on the declared configuration {declared}")
        return _classify(aws, naming, model, endpoint, current, reason,
                         f"InService on {current}, not on the declared {declared}", declared)
    problem = _content_mismatch(aws, naming, model, deploy, current)
    if problem is None:
        return finding(OK, f"InService on {current}, serving v{deploy.approved_version} as declared")
    return _classify(aws, naming, model, endpoint, current, reason, f"InService on {current}, but {problem}", None)


def _classify(aws: Aws, naming: Naming, model: str, endpoint: dict[str, Any], current: str | None, reason: str,
              what: str, declared: str | None) -> Finding:
    """Rolled back or never updated: what AWS says, then the alarms, then the timeline."""
    name = endpoint["EndpointName"]

    def finding(verdict: str, detail: str) -> Finding:
        return Finding(model, name, verdict, detail, endpoint.get("EndpointStatus"), current, declared)

    if reason:
        return finding(ROLLED_BACK, f"{what}; rolled back: {reason}")
    alarms = [naming.alarm(model, signal) for signal in ALARM_SIGNALS]
    described = aws.call("cloudwatch", "describe_alarms", f"alarms of {name}", AlarmNames=alarms)
    firing = [a["AlarmName"] for a in described.get("MetricAlarms", []) if a.get("StateValue") == "ALARM"]
    if firing:
        return finding(ROLLED_BACK, f"{what}; rolled back: alarm {', '.join(firing)} in ALARM")
    if declared is None:
        return finding(NEVER_UPDATED, f"{what}; no update was attempted or it left no trace")
    try:
        config = aws.call("sagemaker", "describe_endpoint_config", f"endpoint configuration {declared}",
                          EndpointConfigName=declared)
    except AwsError as exc:
        if exc.code == "ValidationException":
            return finding(NEVER_UPDATED, f"{what}; the declared configuration does not exist")
        raise
    created: datetime | None = config.get("CreationTime")
    changed: datetime | None = endpoint.get("LastModifiedTime")
    if created and changed and changed >= created:
        return finding(ROLLED_BACK, f"{what}; the endpoint changed at {changed:%Y-%m-%dT%H:%M:%SZ}, after the "
                                    f"declared configuration was created, and went back (no reason given by AWS)")
    return finding(NEVER_UPDATED, f"{what}; the endpoint has not changed since before the declared "
                                  f"configuration was created")


def _content_mismatch(aws: Aws, naming: Naming, model: str, deploy: SageMakerDeploy, current: str | None) -> str | None:
    """Without the exact name: does the served configuration run what the stack file declares?"""
    if not current or not current.startswith(f"{naming.prefix}-{model}-"):
        return f"its configuration {current!r} is not one this stack declares for {model}"
    config = aws.call("sagemaker", "describe_endpoint_config", f"endpoint configuration {current}",
                      EndpointConfigName=current)
    variants = {v.get("VariantName"): v for v in config.get("ProductionVariants", [])}
    primary = variants.get(VARIANT)
    if primary is None:
        return f"its configuration has no {VARIANT} variant"
    model_prefix = f"{naming.prefix}-{model}-v{deploy.approved_version}-"
    if not str(primary.get("ModelName", "")).startswith(model_prefix):
        return f"it serves model {primary.get('ModelName')}, not v{deploy.approved_version} as the stack pins"
    if deploy.instance_type and primary.get("InstanceType") != deploy.instance_type:
        return f"its instance type is {primary.get('InstanceType')}, not {deploy.instance_type}"
    if deploy.instance_type and deploy.autoscaling is None and primary.get("InitialInstanceCount") != \
            deploy.instance_count:
        return f"its instance count is {primary.get('InitialInstanceCount')}, not {deploy.instance_count}"
    return None
