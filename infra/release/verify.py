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

A model delivered by pull (`deploy.delivery: pull`) is not in the stack's outputs: the ACK controller creates its
endpoint from `gitops/<env>/<model>`. Its declared configuration is the exact name the overlay renders, and it
is checked only once the model's Argo CD application has synced `--commit` and is Healthy (waited for with the
same `--wait` deadline): before that, the overlay in this checkout is not yet what the cluster asked for.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.config import SageMakerDeploy
from infra.core.naming import Naming
from infra.core.serving import ALARM_SIGNALS, VARIANT
from infra.manifests import overlays as manifests
from infra.manifests.expectations import expected_endpoint_configs, sync_verdict
from infra.release import argocd, stacks
from infra.release.aws import Aws, expect
from infra.release.errors import EXIT_VERDICT, AwsError, UsageError
from infra.release.outcome import Outcome

IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack"}
WEIGHT_TOLERANCE = 1e-6

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
    delivery: str = "push"

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "endpoint": self.endpoint, "verdict": self.verdict, "detail": self.detail,
                "status": self.status, "endpointConfigName": self.config, "declaredConfigName": self.declared,
                "delivery": self.delivery}


def run(project_dir: Path, stack: str, outputs_file: Path | None, wait: bool, timeout: float,
        interval: float, commit: str | None = None, app_json: Path | None = None) -> Outcome:
    target = stacks.load(project_dir, stack)
    if target.config.kind != "environment":
        raise UsageError(f"--stack {stack}: the shared stack has no endpoints; verify an environment stack")
    outputs = stacks.environment_outputs(outputs_file)
    served = target.config.sagemaker_models()
    pulled = sorted(m for m, d in served.items() if d.delivery == "pull")
    commit = _commit(commit, pulled)
    aws = Aws(target.config.region)
    out = Outcome("verify", data={"stack": stack, "exactConfig": outputs is not None, "commit": commit})
    declared: dict[str, str | None] = {}
    names = {model: target.naming.endpoint(model) for model in served}
    expected = _pulled_configs(project_dir, stack, pulled, names)
    for model in served:
        if model in expected:
            declared[model] = expected[model]  # exact: what the overlay renders at this commit
        elif outputs is None:
            declared[model] = None
        elif model not in outputs.endpoints:
            raise UsageError(f"--outputs {outputs_file}: no endpoint of model {model!r} in 'endpoints' "
                             f"(has: {', '.join(sorted(outputs.endpoints)) or 'none'}); outputs of another stack?")
        else:
            declared[model] = _own_outputs(outputs_file, target.naming, model, outputs.endpoints[model], names[model])
    deadline = time.monotonic() + timeout

    def settled(probe: Callable[[], Finding | None]) -> Finding | None:
        """Probe until the answer is not `updating`, or `--wait` is off, or the deadline passed."""
        while True:
            finding = probe()
            if finding is None or finding.verdict != UPDATING or not wait:
                return finding
            if time.monotonic() >= deadline:
                return replace(finding, detail=f"{finding.detail}; gave up after {timeout:g} s")
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    findings: list[Finding] = []
    for model, deploy in served.items():
        finding = None
        if model in expected and commit is not None:
            application = target.naming.argocd_application(model)
            finding = settled(lambda m=model, a=application: _sync_finding(m, names[m], a, commit, app_json,
                                                                           declared[m]))
            if finding is not None and finding.verdict == UPDATING and _final(finding.detail):
                finding = replace(finding, verdict=FAILED)
        if finding is None:
            finding = settled(lambda m=model, d=deploy: check(aws, target.naming, m, d, declared[m], names[m]))
        assert finding is not None
        findings.append(replace(finding, delivery=deploy.delivery))
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
    if outputs is None and set(served) - set(expected):
        out.say("note: without --outputs the exact endpoint configuration name is not checked (see --help)")
    if any(f.verdict != OK for f in findings):
        out.exit_code = EXIT_VERDICT
    return out


def _own_outputs(path: Path | None, naming: Naming, model: str, recorded: Any, name: str) -> str:
    """The declared configuration of `model` from --outputs, once the outputs are this stack's own: the endpoint
    the stack names for the model, on a configuration of that model (another stack's outputs are bad input)."""
    if recorded.endpoint_name != name:
        raise UsageError(f"--outputs {path}: endpoints.{model}.endpointName is {recorded.endpoint_name!r}, but "
                         f"stack {naming.stack} names it {name!r}; outputs of another stack?")
    config = recorded.endpoint_config_name
    if not config.startswith(f"{naming.prefix}-{model}-"):
        raise UsageError(f"--outputs {path}: endpoints.{model}.endpointConfigName {config!r} is not a configuration "
                         f"of stack {naming.stack} for {model} (names start {naming.prefix}-{model}-)")
    return config


