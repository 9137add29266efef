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

from infra.components.ack_controller import AckControllerArgs, AckSageMakerController  # noqa: E402
from infra.components.alarm_topic import AlarmTopic, AlarmTopicArgs  # noqa: E402
from infra.components.argo_rollouts import NAMESPACE as ROLLOUTS_NAMESPACE  # noqa: E402
from infra.components.argo_rollouts import ArgoRolloutsInstall, ArgoRolloutsInstallArgs  # noqa: E402
from infra.components.argocd import NAMESPACE as ARGOCD_NAMESPACE  # noqa: E402
from infra.components.argocd import ArgoCdInstall, ArgoCdInstallArgs  # noqa: E402
from infra.components.artifact_store import ArtifactStore, ArtifactStoreArgs  # noqa: E402
from infra.components.ci_roles import CiRoles, CiRolesArgs  # noqa: E402
from infra.components.cluster import KubernetesCluster, KubernetesClusterArgs  # noqa: E402
from infra.components.cluster_capacity import NAMESPACE as CAPACITY_NAMESPACE  # noqa: E402
from infra.components.cluster_capacity import ClusterCapacity, ClusterCapacityArgs  # noqa: E402
from infra.components.environment_key import EnvironmentKey, EnvironmentKeyArgs  # noqa: E402
from infra.components.experiment_tracking import ExperimentTracking, ExperimentTrackingArgs  # noqa: E402
from infra.components.github_oidc import GitHubOidcProvider  # noqa: E402
from infra.components.gitops_apps import (  # noqa: E402
    CaptureAccess,
    GitOpsApps,
    GitOpsAppsArgs,
    ModelAccess,
    repo_url,
)
from infra.components.model_monitor import ModelMonitor, ModelMonitorArgs  # noqa: E402
from infra.components.model_registry import ModelRegistry, ModelRegistryArgs  # noqa: E402
from infra.components.promotion_trigger import (  # noqa: E402
    PromotionTrigger,
    PromotionTriggerArgs,
    github_dispatch,
)
from infra.components.retrain_guard import RetrainGuard, RetrainGuardArgs  # noqa: E402
from infra.components.sagemaker_endpoint import (  # noqa: E402
    SageMakerEndpoint,
    SageMakerEndpointArgs,
    SharedRegistry,
)
from infra.components.training_pipeline import TrainingPipeline, TrainingPipelineArgs  # noqa: E402
from infra.config import ConfigError, KubernetesDeploy, StackConfig, parse_stack_config  # noqa: E402
from infra.core import bucket_layout  # noqa: E402
from infra.core.ack_controller import NAMESPACE as ACK_NAMESPACE  # noqa: E402
from infra.core.arns import Arns  # noqa: E402
from infra.core.naming import Naming, stack_tags  # noqa: E402
from infra.core.outputs import (  # noqa: E402
    EndpointOutputs,
    EnvironmentOutputs,
    SharedModelOutputs,
    SharedOutputs,
    SharedStack,
)


def load_config() -> StackConfig:
    """The validated stack config, or a RunError that the CLI prints without a traceback."""
    raw = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    try:
        return parse_stack_config(raw)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None


def aws_provider(config: StackConfig, stack: str) -> aws.Provider:
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
        default_tags=aws.ProviderDefaultTagsArgs(
            tags=stack_tags(stack=stack, environment=config.environment, owner=config.owner,
                            cost_center=config.cost_center, extra=config.tags)
        ),
    )


def account_id_of(config: StackConfig, provider: aws.Provider) -> pulumi.Input[str]:
    """The configured account id (known at preview), else the caller's."""
    if config.account_id:
        return config.account_id
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id


def partition_of(provider: aws.Provider) -> aws.GetPartitionResult:
    """The provider's partition (`aws`, `aws-us-gov`, `aws-cn`): the first field of every ARN the program writes
    (`infra.core.arns`), and its DNS suffix. Asked of the provider, so GovCloud and China stacks get their own."""
    return aws.get_partition(opts=pulumi.InvokeOptions(provider=provider))


