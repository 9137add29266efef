"""Seeding the emulator through the real AWS API (boto3 against moto's server), as the platform would leave it."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from infra.core.naming import Naming

REGION = "us-east-1"
SHARED = Naming(project="mlops", stack="shared")
REPORTS_BUCKET = "mlops-shared-artifacts-111111111111"
ROLE = "arn:aws:iam::123456789012:role/mlops-dev-churn-serving"


_CLIENTS: dict[tuple[str, str | None], Any] = {}


def client(service: str) -> Any:
    """One client per service and emulator (building a client is the slow part of a seed)."""
    key = (service, os.environ.get("AWS_ENDPOINT_URL"))
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.client(service, region_name=REGION)
    return _CLIENTS[key]


def evaluation_report(metric: str, value: float) -> dict[str, Any]:
    """The layout model_code.evaluate writes."""
    other = {m: {"standard_deviation": "NaN", "value": 0.5} for m in ("accuracy", "auc", "f1", "precision", "recall")}
    other[metric] = {"standard_deviation": "NaN", "value": value}
    return {"binary_classification_metrics": {**other, "confusion_matrix": {"0": {"0": 1, "1": 0},
                                                                            "1": {"0": 0, "1": 1}}}}


def package_group(model: str) -> str:
    name = SHARED.package_group(model)
    sm = client("sagemaker")
    groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if name not in {g["ModelPackageGroupName"] for g in groups}:
        sm.create_model_package_group(ModelPackageGroupName=name)
    return name


def register(model: str, *, status: str = "PendingManualApproval", report: dict[str, Any] | str | None = None,
             report_key: str | None = None, commit: str = "0123abcd" * 5, snapshot: str = "s3://data/raw.csv?v=1",
             execution: str | None = None, raw: dict[str, str] | None = None) -> str:
    """A package as the pipeline's Register step leaves it; `report` None means the pipeline wrote none; `raw`:
    the RawDataUri and RawDataSha256 the run read (absent: a package registered before runs were pinned)."""
    group = package_group(model)
    s3 = client("s3")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if REPORTS_BUCKET not in buckets:
        s3.create_bucket(Bucket=REPORTS_BUCKET)
    key = report_key or f"{model}/exec-{len(buckets)}-{commit[:6]}-{status}/evaluation/evaluation.json"
    if report is not None:
        body = report if isinstance(report, str) else json.dumps(report)
        s3.put_object(Bucket=REPORTS_BUCKET, Key=key, Body=body.encode())
    metadata = {"GitCommit": commit, "DataSnapshot": snapshot, **(raw or {})}
    if execution:
        metadata["PipelineExecutionArn"] = execution
    arn = client("sagemaker").create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        CustomerMetadataProperties=metadata,
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                      "S3Uri": f"s3://{REPORTS_BUCKET}/{key}"}}},
        InferenceSpecification={"Containers": [{"Image": "111111111111.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]
    return arn


def endpoint_config(stack: str, model: str, version: int, digest: str, *, instance_type: str = "ml.m5.large",
                    count: int = 1) -> str:
    naming = Naming(project="mlops", stack=stack)
    sm = client("sagemaker")
    model_name = naming.sagemaker_model(model, version, "m" + digest)
    sm.create_model(ModelName=model_name, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"ModelPackageName": f"arn:aws:sagemaker:{REGION}:111111111111:model-package/"
                                                          f"{SHARED.package_group(model)}/{version}"})
    name = naming.endpoint_config(model, digest)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model_name, "InstanceType": instance_type,
        "InitialInstanceCount": count, "InitialVariantWeight": 1.0}])
    return name


def endpoint(stack: str, model: str, config: str) -> str:
    name = Naming(project="mlops", stack=stack).endpoint(model)
    client("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName=config)
    return name


def alarm(stack: str, model: str, signal: str, state: str) -> str:
    name = Naming(project="mlops", stack=stack).alarm(model, signal)
    cw = client("cloudwatch")
    cw.put_metric_alarm(AlarmName=name, Namespace="AWS/SageMaker", MetricName="ModelLatency", Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
    return name


def outputs_file(path: Any, stack: str, configs: dict[str, str]) -> Any:
    """What `pulumi stack output --json` prints for an environment stack."""
    naming = Naming(project="mlops", stack=stack)
    document = {
        "endpoints": {m: {"endpointName": naming.endpoint(m), "endpointConfigName": c} for m, c in configs.items()},
        "pinnedVersions": {"churn": 3, "fraud": 2},
        "alarmTopicArn": f"arn:aws:sns:{REGION}:222222222222:{naming.topic('alarms')}",
        "ciPreviewRoleArn": f"arn:aws:iam::222222222222:role/{naming.ci_role('preview')}",
        "ciDeployRoleArn": f"arn:aws:iam::222222222222:role/{naming.ci_role('deploy')}",
    }
    path.write_text(json.dumps(document, indent=2))
    return path


DATA_BUCKET = "mlops-shared-data-111111111111"


def data_bucket(bucket: str = DATA_BUCKET) -> str:
    """The shared data bucket as the platform declares it: versioned, SSE-KMS by default with a customer key.
    Returns the key's ARN."""
    s3 = client("s3")
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        key = client("kms").create_key(Description="shared")["KeyMetadata"]["Arn"]
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]


def raw_data(model: str, body: bytes, bucket: str = DATA_BUCKET, name: str = "raw.csv") -> str:
    """Upload one version of a model's raw data file (as a data engineer would); returns its version id."""
    data_bucket(bucket)
    return client("s3").put_object(Bucket=bucket, Key=f"{model}/raw/{name}", Body=body)["VersionId"]


def pipeline(name: str = "mlops-shared-churn") -> str:
    client("sagemaker").create_pipeline(PipelineName=name, PipelineDefinition="{}",
                                        RoleArn="arn:aws:iam::123456789012:role/mlops-shared-churn-pipeline")
    return name


def execution_parameters(arn: str) -> dict[str, str]:
    """The parameters a pipeline execution was started with, as SageMaker records them."""
    answer = client("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    return {p["Name"]: p["Value"] for p in answer["PipelineParameters"]}


def register_as_run(model: str, execution: str, **changes: str) -> str:
    """The package the run `execution` registers: its lineage from the run's own parameters, unless `changes`
    (metadata key -> value) says the pipeline recorded something else."""
    parameters = execution_parameters(execution)
    lineage = {k: parameters[k] for k in ("GitCommit", "DataSnapshot", "RawDataUri", "RawDataSha256")}
    lineage.update(changes)
    return register(model, report=evaluation_report("auc", 0.9), commit=lineage.pop("GitCommit"),
                    snapshot=lineage.pop("DataSnapshot"), execution=execution, raw=lineage)