def _commit(commit: str | None, pulled: list[str]) -> str | None:
    """The Git commit Argo CD must have synced: --commit, else $GITHUB_SHA; required when a model is pulled."""
    commit = commit or os.environ.get("GITHUB_SHA") or None
    if commit is None:
        if pulled:
            raise UsageError(f"--commit: required to verify the pull-delivered {', '.join(pulled)} (the Git commit "
                             f"Argo CD must have synced; default $GITHUB_SHA)")
        return None
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        raise UsageError(f"--commit {commit}: expected a Git commit SHA (7 to 40 lowercase hex digits)")
    return commit


def _pulled_configs(project_dir: Path, stack: str, pulled: list[str], names: dict[str, str]) -> dict[str, str]:
    """{model: endpoint configuration its overlay renders} for the pull-delivered models (no AWS call)."""
    if not pulled:
        return {}
    root = project_dir / "gitops"
    try:
        rendered = expected_endpoint_configs(stack, root)
    except manifests.ManifestError as exc:
        raise UsageError(str(exc)) from None
    configs: dict[str, str] = {}
    for model in pulled:
        if names[model] not in rendered:
            raise UsageError(f"{root / stack / model}: no pull overlay renders the endpoint {names[model]} of "
                             f"{model} (delivery 'pull' in the stack file); rendered: "
                             f"{', '.join(sorted(rendered)) or 'none'}")
        configs[model] = rendered[names[model]]
    return configs


def _sync_finding(model: str, endpoint: str, application: str, commit: str, app_json: Path | None,
                  declared: str | None) -> Finding | None:
    """None once the Argo CD Application has synced `commit` and is healthy, else why not (still updating)."""
    why = sync_verdict(argocd.read_application(application, app_json), commit)
    if why is None:
        return None
    return Finding(model, endpoint, UPDATING, f"Argo CD application {application} has not synced {commit[:12]} "
                                              f"and turned healthy: {why}", declared=declared)


def _final(detail: str) -> bool:
    """A sync that failed or a Degraded application will not turn healthy by waiting: failed, not updating."""
    return any(s in detail for s in ("last sync operation is Failed", "last sync operation is Error",
                                     "health is Degraded"))


def check(aws: Aws, naming: Naming, model: str, deploy: SageMakerDeploy, declared: str | None,
          name: str) -> Finding:
    try:
        endpoint = aws.call("sagemaker", "describe_endpoint", f"endpoint {name}", read=_endpoint, EndpointName=name)
    except AwsError as exc:
        if exc.code == "ValidationException" and "not find" in str(exc).lower():
            return Finding(model, name, FAILED, "the endpoint does not exist (never created, or deleted)",
                           declared=declared)
        raise
    status = endpoint["EndpointStatus"]
    current = endpoint["EndpointConfigName"]
    reason = " ".join(str(endpoint.get("FailureReason") or "").split())

    def finding(verdict: str, detail: str) -> Finding:
        return Finding(model, name, verdict, detail, status, current, declared)

    if status in IN_PROGRESS:
        target = f" towards {declared}" if declared else ""
        return finding(UPDATING, f"still {status}{target} (on {current})")
    if status != "InService":
        return finding(FAILED, f"{status}" + (f": {reason}" if reason else " (no failure reason given)"))
    if declared is not None:
        if current != declared:
            return _classify(aws, naming, model, endpoint, current, reason,
                             f"InService on {current}, not on the declared {declared}", declared)
        problem = _live_variants(aws, endpoint, current)
        if problem is not None:
            return finding(FAILED, f"InService on the declared configuration {declared}, but {problem}")
        return finding(OK, f"InService on the declared configuration {declared}, every variant at its declared "
                           f"weight with capacity")
    problem = _content_mismatch(aws, naming, model, deploy, current) or _live_variants(aws, endpoint, current)
    if problem is None:
        return finding(OK, f"InService on {current}, serving v{deploy.approved_version} as declared")
    return _classify(aws, naming, model, endpoint, current, reason, f"InService on {current}, but {problem}", None)


