"""A model's training path: a SageMaker Pipeline (preprocess, train, evaluate, gate, register), the
least-privilege role it runs as, and an optional retraining schedule.

The pipeline definition is built by the `sagemaker` SDK (see `infra.core.pipeline`), from names that are
known at preview time, so `pulumi preview` and the policy pack see the real definition, not an unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.service_resources import service_role
from infra.config import Network, Training
from infra.core import bucket_layout
from infra.core.arns import Arns
from infra.core.iam import (
    ECR_PULL_ACTIONS,
    MLFLOW_LOGGING_ACTIONS,
    allow,
    ecr_login,
    sagemaker_metrics,
    vpc_attachment,
)
from infra.core.naming import Naming, model_tags
from infra.core.pipeline import PipelineSpec, build_pipeline_definition
from infra.core.pipeline.spec import (
    PARAM_DATA_SNAPSHOT,
    PARAM_TRIGGER_REASON,
    ExperimentLogging,
    lineage_value,
    scheduled_data_snapshot,
)


@dataclass(frozen=True)
class TrainingPipelineArgs:
    naming: Naming
    model: str
    training: Training
    network: Network
    account_id: pulumi.Input[str]
    region: str
    partition: str
    kms_key_arn: pulumi.Input[str]
    data_bucket: pulumi.Input[str]
    artifacts_bucket: pulumi.Input[str]
    training_repository_arn: pulumi.Input[str]
    serving_repository_arn: pulumi.Input[str]
    training_image_uri: pulumi.Input[str]
    serving_image_uri: pulumi.Input[str]
    package_group_name: pulumi.Input[str]
    # The shared stack's MLflow tracking server; the pipeline logs to it only inside a VPC (docs/pipeline.md).
    tracking_server_arn: pulumi.Input[str] | None = None


class TrainingPipeline(pulumi.ComponentResource):
    """`mlops:training:TrainingPipeline`: pipeline, execution role and retraining schedule of one model."""

    role: aws.iam.Role
    pipeline: aws.sagemaker.Pipeline
    experiment_role: aws.iam.Role | None  # the LogExperiment step's role, when the pipeline has that step

    def __init__(self, name: str, args: TrainingPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:training:TrainingPipeline", name, None, opts)
        self._args = args
        self._arns = Arns(args.partition, args.region, args.account_id)
        self._tags = model_tags(args.model)
        self.experiment_role = self._experiment_logging_role(name) if self._logs_experiments else None
        self.role = self._execution_role(name)
        self.pipeline = aws.sagemaker.Pipeline(
            name,
            pipeline_name=args.naming.pipeline(args.model),
            pipeline_display_name=args.naming.pipeline(args.model),
            pipeline_description=f"Train, evaluate and register {args.model}",
            pipeline_definition=self._definition(),
            role_arn=self.role.arn,
            parallelism_configuration=aws.sagemaker.PipelineParallelismConfigurationArgs(
                max_parallel_execution_steps=2
            ),
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.training.schedule:
            self._schedule(name, args.training.schedule)
        self.register_outputs({"pipelineArn": self.pipeline.arn, "roleArn": self.role.arn})

    def _definition(self) -> pulumi.Output[str]:
        args, training = self._args, self._args.training
        role_name = args.naming.pipeline_role(args.model)

        def build(values: list) -> str:
            account, key, data, artifacts, train_image, serve_image, group, server = values
            logging = ExperimentLogging(
                tracking_server_arn=server, experiment_name=args.naming.pipeline(args.model),
                role_arn=self._arns.in_account(account).role(args.naming.experiment_logging_role(args.model)),
            ) if self._logs_experiments else None
            return build_pipeline_definition(
                PipelineSpec(
                    pipeline_name=args.naming.pipeline(args.model),
                    region=args.region,
                    role_arn=self._arns.in_account(account).role(role_name),
                    default_bucket=artifacts,
                    raw_data_s3_uri=self._raw_data_s3_uri(data),
                    artifacts_s3_uri=bucket_layout.s3_uri(artifacts, bucket_layout.model_prefix(args.model)),
                    kms_key_arn=key,
                    training_image_uri=train_image,
                    serving_image_uri=serve_image,
                    training_instance_type=training.instance_type,
                    training_instance_count=training.instance_count,
                    processing_instance_type=training.processing_instance_type,
                    volume_size_gb=training.volume_size_gb,
                    max_runtime_seconds=training.max_runtime_seconds,
                    use_spot=training.use_spot,
                    max_wait_seconds=training.max_wait_seconds,
                    hyperparameters=training.hyperparameter_strings(),
                    metric_name=training.metric_gate.metric,
                    metric_threshold=training.metric_gate.threshold,
                    model_package_group_name=group,
                    inference_instance_types=tuple(training.inference_instance_types),
                    subnet_ids=tuple(args.network.subnet_ids),
                    security_group_ids=tuple(args.network.security_group_ids),
                    experiment_logging=logging,
                )
            )

        return pulumi.Output.all(
            args.account_id, args.kms_key_arn, args.data_bucket, args.artifacts_bucket,
            args.training_image_uri, args.serving_image_uri, args.package_group_name, args.tracking_server_arn,
        ).apply(build)

    @property
    def _logs_experiments(self) -> bool:
        """A LogExperiment step needs a tracking server and the VPC: it is the one step with network access, and
        outside private subnets that access would be the internet's (docs/pipeline.md, Experiments)."""
        return self._args.tracking_server_arn is not None and bool(self._args.network.subnet_ids)

    def _experiment_logging_role(self, name: str) -> aws.iam.Role:
        """The LogExperiment step's role: read this model's evaluation reports, write the linked ones, log to the
        one tracking server; no training data, no model, no registry."""
        a, model, arns = self._args, self._args.model, self._arns
        prefix = bucket_layout.model_prefix(model)
        statements = [
            allow("ReadEvaluationReports", ["s3:GetObject"],
                  [arns.objects(a.artifacts_bucket, f"{prefix}*/evaluation/*")]),
            allow("ListEvaluationReports", ["s3:ListBucket"], [arns.bucket(a.artifacts_bucket)],
                  Condition={"StringLike": {"s3:prefix": [f"{prefix}*/evaluation*"]}}),
            allow("WriteLinkedReports", ["s3:PutObject"], [arns.objects(a.artifacts_bucket, f"{prefix}*/linked/*")]),
            allow("UseArtifactKey", ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], [a.kms_key_arn]),
            allow("GrantKeyToJobVolumes", ["kms:CreateGrant"], [a.kms_key_arn],
                  Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            allow("PullTrainingImage", ECR_PULL_ACTIONS, [a.training_repository_arn]),
            ecr_login(),
            allow("WriteJobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                                   "logs:PutLogEvents"], [arns.log_groups("/aws/sagemaker/ProcessingJobs")]),
            sagemaker_metrics(),
            allow("LogToTrackingServer", list(MLFLOW_LOGGING_ACTIONS), [a.tracking_server_arn]),
            vpc_attachment(a.region),
        ]
        return service_role(f"{name}-experiment", a.naming.experiment_logging_role(model), "sagemaker.amazonaws.com",
                            a.account_id, statements, self, self._tags)

    def _raw_data_s3_uri(self, data_bucket: str) -> str:
        return bucket_layout.s3_uri(data_bucket, bucket_layout.raw_data_prefix(self._args.model))

    def _execution_role(self, name: str) -> aws.iam.Role:
        args = self._args
        role_name = args.naming.pipeline_role(args.model)
        return service_role(name, role_name, "sagemaker.amazonaws.com", args.account_id,
                            self._permissions(role_name), self, self._tags)

    def _permissions(self, role_name: str) -> list[dict]:
        """Only what the five steps need, on this model's prefixes and resources."""
        a, model = self._args, self._args.model
        arns, own = self._arns, f"{bucket_layout.model_prefix(model)}*"
        statements = [
            allow("ReadTrainingData", ["s3:GetObject"], [arns.objects(a.data_bucket, own)]),
            allow("ListTrainingData", ["s3:ListBucket"], [arns.bucket(a.data_bucket)],
                  Condition={"StringLike": {"s3:prefix": [own]}}),
            allow("ReadWriteArtifacts", ["s3:GetObject", "s3:PutObject"], [arns.objects(a.artifacts_bucket, own)]),
            allow("ListArtifacts", ["s3:ListBucket"], [arns.bucket(a.artifacts_bucket)],
                  Condition={"StringLike": {"s3:prefix": [own]}}),
            allow("UseArtifactKey", ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], [a.kms_key_arn]),
            allow("GrantKeyToJobVolumes", ["kms:CreateGrant"], [a.kms_key_arn],
                  Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            allow("PullTrainingImage", ECR_PULL_ACTIONS, [a.training_repository_arn]),
            # Registering a package resolves its serving image's tag to a digest: the manifest, never the layers.
            allow("ResolveServingImage", ["ecr:BatchGetImage", "ecr:DescribeImages"], [a.serving_repository_arn]),
            ecr_login(),
            allow("WriteJobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                                   "logs:PutLogEvents"],
                  [arns.log_groups(f"/aws/sagemaker/{group}") for group in ("ProcessingJobs", "TrainingJobs")]),
            sagemaker_metrics(),
            allow("RunPipelineJobs",
                  ["sagemaker:AddTags", "sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob",
                   "sagemaker:DescribeProcessingJob", "sagemaker:DescribeTrainingJob",
                   "sagemaker:StopProcessingJob", "sagemaker:StopTrainingJob"],
                  [arns.sagemaker("training-job/*"), arns.sagemaker("processing-job/*")]),
            allow("RegisterCandidates",
                  ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                   "sagemaker:DescribeModelPackageGroup", "sagemaker:AddTags"],
                  [arns.model_package_group(a.naming.package_group(model)),
                   arns.model_package(a.naming.package_group(model))]),
            allow("PassOwnRoleToJobs", ["iam:PassRole"],
                  [arns.role(role_name)]
                  + ([arns.role(a.naming.experiment_logging_role(model))] if self._logs_experiments else []),
                  Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
        ]
        if a.network.subnet_ids:
            statements.append(vpc_attachment(a.region))
        return statements

    def _schedule(self, name: str, expression: str) -> None:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        events_role = service_role(
            f"{name}-schedule", a.naming.schedule_role(a.model), "events.amazonaws.com", a.account_id,
            [allow("StartThisPipeline", ["sagemaker:StartPipelineExecution"], [self.pipeline.arn])], self, self._tags)
        rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=a.naming.retrain_rule(a.model),
            description=f"Retrain {a.model} on schedule",
            schedule_expression=expression,
            tags=self._tags,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule",
            rule=rule.name,
            arn=self.pipeline.arn,
            role_arn=events_role.arn,
            sagemaker_pipeline_target=aws.cloudwatch.EventTargetSagemakerPipelineTargetArgs(
                # Lineage: GitCommit stays `unknown` (no commit is known here); DataSnapshot says the run was
                # scheduled and read the latest raw file (docs/delivery.md).
                pipeline_parameter_lists=[
                    aws.cloudwatch.EventTargetSagemakerPipelineTargetPipelineParameterListArgs(
                        name=PARAM_DATA_SNAPSHOT,
                        value=pulumi.Output.from_input(a.data_bucket).apply(
                            lambda data: scheduled_data_snapshot(self._raw_data_s3_uri(data))
                        ),
                    ),
                    aws.cloudwatch.EventTargetSagemakerPipelineTargetPipelineParameterListArgs(
                        # The rule's name, not its expression: `(`, `*` and `?` are not characters a package records.
                        name=PARAM_TRIGGER_REASON, value=lineage_value(f"schedule {a.naming.retrain_rule(a.model)}"),
                    ),
                ]
            ),
            opts=child,
        )
