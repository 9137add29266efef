"""Drift monitoring of one served model in one environment: a SageMaker Model Monitor data-quality job definition
and hourly (or daily) schedule over the model's captured requests, the role the jobs run as, and the drift alarm
on the PSI they publish. See docs/monitoring.md.

The job runs the model's serving image (it ships `model_code`; environment accounts may already pull it), which
switches to `python -m model_code.monitor run` under the Model Monitor contract. It judges an endpoint's own data
capture (EndpointInput, SageMaker push and pull) or a model server's capture files in the shared capture bucket
(BatchTransformInput with DataCapturedDestinationS3Uri, Kubernetes), against the baseline published for the pinned
package version. Jobs run network-isolated, volumes and outputs encrypted, bounded by `maxRuntimeSeconds`.

Provider schema: pulumi-aws `aws.sagemaker.DataQualityJobDefinition` and `aws.sagemaker.MonitoringSchedule`
(terraform-provider-aws internal/service/sagemaker/data_quality_job_definition.go, monitoring_schedule.go); the
API: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateDataQualityJobDefinition.html and
API_CreateMonitoringSchedule.html.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import Monitoring, Network
from infra.core import bucket_layout
from infra.core.arns import Arns
from infra.core.iam import allow, ecr_login, policy_document, sagemaker_metrics, service_trust, vpc_attachment
from infra.core.monitoring import (
    BASELINE_FILES,
    InputKind,
    baseline_prefix,
    drift_alarm,
    drift_event_pattern,
    monitor_job,
    reports_prefix,
)
from infra.core.naming import Naming, model_tags


@dataclass(frozen=True)
class ModelMonitorArgs:
    naming: Naming
    model: str
    environment: str
    monitoring: Monitoring
    kind: InputKind
    approved_version: int
    network: Network
    account_id: pulumi.Input[str]
    region: str
    partition: str
    environment_kms_key_arn: pulumi.Input[str]
    """Encrypts the job volumes (this environment's key)."""
    shared_kms_key_arn: pulumi.Input[str]
    """The capture bucket's and the artifacts bucket's key: captured data, baselines and reports."""
    capture_bucket: pulumi.Input[str]
    artifacts_bucket: pulumi.Input[str]
    image_uri: pulumi.Input[str]
    image_repository_arn: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str] | None = None
    endpoint_name: str | None = None
    """The endpoint whose data capture is judged (kind `endpoint`)."""
    retrain_guard_arn: pulumi.Input[str] | None = None
    """The shared stack's retraining guard of this model: the drift alarm's ALARM is sent there."""
    schedule_in_git: bool = False
    """SageMaker by pull: the job definition and schedule are ACK objects in the model's overlay
    (`infra.core.ack.monitor_objects`), so that promotion moves the baseline with the served version; this
    component then declares only what Git cannot hold: the role the jobs run as and the drift alarm."""


