"""The program the Pulumi CLI runs for every stack (`main: infra/`): composition only.

Read and validate the stack config, build the components for this stack's kind, export what other stacks
and CI need. No resource is declared before the whole config has been validated.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The CLI runs this directory as a script; make the project root importable so `infra.*` resolves the same
# way under the CLI, under `python -m infra.plan` and under the tests.
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402

from infra.components.alarm_topic import AlarmTopic, AlarmTopicArgs  # noqa: E402
from infra.components.artifact_store import ArtifactStore, ArtifactStoreArgs  # noqa: E402
from infra.components.ci_roles import CiRoles, CiRolesArgs  # noqa: E402
from infra.components.environment_key import EnvironmentKey, EnvironmentKeyArgs  # noqa: E402
from infra.components.github_oidc import GitHubOidcProvider  # noqa: E402
from infra.components.model_registry import ModelRegistry, ModelRegistryArgs  # noqa: E402
from infra.components.promotion_trigger import PromotionTrigger, PromotionTriggerArgs  # noqa: E402
from infra.components.sagemaker_endpoint import (  # noqa: E402
    SageMakerEndpoint,
    SageMakerEndpointArgs,
    SharedRegistry,
)
from infra.components.training_pipeline import TrainingPipeline, TrainingPipelineArgs  # noqa: E402
from infra.config import ConfigError, StackConfig, parse_stack_config  # noqa: E402
from infra.naming import Naming  # noqa: E402


def load_config() -> StackConfig:
    """The validated stack config, or a RunError that the CLI prints without a traceback."""
    raw = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    try:
        return parse_stack_config(raw)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None


def aws_provider(config: StackConfig, naming: Naming) -> aws.Provider:
    """One explicit provider: region, account guard and the default tags every resource inherits."""
    return aws.Provider(
        "aws",
        region=config.region,
        profile=config.profile,
        assume_roles=[
            aws.ProviderAssumeRoleArgs(role_arn=r.role_arn, session_name=r.session_name, external_id=r.external_id)
            for r in config.assume_roles
        ]
        or None,
        allowed_account_ids=[config.account_id] if config.account_id else None,
        default_tags=aws.ProviderDefaultTagsArgs(tags=naming.base_tags()),
    )


def account_id_of(config: StackConfig, provider: aws.Provider) -> pulumi.Input[str]:
    """The configured account id (known at preview), else the caller's."""
    if config.account_id:
        return config.account_id
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id


def shared_stack(config: StackConfig, naming: Naming, provider: aws.Provider) -> None:
    """Registries, artifact store, training pipelines, promotion trigger and CI trust."""
    account_id = account_id_of(config, provider)
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    stateful = pulumi.ResourceOptions(providers={"aws": provider}, protect=config.protect)
    store = ArtifactStore(
        "artifacts",
        ArtifactStoreArgs(naming=naming, account_id=account_id, reader_account_ids=config.reader_account_ids),
        stateful,
    )
    models: dict[str, dict[str, pulumi.Output]] = {}
    for model, training in config.trained_models().items():
        registry = ModelRegistry(
            model,
            ModelRegistryArgs(
                naming=naming, model=model, kms_key_arn=store.key.arn, account_id=account_id,
                region=config.region, reader_account_ids=config.reader_account_ids,
            ),
            stateful,
        )
        training_repo, serving_repo = registry.repositories["training"], registry.repositories["serving"]
        pipeline = TrainingPipeline(
            model,
            TrainingPipelineArgs(
                naming=naming, model=model, training=training, network=config.network, account_id=account_id,
                region=config.region, kms_key_arn=store.key.arn, data_bucket=store.buckets["data"].name,
                artifacts_bucket=store.buckets["artifacts"].name, training_repository_arn=training_repo.arn,
                training_image_uri=pulumi.Output.concat(training_repo.repository_url, ":", training.image_tag),
                serving_image_uri=pulumi.Output.concat(serving_repo.repository_url, ":",
                                                       training.serving_image_tag),
                package_group_name=registry.package_group.model_package_group_name,
            ),
            opts,
        )
        models[model] = {
            "packageGroupName": registry.package_group.model_package_group_name,
            "packageGroupArn": registry.package_group.arn,
            "trainingRepositoryUrl": training_repo.repository_url,
            "servingRepositoryUrl": serving_repo.repository_url,
            "servingRepositoryArn": serving_repo.arn,
            "pipelineName": pipeline.pipeline.pipeline_name,
        }
    promotion = PromotionTrigger(
        "promotion",
        PromotionTriggerArgs(
            naming=naming, package_group_names=[naming.name(m) for m in models], kms_key_arn=store.key.arn,
            account_id=account_id,
        ),
        opts,
    )
    oidc = GitHubOidcProvider("github", opts)
    ci = CiRoles(
        "ci",
        CiRolesArgs(naming=naming, oidc_provider_arn=oidc.arn, repository=config.github_repository,
                    account_id=account_id, region=config.region),
        opts,
    )
    pulumi.export("accountId", account_id)
    pulumi.export("region", config.region)
    pulumi.export("kmsKeyArn", store.key.arn)
    for role, bucket in store.buckets.items():
        pulumi.export(f"{role}Bucket", bucket.name)
    pulumi.export("models", models)
    pulumi.export("promotionTopicArn", promotion.topic.arn)
    pulumi.export("githubOidcProviderArn", oidc.arn)
    pulumi.export("ciPreviewRoleArn", ci.preview_role.arn)
    pulumi.export("ciDeployRoleArn", ci.deploy_role.arn)


