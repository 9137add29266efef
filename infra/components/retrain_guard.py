"""The retraining guard of one model (shared stack): the Lambda function between the model's drift alarms and its
training pipeline, with the role it runs as, its log group, and who may invoke it. See docs/monitoring.md.

Why a Lambda function and not a Step Functions state machine: the decision needs the pipeline's execution history
and a little date arithmetic (UTC day, cool-down), which is a pure function with its own tests
(`retrain_guard.guard`); the same code runs in the tests, under moto, and in Lambda, packaged from this repository
by `pulumi.AssetArchive`. A state machine would re-express that logic in Amazon States Language, testable only
against a Step Functions emulator. Reserved concurrency 1 serializes decisions, so an alarm storm cannot race
two starts past the one-at-a-time guard.

Environment stacks send their drift alarms here: an EventBridge rule per monitored model targets this function
(cross-account Lambda targets:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-cross-account.html), which is why the
environment accounts (`readerAccountIds`) and this account's EventBridge may invoke it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import RetrainOnDrift
from infra.core.arns import Arns
from infra.core.iam import allow, policy_document, service_trust
from infra.core.naming import Naming, model_tags
from infra.core.paths import PROJECT_ROOT

GUARD_PACKAGE = "retrain_guard"
GUARD_FILES = ("__init__.py", "guard.py", "handler.py")
HANDLER = "retrain_guard.handler.handler"
LOG_RETENTION_DAYS = 365  # a year of decisions: `infra.release retrain-status` reads them


def guard_environment(pipeline_name: str, settings: RetrainOnDrift) -> dict[str, str]:
    """The function's settings (retrain_guard.handler.settings_from_env reads them)."""
    return {"PIPELINE_NAME": pipeline_name, "RETRAIN_ENABLED": "true" if settings.enabled else "false",
            "RETRAIN_COOLDOWN_MINUTES": str(settings.cooldown_minutes),
            "RETRAIN_MAX_RUNS_PER_DAY": str(settings.max_runs_per_day)}


def guard_code() -> pulumi.AssetArchive:
    """The function's code: the `retrain_guard` package of this repository (standard library and boto3 only)."""
    root = PROJECT_ROOT / GUARD_PACKAGE
    return pulumi.AssetArchive({f"{GUARD_PACKAGE}/{f}": pulumi.FileAsset(str(root / f)) for f in GUARD_FILES})


@dataclass(frozen=True)
class RetrainGuardArgs:
    naming: Naming
    model: str
    settings: RetrainOnDrift
    account_id: pulumi.Input[str]
    region: str
    partition: str
    pipeline_name: str
    pipeline_arn: pulumi.Input[str]
    invoker_account_ids: list[str]


class RetrainGuard(pulumi.ComponentResource):
    """`mlops:training:RetrainGuard`: function, role, log group and invoke permissions of one model's guard."""

    function: aws.lambda_.Function
    role: aws.iam.Role

    def __init__(self, name: str, args: RetrainGuardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:training:RetrainGuard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = model_tags(args.model)
        function_name = args.naming.retrain_guard(args.model)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-guard", name=args.naming.retrain_guard_log_group(args.model), retention_in_days=LOG_RETENTION_DAYS,
            tags=tags, opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-guard", name=function_name,
            assume_role_policy=service_trust("lambda.amazonaws.com", args.account_id), tags=tags, opts=child,
        )
        aws.iam.RolePolicy(f"{name}-guard", role=self.role.id, opts=child, policy=policy_document([
            allow("ReadAndStartThisPipeline", ["sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"],
                  [args.pipeline_arn]),
            allow("WriteDecisionLog", ["logs:CreateLogStream", "logs:PutLogEvents"],
                  [Arns(args.partition, args.region, args.account_id).arn(
                      "logs", pulumi.Output.concat("log-group:", log_group.name, ":*"))]),
        ]))
        self.function = aws.lambda_.Function(
            f"{name}-guard",
            name=function_name,
            description=f"Retraining guard of {args.model}: drift alarm -> guards -> training pipeline",
            role=self.role.arn,
            runtime=aws.lambda_.Runtime.PYTHON3D13,
            handler=HANDLER,
            code=guard_code(),
            timeout=60,
            memory_size=128,
            reserved_concurrent_executions=1,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=guard_environment(args.pipeline_name, args.settings)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        # This account's EventBridge (an environment in the shared account) ...
        aws.lambda_.Permission(
            f"{name}-guard-events", function=self.function.name, action="lambda:InvokeFunction",
            principal="events.amazonaws.com", source_account=args.account_id, opts=child,
        )
        # ... and the environment accounts, whose drift rules invoke it through their own role.
        for account in args.invoker_account_ids:
            aws.lambda_.Permission(
                f"{name}-guard-{account}", function=self.function.name, action="lambda:InvokeFunction",
                principal=account, opts=child,
            )
        self.register_outputs({"functionArn": self.function.arn})
