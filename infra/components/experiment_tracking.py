"""Experiments (shared stack): a SageMaker managed MLflow tracking server whose artifact store is a prefix of the
artifacts bucket, and the role it reads and writes that prefix with. See docs/monitoring.md.

API: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMlflowTrackingServer.html. The API (and
so the provider's `aws.sagemaker.MlflowTrackingServer`) takes no KMS key: the artifacts it stores are encrypted
by the bucket's default encryption with the shared customer-managed key, which the role may use for exactly that.
Automatic model registration stays off: packages are registered by the pipeline's gate, never by MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import Experiments
from infra.core.arns import Arns
from infra.core.iam import allow, policy_document, service_trust
from infra.core.naming import Naming

ARTIFACT_PREFIX = "mlflow"


@dataclass(frozen=True)
class ExperimentTrackingArgs:
    naming: Naming
    settings: Experiments
    account_id: pulumi.Input[str]
    region: str
    partition: str
    artifacts_bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


class ExperimentTracking(pulumi.ComponentResource):
    """`mlops:training:ExperimentTracking`: the MLflow tracking server and its role."""

    server: aws.sagemaker.MlflowTrackingServer
    role: aws.iam.Role
    server_arn: pulumi.Input[str]
    """Built from the name (as the release tool does): known at preview, so the pipeline definition that carries
    it is too, and the same string the pipeline's LogExperiment role is scoped to."""

    def __init__(self, name: str, args: ExperimentTrackingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:training:ExperimentTracking", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        server_name = args.naming.mlflow_tracking_server()
        arns = Arns(args.partition, args.region, args.account_id)
        self.server_arn = arns.sagemaker(f"mlflow-tracking-server/{server_name}")
        self.role = aws.iam.Role(name, name=server_name,
                                 assume_role_policy=service_trust("sagemaker.amazonaws.com", args.account_id),
                                 opts=child)
        aws.iam.RolePolicy(name, role=self.role.id, opts=child, policy=policy_document([
            allow("ReadWriteRunArtifacts", ["s3:GetObject", "s3:PutObject"],
                  [arns.objects(args.artifacts_bucket, f"{ARTIFACT_PREFIX}/*")]),
            allow("ListRunArtifacts", ["s3:ListBucket"], [arns.bucket(args.artifacts_bucket)],
                  Condition={"StringLike": {"s3:prefix": [f"{ARTIFACT_PREFIX}/*"]}}),
            allow("UseArtifactKey", ["kms:Decrypt", "kms:GenerateDataKey"], [args.kms_key_arn]),
        ]))
        self.server = aws.sagemaker.MlflowTrackingServer(
            name,
            tracking_server_name=server_name,
            artifact_store_uri=pulumi.Output.concat("s3://", args.artifacts_bucket, f"/{ARTIFACT_PREFIX}/"),
            role_arn=self.role.arn,
            tracking_server_size=args.settings.size,
            mlflow_version=args.settings.mlflow_version,
            automatic_model_registration=False,
            weekly_maintenance_window_start=args.settings.weekly_maintenance_window_start,
            opts=child,
        )
        self.register_outputs({"trackingServerArn": self.server.arn})