class ModelMonitor(pulumi.ComponentResource):
    """`mlops:monitoring:ModelMonitor`: role, data-quality job definition, monitoring schedule, drift alarm
    (without the job definition and schedule when `schedule_in_git`)."""

    role: aws.iam.Role
    job_definition: aws.sagemaker.DataQualityJobDefinition | None
    schedule: aws.sagemaker.MonitoringSchedule | None
    alarm: aws.cloudwatch.MetricAlarm

    def __init__(self, name: str, args: ModelMonitorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:monitoring:ModelMonitor", name, None, opts)
        if args.kind == "endpoint" and not args.endpoint_name:
            raise ValueError("an endpoint monitor needs endpoint_name")
        if args.schedule_in_git and args.kind != "endpoint":
            raise ValueError("only an endpoint's monitor (SageMaker by pull) can live in Git")
        self._args = args
        self._job = monitor_job(args.model, args.monitoring)
        self._tags = model_tags(args.model)
        self._child = pulumi.ResourceOptions(parent=self)
        self.role = self._role(name)
        self.job_definition = self.schedule = None
        if not args.schedule_in_git:
            self.job_definition = self._job_definition(name)
            self.schedule = aws.sagemaker.MonitoringSchedule(
                name,
                name=args.naming.monitoring_schedule(args.model),
                monitoring_schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigArgs(
                    monitoring_job_definition_name=self.job_definition.name,
                    monitoring_type=self._job.monitoring_type,
                    schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(
                        schedule_expression=self._job.schedule_expression,
                    ),
                ),
                tags=self._tags,
                opts=self._child,
            )
        self.alarm = self._alarm(name)
        if args.retrain_guard_arn is not None:
            self._forward_to_guard(name, args.retrain_guard_arn)
        self.register_outputs({"scheduleName": args.naming.monitoring_schedule(args.model),
                               "alarmName": self.alarm.name})

    # -- what a job reads and writes -----------------------------------------------------------------------------
    def _capture_uri(self) -> pulumi.Output[str]:
        a = self._args
        prefix = bucket_layout.capture_prefix(a.environment, a.model)
        return pulumi.Output.from_input(a.capture_bucket).apply(lambda bucket: bucket_layout.s3_uri(bucket, prefix))

    def _reports_uri(self) -> pulumi.Output[str]:
        a = self._args
        return pulumi.Output.concat("s3://", a.capture_bucket, "/", reports_prefix(a.environment, a.model))

    def _baseline(self, file: str) -> pulumi.Output[str]:
        a = self._args
        return pulumi.Output.from_input(a.artifacts_bucket).apply(
            lambda bucket: baseline_prefix(bucket, a.model, a.approved_version) + file)

    def _job_input(self) -> aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputArgs:
        a, job, local = self._args, self._job, self._job.local_input
        if a.kind == "endpoint":
            return aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputArgs(
                endpoint_input=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(
                    endpoint_name=a.endpoint_name, local_path=local,
                    s3_data_distribution_type=job.s3_data_distribution_type, s3_input_mode=job.s3_input_mode,
                ))
        Input = aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputBatchTransformInputArgs  # noqa: N806
        Format = aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputBatchTransformInputDatasetFormatArgs  # noqa: N806
        return aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputArgs(
            batch_transform_input=Input(
                data_captured_destination_s3_uri=self._capture_uri(),
                dataset_format=Format(
                    json=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputBatchTransformInputDatasetFormatJsonArgs(
                        line=True)),
                local_path=local, s3_data_distribution_type=job.s3_data_distribution_type,
                s3_input_mode=job.s3_input_mode,
            ))

    def _job_definition(self, name: str) -> aws.sagemaker.DataQualityJobDefinition:
        a, job = self._args, self._job
        Baseline = aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigArgs  # noqa: N806
        statistics, constraints = BASELINE_FILES
        return aws.sagemaker.DataQualityJobDefinition(
            name,
            name=a.naming.monitoring_schedule(a.model),
            role_arn=self.role.arn,
            data_quality_app_specification=aws.sagemaker.DataQualityJobDefinitionDataQualityAppSpecificationArgs(
                image_uri=a.image_uri,
                environment=job.environment,
            ),
            data_quality_baseline_config=Baseline(
                statistics_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigStatisticsResourceArgs(
                    s3_uri=self._baseline(statistics)),
                constraints_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigConstraintsResourceArgs(
                    s3_uri=self._baseline(constraints)),
            ),
            data_quality_job_input=self._job_input(),
            data_quality_job_output_config=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
                kms_key_id=a.shared_kms_key_arn,
                monitoring_outputs=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                    s3_output=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                        s3_uri=self._reports_uri(), local_path=job.local_output,
                        s3_upload_mode=job.s3_upload_mode),
                ),
            ),
            job_resources=aws.sagemaker.DataQualityJobDefinitionJobResourcesArgs(
                cluster_config=aws.sagemaker.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                    instance_count=job.instance_count, instance_type=job.instance_type,
                    volume_size_in_gb=job.volume_size_gb, volume_kms_key_id=a.environment_kms_key_arn,
                ),
            ),
            network_config=aws.sagemaker.DataQualityJobDefinitionNetworkConfigArgs(
                enable_network_isolation=job.enable_network_isolation,
                enable_inter_container_traffic_encryption=job.enable_inter_container_traffic_encryption,
                vpc_config=aws.sagemaker.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(
                    subnets=a.network.subnet_ids, security_group_ids=a.network.security_group_ids,
                ) if a.network.subnet_ids else None,
            ),
            stopping_condition=aws.sagemaker.DataQualityJobDefinitionStoppingConditionArgs(
                max_runtime_in_seconds=job.max_runtime_seconds,
            ),
            tags=self._tags,
            opts=self._child,
        )

    # -- identity ----------------------------------------------------------------------------------------------
    def _role(self, name: str) -> aws.iam.Role:
        a = self._args
        role = aws.iam.Role(
            f"{name}-monitor",
            name=a.naming.monitor_role(a.model),
            assume_role_policy=service_trust("sagemaker.amazonaws.com", a.account_id),
            tags=self._tags,
            opts=self._child,
        )
        aws.iam.RolePolicy(f"{name}-monitor", role=role.id, policy=policy_document(self._permissions()),
                           opts=self._child)
        return role

    def _permissions(self) -> list[dict]:
        """Read this model's capture and its baseline, write its reports; nothing else in either bucket."""
        a = self._args
        arns = Arns(a.partition, a.region, a.account_id)
        prefix = bucket_layout.capture_prefix(a.environment, a.model)
        statements = [
            allow("ReadCapturedRequests", ["s3:GetObject"], [arns.objects(a.capture_bucket, f"{prefix}*")]),
            allow("ListCapturedRequests", ["s3:ListBucket"], [arns.bucket(a.capture_bucket)],
                  Condition={"StringLike": {"s3:prefix": [f"{prefix}*"]}}),
            allow("ReadBaseline", ["s3:GetObject"], [arns.objects(a.artifacts_bucket, f"{a.model}/baselines/*")]),
            allow("WriteReports", ["s3:PutObject"],
                  [arns.objects(a.capture_bucket, reports_prefix(a.environment, a.model) + "*")]),
            allow("UseSharedKey", ["kms:Decrypt", "kms:GenerateDataKey"], [a.shared_kms_key_arn]),
            allow("GrantKeyToJobVolumes", ["kms:CreateGrant"], [a.environment_kms_key_arn],
                  Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            allow("PullMonitorImage", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                       "ecr:GetDownloadUrlForLayer"], [a.image_repository_arn]),
            ecr_login(),
            allow("WriteJobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                                   "logs:PutLogEvents"], [arns.log_groups("/aws/sagemaker/ProcessingJobs")]),
            sagemaker_metrics(),
        ]
        if a.network.subnet_ids:
            statements.append(vpc_attachment(a.region))
        return statements

    # -- the drift alarm ---------------------------------------------------------------------------------------
    def _alarm(self, name: str) -> aws.cloudwatch.MetricAlarm:
        a = self._args
        spec = drift_alarm(a.naming, a.model, a.monitoring, a.kind)
        return aws.cloudwatch.MetricAlarm(
            f"{name}-drift",
            name=spec.name,
            alarm_description=f"{a.model} in {a.environment}: max PSI over the features > {spec.threshold:g} for "
                              f"{spec.evaluation_periods} monitoring run(s); may start retraining (docs/monitoring.md)",
            namespace=spec.namespace,
            metric_name=spec.metric_name,
            dimensions=spec.dimensions,
            statistic="Maximum",
            period=spec.period_seconds,
            evaluation_periods=spec.evaluation_periods,
            threshold=spec.threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",  # no run, no capture: no evidence of drift
            alarm_actions=[a.alarm_topic_arn] if a.alarm_topic_arn else None,
            tags=self._tags,
            opts=self._child,
        )

    def _forward_to_guard(self, name: str, guard_arn: pulumi.Input[str]) -> None:
        """An EventBridge rule for exactly this drift alarm going to ALARM, invoking the shared stack's guard
        (in another account or this one) through a role that may invoke exactly that function."""
        a = self._args
        rule_name = a.naming.drift_forward_rule(a.model)
        role = aws.iam.Role(
            f"{name}-drift-forward", name=rule_name,
            assume_role_policy=service_trust("events.amazonaws.com", a.account_id), tags=self._tags, opts=self._child,
        )
        aws.iam.RolePolicy(f"{name}-drift-forward", role=role.id, opts=self._child, policy=policy_document(
            [allow("InvokeRetrainGuard", ["lambda:InvokeFunction"], [guard_arn])]))
        rule = aws.cloudwatch.EventRule(
            f"{name}-drift-forward", name=rule_name,
            description=f"{a.model}: drift alarm ALARM -> the shared stack's retraining guard",
            event_pattern=drift_event_pattern(a.naming.drift_alarm(a.model)),
            tags=self._tags, opts=self._child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-drift-forward", rule=rule.name, arn=guard_arn, role_arn=role.arn,
            # A lost event is a missed retraining, a repeated one is refused by the guard: retry for an hour.
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(maximum_event_age_in_seconds=3600,
                                                                   maximum_retry_attempts=10),
            opts=self._child,
        )