def environment_stack(config: StackConfig, naming: Naming, provider: aws.Provider) -> None:
    """Serving (push path), alarms, CI roles; everything shared comes through a StackReference."""
    account_id = account_id_of(config, provider)
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    shared = pulumi.StackReference(config.shared_stack)
    # Read each shared output once: every read copies the whole outputs map into fresh Outputs.
    shared_models = shared.require_output("models")
    shared_account, shared_region, shared_key, artifacts_bucket, capture_bucket = (
        shared.require_output(name)
        for name in ("accountId", "region", "kmsKeyArn", "artifactsBucket", "captureBucket")
    )
    key = EnvironmentKey(
        "environment", EnvironmentKeyArgs(naming=naming, account_id=account_id),
        pulumi.ResourceOptions(providers={"aws": provider}, protect=config.protect),
    )
    endpoints: dict[str, dict[str, pulumi.Output]] = {}
    serving = config.sagemaker_models()
    if serving:
        topic = AlarmTopic("alarms", AlarmTopicArgs(naming=naming, kms_key_arn=key.arn, account_id=account_id), opts)
        for model, deploy in serving.items():
            endpoint = SageMakerEndpoint(
                model,
                SageMakerEndpointArgs(
                    naming=naming, model=model, deploy=deploy, network=config.network, account_id=account_id,
                    region=config.region, kms_key_arn=key.arn, alarm_topic_arn=topic.arn,
                    shared=SharedRegistry(
                        account_id=shared_account,
                        region=shared_region,
                        kms_key_arn=shared_key,
                        artifacts_bucket=artifacts_bucket,
                        capture_bucket=capture_bucket,
                        package_group_name=_shared_model_field(shared_models, model, "packageGroupName"),
                        serving_repository_arn=_shared_model_field(shared_models, model, "servingRepositoryArn"),
                    ),
                ),
                opts,
            )
            endpoints[model] = {"endpointName": endpoint.endpoint.name,
                                "endpointConfigName": endpoint.endpoint_config.name}
        pulumi.export("alarmTopicArn", topic.arn)
    oidc_arn = (
        GitHubOidcProvider("github", opts).arn
        if config.creates_oidc_provider()
        else shared.require_output("githubOidcProviderArn")
    )
    ci = CiRoles(
        "ci",
        CiRolesArgs(naming=naming, oidc_provider_arn=oidc_arn,
                    repository=config.github_repository, account_id=account_id, region=config.region),
        opts,
    )
    pulumi.export("endpoints", endpoints)
    pulumi.export(
        "pinnedVersions",
        {name: m.deploy.approved_version for name, m in config.models.items() if m.deploy},
    )
    pulumi.export("ciPreviewRoleArn", ci.preview_role.arn)
    pulumi.export("ciDeployRoleArn", ci.deploy_role.arn)


def _shared_model_field(models: pulumi.Output, model: str, field: str) -> pulumi.Output[str]:
    def pick(values: dict) -> str:
        if model not in values:
            raise pulumi.RunError(
                f"model {model!r} is deployed here but the shared stack does not declare it "
                f"(shared models: {', '.join(sorted(values)) or 'none'})"
            )
        return values[model][field]

    return models.apply(pick)


def main() -> None:
    config = load_config()
    naming = Naming(project=pulumi.get_project(), stack=pulumi.get_stack(), config=config)
    provider = aws_provider(config, naming)
    if config.kind == "shared":
        shared_stack(config, naming, provider)
    else:
        environment_stack(config, naming, provider)


main()
