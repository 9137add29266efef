"""The push path for one model in one environment: a SageMaker endpoint that serves the pinned,
approved model package and rolls out each change blue/green with automatic rollback.

An update is a new endpoint configuration (its name is a digest of its content, so any change makes a new
one), then SageMaker shifts traffic in canary or linear steps and rolls back by itself when one of this
component's alarms fires. Three run-time contracts shape this component (see docs/serving.md):
- Steps are sent as `INSTANCE_COUNT`, computed by `infra.core.rollout` from the release fleet, so AWS shifts
  exactly what the plan shows (tags `release-instance-count` and `traffic-steps` on the endpoint).
- `pulumi up` returns once the endpoint is InService, even when SageMaker rolled the release back; so the
  endpoint configurations and models are `retain_on_delete`: the one SageMaker returned to still exists.
  `python -m infra.cleanup` deletes old generations that no endpoint uses. Their names carry a per-generation
  random id, so returning to earlier content never collides with a retained resource of the same content.
- UpdateEndpoint refuses an instance-type change on a variant registered with Application Auto Scaling. A
  `scaling guard` keyed on the instance types is replaced delete-before-replace when they change; the engine
  then deletes the dependent scaling policy and target (deregistering the variant) before the guard, and the
  endpoint waits for the guard, so the update runs unregistered and scaling is registered again after it.
  The engine deletes exactly the dependents whose inputs, with the guard's outputs made unknown, the provider
  says must be replaced (pulumi/pulumi `pkg/resource/deploy/step_generator.go`,
  `calculateDependentReplacements`): the target's `resourceId` (which forces replacement) depends on the guard,
  the policy's on the target; the endpoint only `depends_on` it, which never replaces it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.components.service_resources import service_role
from infra.config import Autoscaling, Network, SageMakerDeploy
from infra.core import bucket_layout
from infra.core.arns import Arns
from infra.core.iam import ECR_PULL_ACTIONS, allow, ecr_login, sagemaker_metrics, vpc_attachment
from infra.core.naming import Naming, model_tags
from infra.core.rollout import describe_steps
from infra.core.serving import (
    ALARM_SIGNALS,
    CAPTURE_CSV_CONTENT_TYPES,
    CAPTURE_JSON_CONTENT_TYPES,
    CAPTURE_MODES,
    LATENCY_P99,
    MODEL_ERRORS,
    ROUTING_TYPE,
    SERVER_ERRORS,
    SHADOW_VARIANT,
    VARIANT,
)


@dataclass(frozen=True)
class SharedRegistry:
    """What an environment needs from the shared stack (read through a StackReference)."""

    account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    artifacts_bucket: pulumi.Input[str]
    capture_bucket: pulumi.Input[str]
    package_group_name: pulumi.Input[str]
    serving_repository_arn: pulumi.Input[str]


@dataclass(frozen=True)
class SageMakerEndpointArgs:
    naming: Naming
    model: str
    environment: str
    deploy: SageMakerDeploy
    network: Network
    account_id: pulumi.Input[str]
    region: str
    partition: str
    kms_key_arn: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str]
    shared: SharedRegistry


def config_digest(content: Any) -> str:
    """A short, stable digest of an endpoint configuration's resolved content, used in its physical name.

    Typed args objects serialize through their attributes, so every field SageMaker sees is covered.
    """
    text = json.dumps(content, sort_keys=True, default=lambda value: vars(value))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def package_arn(arns: Arns, shared: SharedRegistry, version: int) -> pulumi.Output[str]:
    """The ARN of one version of the model package group; pinning it is what promotion changes."""
    return arns.in_account(shared.account_id, shared.region).model_package(shared.package_group_name, version)


class SageMakerEndpoint(pulumi.ComponentResource):
    """`mlops:serving:SageMakerEndpoint`: model, endpoint configuration, endpoint, alarms, scaling, dashboard."""

    role: aws.iam.Role
    model: aws.sagemaker.Model | None
    endpoint_config: aws.sagemaker.EndpointConfiguration | None
    endpoint: aws.sagemaker.Endpoint | None
    """The model, configuration and endpoint exist in Pulumi only with delivery `push`; with `pull` the ACK
    objects in gitops/<env>/<model>/ create them, and everything else here stays the same."""
    alarms: list[aws.cloudwatch.MetricAlarm]
    scaling_guard: random.RandomId | None
    endpoint_name: str

    def __init__(self, name: str, args: SageMakerEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:serving:SageMakerEndpoint", name, None, opts)
        self._args = args
        self._arns = Arns(args.partition, args.region, args.account_id)
        self._tags = model_tags(args.model)
        self.endpoint_name = args.naming.endpoint(args.model)
        self.role = self._execution_role(name)
        pushed = args.deploy.delivery == "push"
        self.model = self._model(name, args.deploy.approved_version) if pushed else None
        shadow = (
            self._model(f"{name}-shadow", args.deploy.shadow.approved_version, "shadow")
            if args.deploy.shadow and pushed else None
        )
        self.endpoint_config = self._endpoint_config(name, shadow) if pushed else None
        self.alarms = self._alarms(name)
        scaling = args.deploy.autoscaling
        self.scaling_guard = self._scaling_guard(name) if scaling else None
        self.endpoint = self._endpoint(name) if pushed else None
        if scaling and self.scaling_guard:
            self._autoscaling(name, scaling, self.scaling_guard)
        self._dashboard(name)
        self.register_outputs(
            {
                "endpointName": self.endpoint.name if self.endpoint else self.endpoint_name,
                "endpointConfigName": self.endpoint_config.name if self.endpoint_config else None,
                "alarmNames": [a.name for a in self.alarms],
            }
        )

    # -- identity ---------------------------------------------------------------------------------------------
    def _execution_role(self, name: str) -> aws.iam.Role:
        a = self._args
        artifacts = self._arns.objects(a.shared.artifacts_bucket, f"{bucket_layout.model_prefix(a.model)}*")
        statements = [
            allow("ReadModelArtifacts", ["s3:GetObject"], [artifacts]),
            allow("DecryptModelArtifacts", ["kms:Decrypt", "kms:DescribeKey"], [a.shared.kms_key_arn]),
            allow("PullServingImage", ECR_PULL_ACTIONS, [a.shared.serving_repository_arn]),
            ecr_login(),
            allow("WriteEndpointLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                                        "logs:PutLogEvents"],
                  [self._arns.log_groups("/aws/sagemaker/Endpoints/")]),
            sagemaker_metrics(),
        ]
        if a.deploy.data_capture_percent:
            # SageMaker writes captured requests as the endpoint's execution role, into the shared capture bucket.
            statements += [
                allow("WriteDataCapture", ["s3:PutObject"], [self._capture_uri().apply(self._arns.s3_uri_objects)]),
                allow("EncryptDataCapture", ["kms:GenerateDataKey"], [a.shared.kms_key_arn]),
            ]
        if a.network.subnet_ids:
            statements.append(vpc_attachment(a.region))
        return service_role(name, a.naming.serving_role(a.model), "sagemaker.amazonaws.com", a.account_id, statements,
                            self, self._tags)

    # -- model and configuration ------------------------------------------------------------------------------
    def _model(self, name: str, version: int, variant: str = "") -> aws.sagemaker.Model:
        a = self._args
        vpc = (
            aws.sagemaker.ModelVpcConfigArgs(
                subnets=a.network.subnet_ids, security_group_ids=a.network.security_group_ids
            )
            if a.network.subnet_ids
            else None
        )
        container = aws.sagemaker.ModelPrimaryContainerArgs(model_package_name=package_arn(self._arns, a.shared,
                                                                                           version))
        content = pulumi.Output.from_input([container, vpc, self.role.arn])
        # A model is immutable: any change replaces it. The name carries the version and a digest of the
        # content, so the replacement is created before the old model goes, and the endpoint configuration
        # that names it changes too, which is what rolls the change out.
        return aws.sagemaker.Model(
            name,
            name=self._generation(f"{name}-model", content).apply(
                lambda digest: a.naming.sagemaker_model(a.model, version, digest, variant)
            ),
            execution_role_arn=self.role.arn,
            primary_container=container,
            enable_network_isolation=True,
            vpc_config=vpc,
            tags={**self._tags, "model-package-version": str(version)},
            # An endpoint configuration SageMaker rolls back to still names this model: keep it.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _generation(self, name: str, content: pulumi.Output[Any]) -> pulumi.Output[str]:
        """The digest in a retained resource's name: new whenever `content` changes, stable while it does not, and
        never the name of an earlier generation with the same content.

        Configurations and models are retained on delete, so returning to earlier content (reverting a pin
        after a rollback) must not reuse the retained resource's name, or the create would fail with "already
        exists". A random id, replaced exactly when the content digest changes, goes into the digest.
        """
        marker = random.RandomId(
            f"{name}-generation",
            byte_length=8,
            keepers=content.apply(lambda c: {"content": config_digest(c)}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.all(content, marker.id).apply(config_digest)

    def _endpoint_config(
        self, name: str, shadow: aws.sagemaker.Model | None
    ) -> aws.sagemaker.EndpointConfiguration:
        a, deploy = self._args, self._args.deploy
        variants = [self._variant(VARIANT, self.model.name, deploy.instance_type, deploy.release_instance_count())]
        shadow_variants = (
            [self._variant(SHADOW_VARIANT, shadow.name, deploy.shadow.instance_type, deploy.shadow.instance_count)]
            if shadow is not None and deploy.shadow is not None
            else None
        )
        # SageMaker rejects a volume key for serverless variants: they have no volume of ours.
        kms_key_arn = None if deploy.serverless else a.kms_key_arn
        data_capture = self._data_capture()
        content = pulumi.Output.from_input([variants, shadow_variants, kms_key_arn, data_capture])
        return aws.sagemaker.EndpointConfiguration(
            name,
            name=self._generation(f"{name}-config", content).apply(
                lambda digest: a.naming.endpoint_config(a.model, digest)
            ),
            production_variants=variants,
            shadow_production_variants=shadow_variants,
            kms_key_arn=kms_key_arn,
            data_capture_config=data_capture,
            tags=self._tags,
            # After an auto-rollback the endpoint stands on the previous configuration, which `pulumi up` would
            # otherwise delete right after reporting success. Old generations go through `infra.cleanup`.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _variant(
        self, variant: str, model_name: pulumi.Input[str], instance_type: str | None, count: int
    ) -> aws.sagemaker.EndpointConfigurationProductionVariantArgs:
        serverless = self._args.deploy.serverless
        if serverless is not None and variant == VARIANT:
            return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=variant,
                model_name=model_name,
                serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                    memory_size_in_mb=serverless.memory_size_mb, max_concurrency=serverless.max_concurrency
                ),
            )
        return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
            variant_name=variant,
            model_name=model_name,
            instance_type=instance_type,
            initial_instance_count=count,
            initial_variant_weight=1,
        )

    def _data_capture(self) -> aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs | None:
        a, percent = self._args, self._args.deploy.data_capture_percent
        if percent == 0:
            return None
        return aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
            enable_capture=True,
            initial_sampling_percentage=percent,
            destination_s3_uri=self._capture_uri(),
            kms_key_id=a.shared.kms_key_arn,
            capture_options=[aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(capture_mode=mode)
                             for mode in CAPTURE_MODES],
            capture_content_type_header=aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs(
                csv_content_types=list(CAPTURE_CSV_CONTENT_TYPES), json_content_types=list(CAPTURE_JSON_CONTENT_TYPES)
            ),
        )

    def _capture_uri(self) -> pulumi.Output[str]:
        """Where this endpoint's captured traffic goes: `<capture bucket>/<environment>/<model>/`."""
        a = self._args
        prefix = bucket_layout.capture_prefix(a.environment, a.model)
        return pulumi.Output.from_input(a.shared.capture_bucket).apply(lambda bucket: bucket_layout.s3_uri(bucket,
                                                                                                           prefix))

    # -- guardrails --------------------------------------------------------------------------------------------
    def _alarms(self, name: str) -> list[aws.cloudwatch.MetricAlarm]:
        a, limits = self._args, self._args.deploy.alarms
        specs = {
            SERVER_ERRORS: ("Invocation5XXErrors", {"statistic": "Sum"}, limits.server_errors,
                            "Server errors from the endpoint"),
            MODEL_ERRORS: ("InvocationModelErrors", {"statistic": "Sum"}, limits.model_errors,
                           "Requests the model container failed"),
            # ModelLatency is reported in microseconds.
            LATENCY_P99: ("ModelLatency", {"extended_statistic": "p99"}, limits.latency_p99_ms * 1000,
                          f"p99 model latency above {limits.latency_p99_ms} ms"),
        }
        return [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{suffix}",
                name=a.naming.alarm(a.model, suffix),
                alarm_description=f"{description}; trips the deployment's automatic rollback",
                namespace="AWS/SageMaker",
                metric_name=metric,
                dimensions={"EndpointName": self.endpoint_name, "VariantName": VARIANT},
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=threshold,
                period=limits.period_seconds,
                evaluation_periods=limits.evaluation_periods,
                treat_missing_data="notBreaching",
                alarm_actions=[a.alarm_topic_arn],
                ok_actions=[a.alarm_topic_arn],
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self),
                **statistic,
            )
            for suffix, (metric, statistic, threshold, description) in ((s, specs[s]) for s in ALARM_SIGNALS)
        ]

    def _endpoint(self, name: str) -> aws.sagemaker.Endpoint:
        deploy = self._args.deploy
        deployment_config = None
        tags = dict(self._tags)
        if deploy.serverless is None:
            rollout, steps = deploy.rollout, deploy.traffic_steps()
            # The first shift's size in whole instances: exactly what the config layer validated and the plan shows.
            step = {"type": "INSTANCE_COUNT", "value": steps[0].instances} if rollout.step_percent else None
            tags |= {"release-instance-count": str(deploy.release_instance_count()),
                     "traffic-steps": describe_steps(steps)}
            deployment_config = aws.sagemaker.EndpointDeploymentConfigArgs(
                blue_green_update_policy=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                    traffic_routing_configuration=(
                        aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs(
                            type=ROUTING_TYPE[rollout.strategy],
                            wait_interval_in_seconds=rollout.wait_seconds,
                            canary_size=step if rollout.strategy == "canary" else None,
                            linear_step_size=step if rollout.strategy == "linear" else None,
                        )
                    ),
                    termination_wait_in_seconds=rollout.termination_wait_seconds,
                    maximum_execution_timeout_in_seconds=rollout.max_execution_seconds,
                ),
                auto_rollback_configuration=aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
                    alarms=[
                        aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(alarm_name=a.name)
                        for a in self.alarms
                    ]
                ),
            )
        return aws.sagemaker.Endpoint(
            name,
            name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.name,
            deployment_config=deployment_config,
            tags=tags,
            # The rollback alarms must exist before the first deployment can reference them; the scaling guard's
            # replacement (which deregisters autoscaling) must finish before an instance-type change is applied.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*self.alarms, *([self.scaling_guard] if self.scaling_guard else [])]
            ),
        )

    def _scaling_guard(self, name: str) -> random.RandomId:
        """Changes identity exactly when an autoscaled variant's instance type changes (see the module doc)."""
        deploy = self._args.deploy
        keepers = {VARIANT: deploy.instance_type or "serverless"}
        if deploy.shadow is not None:
            keepers[SHADOW_VARIANT] = deploy.shadow.instance_type
        return random.RandomId(
            f"{name}-scaling-guard",
            byte_length=4,
            keepers=keepers,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _autoscaling(self, name: str, scaling: Autoscaling, guard: random.RandomId) -> None:
        """Target tracking per variant; a shadow variant gets a copy of all traffic, so it scales too."""
        deploy = self._args.deploy
        variants = {VARIANT: (scaling.min_capacity, name)}
        if deploy.shadow is not None:
            variants[SHADOW_VARIANT] = (min(deploy.shadow.instance_count, scaling.max_capacity), f"{name}-shadow")
        for variant, (min_capacity, resource_name) in variants.items():
            target = aws.appautoscaling.Target(
                resource_name,
                service_namespace="sagemaker",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                # Depends on the guard too, so replacing the guard (instance type changed) replaces the target first.
                # With delivery pull the endpoint is ACK's: the same name, known from Naming.
                resource_id=pulumi.Output.all(self.endpoint.name if self.endpoint else self.endpoint_name,
                                              guard.id).apply(
                    lambda parts, v=variant: f"endpoint/{parts[0]}/variant/{v}"
                ),
                min_capacity=min_capacity,
                max_capacity=scaling.max_capacity,
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.appautoscaling.Policy(
                resource_name,
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=scaling.target_invocations_per_instance,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                    ),
                    scale_in_cooldown=scaling.scale_in_cooldown_seconds,
                    scale_out_cooldown=scaling.scale_out_cooldown_seconds,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _dashboard(self, name: str) -> None:
        aws.cloudwatch.Dashboard(
            name,
            dashboard_name=self.endpoint_name,
            dashboard_body=dashboard_body(self.endpoint_name, self._args.region),
            opts=pulumi.ResourceOptions(parent=self),
        )


def dashboard_body(endpoint_name: str, region: str) -> str:
    """Traffic, latency and errors of one endpoint, side by side, the first things on-call looks at."""
    dims = ["EndpointName", endpoint_name, "VariantName", VARIANT]
    widgets = [
        ("Invocations", [["AWS/SageMaker", "Invocations", *dims, {"stat": "Sum"}]]),
        ("Model latency p50 / p99 (us)", [["AWS/SageMaker", "ModelLatency", *dims, {"stat": "p50"}],
                                          ["AWS/SageMaker", "ModelLatency", *dims, {"stat": "p99"}]]),
        ("Errors", [["AWS/SageMaker", "Invocation4XXErrors", *dims, {"stat": "Sum"}],
                    ["AWS/SageMaker", "Invocation5XXErrors", *dims, {"stat": "Sum"}],
                    ["AWS/SageMaker", "InvocationModelErrors", *dims, {"stat": "Sum"}]]),
        ("Instances", [["/aws/sagemaker/Endpoints", "CPUUtilization", *dims, {"stat": "Average"}],
                       ["/aws/sagemaker/Endpoints", "MemoryUtilization", *dims, {"stat": "Average"}]]),
    ]
    return json.dumps(
        {
            "widgets": [
                {
                    "type": "metric", "x": (i % 2) * 12, "y": (i // 2) * 6, "width": 12, "height": 6,
                    "properties": {"title": title, "metrics": metrics, "region": region, "period": 60,
                                   "view": "timeSeries"},
                }
                for i, (title, metrics) in enumerate(widgets)
            ]
        },
        sort_keys=True,
    )