def shared_stack(config: StackConfig, naming: Naming, provider: aws.Provider) -> None:
    """Registries, artifact store, training pipelines, promotion trigger and CI trust."""
    account_id = account_id_of(config, provider)
    aws_partition = partition_of(provider)
    partition = aws_partition.partition
    # `protect` goes to the stateful children only (keys, buckets, repositories, package groups), never to
    # whole components: their policies, lifecycle rules and aliases must stay changeable.
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    store = ArtifactStore(
        "artifacts",
        ArtifactStoreArgs(naming=naming, account_id=account_id, partition=partition, region=config.region,
                          reader_account_ids=config.reader_account_ids, protect=config.protect),
        opts,
    )
    tracking = (
        ExperimentTracking(
            "experiments",
            ExperimentTrackingArgs(naming=naming, settings=config.experiments, account_id=account_id,
                                   region=config.region, partition=partition,
                                   artifacts_bucket=store.buckets["artifacts"].name, kms_key_arn=store.key.arn),
            opts,
        )
        if config.experiments is not None and config.experiments.enabled else None
    )
    models: dict[str, SharedModelOutputs[pulumi.Output[str]]] = {}
    for model, training in config.trained_models().items():
        registry = ModelRegistry(
            model,
            ModelRegistryArgs(
                naming=naming, model=model, kms_key_arn=store.key.arn, account_id=account_id,
                region=config.region, partition=partition, reader_account_ids=config.reader_account_ids,
                protect=config.protect,
            ),
            opts,
        )
        training_repo, serving_repo = registry.repositories["training"], registry.repositories["serving"]
        pipeline = TrainingPipeline(
            model,
            TrainingPipelineArgs(
                naming=naming, model=model, training=training, network=config.network, account_id=account_id,
                region=config.region, partition=partition, kms_key_arn=store.key.arn,
                data_bucket=store.buckets["data"].name,
                artifacts_bucket=store.buckets["artifacts"].name, training_repository_arn=training_repo.arn,
                serving_repository_arn=serving_repo.arn,
                training_image_uri=pulumi.Output.concat(training_repo.repository_url, ":", training.image_tag),
                serving_image_uri=pulumi.Output.concat(serving_repo.repository_url, ":",
                                                       training.serving_image_tag),
                package_group_name=registry.package_group.model_package_group_name,
                tracking_server_arn=tracking.server_arn if tracking is not None else None,
            ),
            opts,
        )
        guard = RetrainGuard(
            model,
            RetrainGuardArgs(naming=naming, model=model, settings=training.retrain_on_drift, account_id=account_id,
                             region=config.region, partition=partition, pipeline_name=naming.pipeline(model),
                             pipeline_arn=pipeline.pipeline.arn, invoker_account_ids=config.reader_account_ids),
            opts,
        )
        models[model] = SharedModelOutputs(
            package_group_name=registry.package_group.model_package_group_name,
            package_group_arn=registry.package_group.arn,
            training_repository_url=training_repo.repository_url,
            serving_repository_url=serving_repo.repository_url,
            serving_repository_arn=serving_repo.arn,
            pipeline_name=pipeline.pipeline.pipeline_name,
            serving_image_uri=pulumi.Output.concat(serving_repo.repository_url, ":", training.serving_image_tag),
            retrain_guard_arn=guard.function.arn,
        )
    promotion = PromotionTrigger(
        "promotion",
        PromotionTriggerArgs(
            naming=naming, package_group_names=[naming.package_group(m) for m in models],
            kms_key_arn=store.key.arn, account_id=account_id, github_dispatch=github_dispatch(config),
        ),
        opts,
    )
    oidc = GitHubOidcProvider("github", opts)
    ci = CiRoles(
        "ci",
        CiRolesArgs(naming=naming, oidc_provider_arn=oidc.arn, repository=config.github_repository,
                    environment=config.environment, account_id=account_id, region=config.region,
                    partition=partition, dns_suffix=aws_partition.dns_suffix, kind="shared",
                    manages_oidc_provider=True),
        opts,
    )
    SharedOutputs(
        account_id=account_id,
        region=config.region,
        kms_key_arn=store.key.arn,
        data_bucket=store.buckets["data"].name,
        artifacts_bucket=store.buckets["artifacts"].name,
        capture_bucket=store.buckets["capture"].name,
        models=models,
        promotion_topic_arn=promotion.topic.arn,
        github_oidc_provider_arn=oidc.arn,
        ci_preview_role_arn=ci.preview_role.arn,
        ci_deploy_role_arn=ci.deploy_role.arn,
        mlflow_tracking_server_arn=tracking.server_arn if tracking else None,
        ci_release_role_arn=ci.release_role.arn if ci.release_role is not None else None,
    ).export()