def _endpoint(answer: dict[str, Any]) -> dict[str, Any]:
    """A DescribeEndpoint answer with the fields `verify` reads checked (else a guarded AwsError)."""
    expect(answer, "EndpointName")
    expect(answer, "EndpointStatus")
    expect(answer, "EndpointConfigName")
    expect(answer, "FailureReason", required=False)
    expect(answer, "LastModifiedTime", datetime, required=False)
    for variant in expect(answer, "ProductionVariants", list, required=False) or []:
        expect(variant, "VariantName")
        expect(variant, "CurrentWeight", (int, float), required=False)
        expect(variant, "CurrentInstanceCount", int, required=False)
    return answer


def _config(answer: dict[str, Any]) -> dict[str, Any]:
    """A DescribeEndpointConfig answer with its variants checked."""
    for variant in expect(answer, "ProductionVariants", list):
        expect(variant, "VariantName")
        expect(variant, "ModelName", required=False)
        expect(variant, "InstanceType", required=False)
        expect(variant, "InitialInstanceCount", int, required=False)
        expect(variant, "InitialVariantWeight", (int, float), required=False)
    expect(answer, "CreationTime", datetime, required=False)
    return answer


def _live_variants(aws: Aws, endpoint: dict[str, Any], config_name: str) -> str | None:
    """Does the live endpoint serve every variant of its configuration at the declared weight, with at least one
    instance? (An endpoint on the right configuration can still serve nothing: weight 0 set by
    UpdateEndpointWeightsAndCapacities, or no instance.)"""
    config = aws.call("sagemaker", "describe_endpoint_config", f"endpoint configuration {config_name}",
                      read=_config, EndpointConfigName=config_name)
    live = {v["VariantName"]: v for v in endpoint.get("ProductionVariants") or []}
    for variant in config["ProductionVariants"]:
        name = variant["VariantName"]
        if name not in live:
            return f"its variant {name} is not live"
        weight = live[name].get("CurrentWeight")
        declared_weight = float(variant.get("InitialVariantWeight", 1.0))
        if weight is None or abs(float(weight) - declared_weight) > WEIGHT_TOLERANCE:
            return f"variant {name} carries weight {weight}, not the declared {declared_weight:g}"
        count = live[name].get("CurrentInstanceCount")
        if "InstanceType" in variant and (count is None or count < 1):
            return f"variant {name} has {count if count is not None else 'no'} instances: no serving capacity"
    return None


def _classify(aws: Aws, naming: Naming, model: str, endpoint: dict[str, Any], current: str | None, reason: str,
              what: str, declared: str | None) -> Finding:
    """Rolled back or never updated: what AWS says, then the alarms, then the timeline."""
    name = endpoint["EndpointName"]

    def finding(verdict: str, detail: str) -> Finding:
        return Finding(model, name, verdict, detail, endpoint.get("EndpointStatus"), current, declared)

    if reason:
        return finding(ROLLED_BACK, f"{what}; rolled back: {reason}")
    alarms = [naming.alarm(model, signal) for signal in ALARM_SIGNALS]
    firing = aws.call("cloudwatch", "describe_alarms", f"alarms of {name}", read=_firing, AlarmNames=alarms)
    if firing:
        return finding(ROLLED_BACK, f"{what}; rolled back: alarm {', '.join(firing)} in ALARM")
    if declared is None:
        return finding(NEVER_UPDATED, f"{what}; no update was attempted or it left no trace")
    try:
        config = aws.call("sagemaker", "describe_endpoint_config", f"endpoint configuration {declared}",
                          read=_config, EndpointConfigName=declared)
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


def _firing(answer: dict[str, Any]) -> list[str]:
    alarms = expect(answer, "MetricAlarms", list, required=False) or []
    return [expect(a, "AlarmName") for a in alarms if expect(a, "StateValue") == "ALARM"]


def _content_mismatch(aws: Aws, naming: Naming, model: str, deploy: SageMakerDeploy, current: str | None) -> str | None:
    """Without the exact name: does the served configuration run what the stack file declares?"""
    if not current or not current.startswith(f"{naming.prefix}-{model}-"):
        return f"its configuration {current!r} is not one this stack declares for {model}"
    config = aws.call("sagemaker", "describe_endpoint_config", f"endpoint configuration {current}",
                      read=_config, EndpointConfigName=current)
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
