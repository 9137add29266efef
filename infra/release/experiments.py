"""`log-experiment`: link a registered candidate to its MLflow run on the package, logging the run first when
the pipeline could not (docs/pipeline.md, Experiments).

With a tracking server and a VPC the pipeline's LogExperiment step logs every run itself and the package's
evaluation report already links it (`mlflow_run`): then only that link is recorded on the package. Without a VPC
(no step may reach the network there) and for packages registered before, CI logs the finished run from outside
(`train.yml`, after `start-training --wait`): the hyperparameters the stack passed, the metrics of the package's
evaluation report, and the package's lineage (GitCommit, DataSnapshot, TriggerReason, execution, baseline) as
tags. Either way the run's URI is recorded on the package (`CustomerMetadataProperties.MlflowRun`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.core.arns import Arns
from infra.core.pipeline.spec import lineage_value
from infra.release import registry, stacks
from infra.release.aws import Aws
from infra.release.errors import ReleaseError, UsageError
from infra.release.outcome import Outcome

META_MLFLOW_RUN = "MlflowRun"


def tracking_server_arn(shared: stacks.Stack) -> str | None:
    """The shared stack's tracking server, named as the program names it (None without `experiments`)."""
    experiments = shared.config.experiments
    if experiments is None or not experiments.enabled or shared.config.account_id is None:
        return None
    arns = Arns.for_region(shared.config.region, shared.config.account_id)
    return arns.sagemaker(f"mlflow-tracking-server/{shared.naming.mlflow_tracking_server()}")


def metrics_of(report: dict[str, Any]) -> dict[str, float]:
    found = report.get("binary_classification_metrics") or {}
    return {name: float(entry["value"]) for name, entry in sorted(found.items())
            if isinstance(entry, dict) and isinstance(entry.get("value"), int | float)
            and not isinstance(entry.get("value"), bool)}


def run(project_dir: Path, model: str, package_arn: str | None, tracking_uri: str | None) -> Outcome:
    shared = stacks.load_shared(project_dir)
    training = stacks.training_of(shared, model)
    uri = tracking_uri or tracking_server_arn(shared)
    if uri is None:
        raise UsageError("no tracking server: set mlops:experiments.enabled in the shared stack, or --tracking-uri")
    aws, group = Aws(shared.config.region), shared.naming.package_group(model)
    package = registry.describe(aws, package_arn) if package_arn else registry.newest(aws, group,
                                                                                       "PendingManualApproval")
    if package is None:
        raise UsageError(f"no PendingManualApproval package in {group}; give --package")
    report = registry.read_report(aws, package)
    linked = report.get("mlflow_run")
    if isinstance(linked, dict) and isinstance(linked.get("run_id"), str) and isinstance(linked.get("tracking_uri"),
                                                                                         str):
        return _record(aws, model, package, linked["tracking_uri"], linked["run_id"], shared, logged_by="pipeline")
    try:
        import mlflow

        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(shared.naming.pipeline(model))
        with mlflow.start_run(run_name=f"{group}-v{package.version}") as active:
            mlflow.log_params(training.hyperparameter_strings())
            mlflow.log_metrics(metrics_of(report))
            mlflow.set_tags({"package": package.arn, **{f"lineage.{k}": v for k, v in package.metadata.items()}})
            run_id = active.info.run_id
    except Exception as exc:  # MLflow's client raises its own exception types for transport and API errors
        raise ReleaseError(f"logging to {uri} failed: {' '.join(str(exc).split())[:300]}") from None
    return _record(aws, model, package, uri, run_id, shared, logged_by="log-experiment")


def _record(aws: Aws, model: str, package: registry.Package, uri: str, run_id: str, shared: stacks.Stack,
            logged_by: str) -> Outcome:
    """Record the run on the package (`MlflowRun`), keeping its lineage."""
    group = shared.naming.package_group(model)
    run_uri = f"runs:/{run_id}"
    # `<tracking uri> runs:/<id>`, through lineage_value: a `#` would make UpdateModelPackage refuse the value.
    metadata = {**package.metadata, META_MLFLOW_RUN: lineage_value(f"{uri} {run_uri}")}
    aws.call("sagemaker", "update_model_package", package.arn, ModelPackageArn=package.arn,
             CustomerMetadataProperties=metadata)
    out = Outcome("log-experiment", data={"model": model, "package": package.arn, "trackingUri": uri,
                                          "runId": run_id, "runUri": run_uri, "loggedBy": logged_by})
    how = "logged by the pipeline, linked" if logged_by == "pipeline" else "logged"
    out.say(f"{group} v{package.version}: MLflow run {run_id} ({how}) in experiment "
            f"{shared.naming.pipeline(model)} ({uri})")
    return out