def environment_stack(config: StackConfig, naming: Naming, provider: aws.Provider) -> None:
    """Serving (push path), alarms, CI roles; everything shared comes through a StackReference."""
    account_id = account_id_of(config, provider)
    aws_partition = partition_of(provider)
    partition = aws_partition.partition
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    shared = SharedStack(config.shared_stack)
    key = EnvironmentKey(
        "environment",
        EnvironmentKeyArgs(naming=naming, account_id=account_id, partition=partition, region=config.region,
                           protect=config.protect),
        opts,
    )
    endpoints: dict[str, EndpointOutputs[pulumi.Output[str]]] = {}
    serving_roles: dict[str, pulumi.Output[str]] = {}
    alarm_topic_arn = None
    serving = config.sagemaker_models()
    if serving:
        topic = AlarmTopic("alarms", AlarmTopicArgs(naming=naming, kms_key_arn=key.arn, account_id=account_id), opts)
        alarm_topic_arn = topic.arn
        for model, deploy in serving.items():
            shared_model = shared.model(model)
            endpoint = SageMakerEndpoint(
                model,
                SageMakerEndpointArgs(
                    naming=naming, model=model, environment=config.environment, deploy=deploy,
                    network=config.network, account_id=account_id, region=config.region, partition=partition,
                    kms_key_arn=key.arn,
                    alarm_topic_arn=topic.arn,
                    shared=SharedRegistry(
                        account_id=shared.output("account_id"),
                        region=shared.output("region"),
                        kms_key_arn=shared.output("kms_key_arn"),
                        artifacts_bucket=shared.output("artifacts_bucket"),
                        capture_bucket=shared.output("capture_bucket"),
                        package_group_name=shared_model.package_group_name,
                        serving_repository_arn=shared_model.serving_repository_arn,
                    ),
                ),
                opts,
            )
            serving_roles[model] = endpoint.role.arn
            if endpoint.endpoint is not None and endpoint.endpoint_config is not None:
                endpoints[model] = EndpointOutputs(endpoint_name=endpoint.endpoint.name,
                                                   endpoint_config_name=endpoint.endpoint_config.name)
    oidc_arn = (
        GitHubOidcProvider("github", opts).arn
        if config.creates_oidc_provider()
        else shared.output("github_oidc_provider_arn")
    )
    ci = CiRoles(
        "ci",
        CiRolesArgs(naming=naming, oidc_provider_arn=oidc_arn, repository=config.github_repository,
                    environment=config.environment, account_id=account_id, region=config.region,
                    partition=partition, dns_suffix=aws_partition.dns_suffix, kind="environment",
                    manages_oidc_provider=config.creates_oidc_provider(),
                    manages_eks_cluster=config.cluster is not None and config.cluster.eks is not None),
        opts,
    )
    applications = pull_path(config, naming, provider, shared, key.arn, account_id, partition, ci, serving_roles)
    monitoring(config, naming, provider, shared, key.arn, account_id, partition, alarm_topic_arn)
    EnvironmentOutputs(
        gitops_applications=applications,
        endpoints=endpoints,
        pinned_versions=config.pinned_versions(),
        alarm_topic_arn=alarm_topic_arn,
        ci_preview_role_arn=ci.preview_role.arn,
        ci_deploy_role_arn=ci.deploy_role.arn,
    ).export()


