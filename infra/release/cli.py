"""The command line of `python -m infra.release`: parse, run one subcommand, print, exit 0/1/2.

Exit codes (`infra.cli`): 0 success; 1 a verdict against you (package below the gate or without a report,
endpoint not on its declared configuration, failed smoke test, failed training); 2 no verdict: bad input or
usage (unknown model, environment or stack, unreadable stack or outputs file), or an AWS call that failed after
retries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.cli import add_format_option
from infra.core.paths import PROJECT_ROOT
from infra.release import (
    approve,
    capacity,
    drift,
    experiments,
    models,
    promote,
    retrain_status,
    smoke,
    training,
    verify,
)
from infra.release.errors import EXIT_USAGE, ReleaseError
from infra.release.outcome import Outcome


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; this keeps its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_format_option(common)
    common.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="folder holding Pulumi.yaml")
    parser = _Parser(
        prog="python -m infra.release",
        description="Release glue that CI runs: list, train, approve, promote, verify and smoke-test models "
        "(resource names from the stack files; see docs/delivery.md).",
        epilog="exit codes: 0 success; 1 a verdict against you; 2 bad input or usage, or a failed AWS call. "
        "AWS_ENDPOINT_URL and AWS_MAX_ATTEMPTS are honoured.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("models", parents=[common], help="list a stack's models (the workflows' matrix)")
    p.add_argument("--stack", help="default: the shared stack (the stack file with mlops:kind shared)")
    p.add_argument("--model", help="list only this model, after checking that the stack declares it")

    p = sub.add_parser("start-training", parents=[common], help="start a model's training pipeline")
    p.add_argument("--model", required=True)
    p.add_argument("--wait", action="store_true", help="follow the run (steps, status, elapsed time) to its end")
    p.add_argument("--git-commit", help="default: $GITHUB_SHA, else `git rev-parse HEAD`")
    p.add_argument("--data-version", help="the S3 version id of s3://<data bucket>/<model>/raw/raw.csv the run reads "
                   "(default: the newest); it is copied to the run's own prefix and recorded as DataSnapshot")
    p.add_argument("--outputs", type=Path, help="`pulumi stack output --json` of the shared stack")
    p.add_argument("--trigger-reason", help="why the run starts, recorded on the package (default: manual by "
                   "$GITHUB_ACTOR); a reason starting with `drift` counts toward the retraining guards")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds --wait waits (default 4 h)")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between polls")

    p = sub.add_parser("approve", parents=[common], help="approve or reject a package by its evaluation report")
    p.add_argument("--model", required=True)
    p.add_argument("--package", help="package version ARN (default: the newest PendingManualApproval)")
    p.add_argument("--overrule", metavar="REASON", help="with --package: decide a package a person already Rejected "
                   "(the reason is recorded in its ApprovalDescription with the earlier one)")

    p = sub.add_parser("promote", parents=[common], help="pin the newest approved version in an environment")
    p.add_argument("--model", required=True)
    p.add_argument("--to", required=True, metavar="ENV", help="environment stack, e.g. staging")

    p = sub.add_parser("verify", parents=[common], help="every endpoint InService on its declared configuration")
    p.add_argument("--stack", required=True)
    p.add_argument("--outputs", type=Path, help="`pulumi stack output --json` of the stack: the exact config names")
    p.add_argument("--wait", action="store_true", help="wait while an endpoint is still updating (or, for delivery "
                   "pull, while Argo CD has not yet synced --commit)")
    p.add_argument("--commit", metavar="SHA", help="delivery pull: the Git commit the model's Argo CD application must "
                   "have synced before the endpoint is checked (default: $GITHUB_SHA)")
    p.add_argument("--argocd-app-json", type=Path, metavar="FILE", help="delivery pull: read the Argo CD "
                   "application(s) from this JSON instead of `kubectl -n argocd get application NAME -o json`")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits (default 1 h)")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between polls")

    p = sub.add_parser("live-capacity", parents=[common], help="live instance counts as config for `pulumi up` "
                       "(a release starts at the live capacity)")
    p.add_argument("--stack", required=True)

    p = sub.add_parser("smoke-test", parents=[common], help="invoke every endpoint with the sample payload")
    p.add_argument("--stack", required=True)
    p.add_argument("--latency-budget-ms", type=int, help="default: the model's alarms.latencyP99Ms")
    p = sub.add_parser("drift", parents=[common], help="latest drift monitor results: PSI by feature (exit 1: drift)")
    p.add_argument("--model", required=True)
    p.add_argument("--stack", required=True)
    p.add_argument("--hours", type=float, default=24.0, help="look back this many hours (default 24)")

    p = sub.add_parser("retrain-status", parents=[common], help="what the retraining guards decided and why")
    p.add_argument("--model", required=True)

    p = sub.add_parser("log-experiment", parents=[common], help="log a candidate to MLflow and link the run on it")
    p.add_argument("--model", required=True)
    p.add_argument("--package", help="package version ARN (default: the newest PendingManualApproval)")
    p.add_argument("--tracking-uri", help="default: the shared stack's MLflow tracking server")
    return parser


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise _Usage(f"--{name} must be > 0, got {value}")


class _Usage(ReleaseError):
    exit_code = EXIT_USAGE


def run(args: argparse.Namespace) -> Outcome:
    project = args.project_dir
    if args.command == "models":
        return models.run(project, args.stack, args.model)
    if args.command == "start-training":
        _positive("timeout", args.timeout)
        _positive("interval", args.interval)
        return training.run(project, args.model, commit=args.git_commit, data_version=args.data_version,
                            outputs_file=args.outputs, wait=args.wait, timeout=args.timeout, interval=args.interval,
                            reason=args.trigger_reason)
    if args.command == "approve":
        return approve.run(project, args.model, args.package, args.overrule)
    if args.command == "promote":
        return promote.run(project, args.model, args.to)
    if args.command == "verify":
        _positive("timeout", args.timeout)
        _positive("interval", args.interval)
        return verify.run(project, args.stack, args.outputs, args.wait, args.timeout, args.interval,
                          commit=args.commit, app_json=args.argocd_app_json)
    if args.command == "drift":
        _positive("hours", args.hours)
        return drift.run(project, args.model, args.stack, args.hours)
    if args.command == "retrain-status":
        return retrain_status.run(project, args.model)
    if args.command == "log-experiment":
        return experiments.run(project, args.model, args.package, args.tracking_uri)
    if args.command == "live-capacity":
        return capacity.run(project, args.stack)
    return smoke.run(project, args.stack, args.latency_budget_ms)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        outcome = run(args)
    except ReleaseError as exc:
        message = " ".join(str(exc).split())  # one line, whatever a tool underneath said
        print(f"infra.release {args.command}: error: {message}", file=sys.stderr)
        if args.format == "json":  # machines get a document on stdout as well
            Outcome(args.command, exc.exit_code, data={**exc.data, "error": message}).render("json")
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"infra.release {args.command}: interrupted", file=sys.stderr)
        return 130
    outcome.render(args.format)
    return outcome.exit_code
