"""`approve`: decide a candidate package by its own evaluation report against the model's metric gate.

Never approves without a readable report. A report that is missing or below the gate rejects the package with
the reason in ApprovalDescription (exit 1); a report that could not be *read* (network, permissions) changes
nothing and fails (exit 1), because nothing may be decided on a report nobody saw.

A person's decision stands: `approve --package` on a package that is already Rejected changes nothing (exit 1)
unless `--overrule REASON` is given, and then the ApprovalDescription records the overruling, its reason and
the earlier decision's reason. The package's status is read again right before the update; if it changed since
it was read (someone decided meanwhile), nothing is written (exit 1).

moto's UpdateModelPackage clears every field a call leaves out (real SageMaker keeps them), so the update
always passes the package's CustomerMetadataProperties back: on AWS a no-op, on the emulator it keeps the
lineage.
"""

from __future__ import annotations

from pathlib import Path

from infra.release import baselines, registry, stacks
from infra.release.aws import Aws
from infra.release.errors import EXIT_OK, EXIT_VERDICT, UsageError
from infra.release.outcome import Outcome
from infra.release.registry import Package, ReportError

PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"


def run(project_dir: Path, model: str, package_arn: str | None, overrule: str | None = None) -> Outcome:
    shared = stacks.load_shared(project_dir)
    gate = stacks.training_of(shared, model).metric_gate
    group = shared.naming.package_group(model)
    aws = Aws(shared.config.region)
    out = Outcome("approve", data={"model": model, "gate": {"metric": gate.metric, "threshold": gate.threshold}})
    if overrule is not None and (not package_arn or not overrule.strip()):
        raise UsageError("--overrule REASON: needs --package ARN (the one package whose rejection you overrule) "
                         "and a non-empty reason")
    if package_arn:
        if f":model-package/{group}/" not in package_arn:
            raise UsageError(f"--package {package_arn}: not a version of {model}'s package group {group}")
        package = registry.describe(aws, package_arn)
    else:
        found = registry.newest(aws, group, PENDING)
        if found is None:
            out.exit_code = EXIT_VERDICT
            out.data["package"] = None
            out.say(f"no {PENDING} package in {group}: nothing to approve")
            return out
        package = found
    out.data["package"] = package.to_json()
    out.say(f"package {group} v{package.version} ({package.status})")
    out.say(f"  git commit {package.git_commit}, data snapshot {package.data_snapshot}")
    if package.status == APPROVED:
        out.say("  already Approved; nothing to do")
        out.data["decision"] = APPROVED
        return out
    if package_arn is None and package.status != PENDING:  # listed as pending, decided since
        return _stale(out, package, PENDING)
    if package.status == REJECTED and overrule is None:
        out.exit_code = EXIT_VERDICT
        out.data["decision"] = None
        out.say(f"  already Rejected ({package.approval_description or 'no reason recorded'}); a decision is not "
                f"overturned without --overrule REASON")
        return out
    try:
        report = registry.read_report(aws, package)
        value = registry.metric_value(report, gate.metric, package.report_uri or "")
    except ReportError as exc:
        return _decide(aws, out, package, REJECTED, f"rejected by infra.release approve: {exc}", overrule)
    out.data["metric"] = {"name": gate.metric, "value": value}
    comparison = f"{gate.metric} {value:.6f} {'>=' if value >= gate.threshold else '<'} gate {gate.threshold}"
    if value >= gate.threshold:
        _decide(aws, out, package, APPROVED, f"approved by infra.release approve: {comparison} "
                                             f"({package.report_uri})", overrule)
        return _publish_baseline(aws, out, shared, model, package)
    return _decide(aws, out, package, REJECTED, f"rejected by infra.release approve: {comparison} "
                                                f"({package.report_uri})", overrule)


def _stale(out: Outcome, package: Package, expected: str) -> Outcome:
    out.exit_code = EXIT_VERDICT
    out.data["decision"] = None
    out.say(f"  was {expected} when read, is {package.status} now (decided meanwhile); nothing changed")
    return out


def _decide(aws: Aws, out: Outcome, package: Package, status: str, description: str,
            overrule: str | None) -> Outcome:
    if package.status == REJECTED and status == REJECTED:  # keep the person's reason; nothing to overturn
        out.exit_code = EXIT_VERDICT
        out.data["decision"] = REJECTED
        out.say(f"  stays Rejected (this evaluation agrees: {description}); its recorded reason is kept")
        return out
    now = registry.describe(aws, package.arn)  # the state at the moment of the decision
    if now.status != package.status:
        return _stale(out, now, package.status)
    if package.status == REJECTED:
        earlier = " ".join((package.approval_description or "no reason recorded").split())
        description = f"overruled an earlier rejection ({earlier[:300]}) because: {overrule}; {description}"
        out.data["overruled"] = {"reason": overrule, "earlierDescription": package.approval_description}
    kwargs = {"ModelPackageArn": package.arn, "ModelApprovalStatus": status, "ApprovalDescription": description[:1024]}
    if package.metadata:
        kwargs["CustomerMetadataProperties"] = package.metadata  # see module docstring (moto clears it otherwise)
    aws.call("sagemaker", "update_model_package", package.arn, **kwargs)
    out.data["decision"] = status
    out.data["approvalDescription"] = kwargs["ApprovalDescription"]
    out.say(f"  {status}: {description}")
    out.exit_code = EXIT_OK if status == APPROVED else EXIT_VERDICT
    return out


def _publish_baseline(aws: Aws, out: Outcome, shared: stacks.Stack, model: str, package: Package) -> Outcome:
    """The approved version's data baseline, where the monitors of the environments that pin it read it."""
    if out.data.get("decision") != APPROVED or out.exit_code != EXIT_OK:
        return out  # not approved after all (the package changed state under us): nothing to publish
    account = shared.config.account_id
    if account is None:  # the bucket name needs the account; the shared stack files here always set it
        out.say("  baseline not published: the shared stack sets no accountId")
        return out
    written = baselines.publish(aws, package.arn, shared.naming.bucket("artifacts", account), model, package.version)
    out.data["baseline"] = written
    out.say(f"  baseline published: {', '.join(written)}" if written else
            "  the package carries no DriftCheckBaselines: no baseline published (its monitors will fail)")
    return out