def pull_path(config: StackConfig, naming: Naming, provider: aws.Provider, shared: SharedStack,
              kms_key_arn: pulumi.Input[str], account_id: pulumi.Input[str], partition: str, ci: CiRoles,
              serving_roles: dict[str, pulumi.Output[str]]) -> dict[str, str] | None:
    """The cluster side: the cluster and its provider, Argo CD, Argo Rollouts, and what Argo CD syncs."""
    if config.cluster is None or config.argocd is None:
        return None
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    cluster = KubernetesCluster(
        "cluster",
        KubernetesClusterArgs(naming=naming, cluster=config.cluster, region=config.region, partition=partition,
                              profile=config.profile, account_id=account_id, kms_key_arn=kms_key_arn,
                              deployer_role_arn=ci.deploy_role.arn, viewer_role_arn=ci.preview_role.arn,
                              viewer_namespaces=cluster_namespaces(config, naming)),
        opts,
    )
    ClusterCapacity(
        "capacity",
        ClusterCapacityArgs(naming=naming, region=config.region, partition=partition, account_id=account_id,
                            provider=cluster.provider, cluster_name=cluster.name,
                            oidc_provider_arn=cluster.oidc_provider_arn, oidc_host=cluster.oidc_host,
                            workload_dependencies=cluster.workload_dependencies),
        opts,
    )
    argocd = ArgoCdInstall(
        "argocd",
        ArgoCdInstallArgs(settings=config.argocd, environment=config.environment, provider=cluster.provider,
                          repository_url=repo_url(config.github_repository),
                          workload_dependencies=cluster.workload_dependencies),
    )
    ArgoRolloutsInstall(
        "argo-rollouts",
        ArgoRolloutsInstallArgs(provider=cluster.provider, high_availability=config.argocd.high_availability,
                                workload_dependencies=cluster.workload_dependencies),
    )
    models = {
        model: ModelAccess(
            package_group_arn=shared.model(model).package_group_arn,
            artifacts_bucket=shared.output("artifacts_bucket"), kms_key_arn=shared.output("kms_key_arn"),
            capture=CaptureAccess(bucket=shared.output("capture_bucket"), region=shared.output("region"),
                                  prefix=bucket_layout.capture_prefix(config.environment, model))
            if deploy.data_capture_percent else None,
        )
        for model, deploy in config.kubernetes_models().items()
    }
    pulled = sorted(config.pulled_sagemaker_models())
    apps = GitOpsApps(
        "gitops",
        GitOpsAppsArgs(naming=naming, partition=partition, environment=config.environment,
                       repository=config.github_repository,
                       settings=config.argocd, provider=cluster.provider, models=models,
                       oidc_provider_arn=cluster.oidc_provider_arn, oidc_host=cluster.oidc_host,
                       argocd=argocd.release, pulled=pulled),
        opts,
    )
    if pulled:
        if cluster.oidc_provider_arn is None or cluster.oidc_host is None:
            raise pulumi.RunError("delivery 'pull' needs the cluster's OIDC provider for the ACK controller's IRSA "
                                  "role: set cluster.oidcProviderArn with a kubeconfig cluster")
        AckSageMakerController(
            "ack-sagemaker",
            AckControllerArgs(naming=naming, shared=Naming.of_stack(config.shared_stack), partition=partition,
                              region=config.region, account_id=account_id, models=pulled,
                              serving_role_arns=[serving_roles[m] for m in pulled], kms_key_arn=kms_key_arn,
                              provider=cluster.provider, oidc_provider_arn=cluster.oidc_provider_arn,
                              oidc_host=cluster.oidc_host, workload_dependencies=cluster.workload_dependencies,
                              monitored=[m for m in pulled if m in config.monitored_models()]),
            opts,
        )
    return apps.applications


def monitoring(config: StackConfig, naming: Naming, provider: aws.Provider, shared: SharedStack,
               kms_key_arn: pulumi.Input[str], account_id: pulumi.Input[str], partition: str,
               alarm_topic_arn: pulumi.Input[str] | None) -> None:
    """A monitoring schedule and drift alarm per monitored model, on every deploy target (docs/monitoring.md)."""
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    shared_naming = Naming(naming.project, "shared")
    pulled = config.pulled_sagemaker_models()
    for model, deploy in config.monitored_models().items():
        shared_model = shared.model(model)
        kubernetes = isinstance(deploy, KubernetesDeploy)
        ModelMonitor(
            model,
            ModelMonitorArgs(
                naming=naming, model=model, environment=config.environment, monitoring=deploy.monitoring,
                kind="capture" if kubernetes else "endpoint", approved_version=deploy.approved_version,
                network=config.network, account_id=account_id, region=config.region, partition=partition,
                environment_kms_key_arn=kms_key_arn, shared_kms_key_arn=shared.output("kms_key_arn"),
                capture_bucket=shared.output("capture_bucket"), artifacts_bucket=shared.output("artifacts_bucket"),
                image_uri=shared_model.serving_image_uri, image_repository_arn=shared_model.serving_repository_arn,
                alarm_topic_arn=alarm_topic_arn, endpoint_name=None if kubernetes else naming.endpoint(model),
                retrain_guard_arn=Arns(partition, shared.output("region"), shared.output("account_id")).arn(
                    "lambda", f"function:{shared_naming.retrain_guard(model)}"),
                # SageMaker by pull: job definition and schedule are ACK objects in the overlay (docs/monitoring.md).
                schedule_in_git=model in pulled,
            ),
            opts,
        )


def cluster_namespaces(config: StackConfig, naming: Naming) -> list[str]:
    """Every namespace this stack declares Kubernetes resources in (what the preview role may view)."""
    served = [naming.model_namespace(m) for m in config.kubernetes_models()]
    namespaces = [ARGOCD_NAMESPACE, ROLLOUTS_NAMESPACE, CAPACITY_NAMESPACE, *served]
    pulled = [naming.model_namespace(m) for m in config.pulled_sagemaker_models()]
    return sorted({*namespaces, *pulled, *([ACK_NAMESPACE] if pulled else [])})


def main() -> None:
    config = load_config()
    naming = Naming(project=pulumi.get_project(), stack=pulumi.get_stack())
    provider = aws_provider(config, naming.stack)
    if config.kind == "shared":
        shared_stack(config, naming, provider)
    else:
        environment_stack(config, naming, provider)


main()
