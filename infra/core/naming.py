"""Physical names and tags: the one home of every name this project gives an AWS resource.

Convention (see ARCHITECTURE.md): `<project>-<stack>-<model>-<role>` where AWS needs a name. Explicit
names matter here beyond looks: the CI deploy role's permissions are scoped to this prefix, and the release
tool (`infra.release`) finds endpoints, pipelines and package groups by asking this same class. So every
kind of name has exactly one method here; components, role scopes and the release tool all call it, and a
rename cannot silently break one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

IMAGE_ROLES = ("training", "serving")
"""The two ECR repositories every model has."""

BUCKET_ROLES = ("data", "artifacts", "capture")
"""The three buckets of the shared artifact store."""


@dataclass(frozen=True)
class Naming:
    """Builds the physical names of one stack of one project. Pure: strings in, strings out."""

    project: str
    stack: str

    @classmethod
    def of_stack(cls, fully_qualified: str) -> Naming:
        """The naming of a stack known by its fully qualified name (`org/project/stack`): the one way to name what
        the shared stack made (`mlops:sharedStack`), for the push path, the pull overlays, the ACK controller's
        IAM scope and the release tool alike, so renaming the shared stack moves them together."""
        parts = fully_qualified.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"expected a fully qualified stack name org/project/stack; got {fully_qualified!r}")
        return cls(project=parts[1], stack=parts[2])

    @property
    def prefix(self) -> str:
        """Every physical name of this stack starts with this; IAM scoping relies on it."""
        return f"{self.project}-{self.stack}"

    @property
    def wildcard(self) -> str:
        """The IAM resource pattern that covers every name this stack makes (and no other stack's)."""
        return f"{self.prefix}-*"

    def _name(self, *parts: str, limit: int = 63) -> str:
        """`<project>-<stack>-<parts...>`, refusing to silently truncate a name AWS would reject."""
        value = "-".join([self.prefix, *parts])
        if len(value) > limit:
            raise ValueError(f"physical name {value!r} is longer than {limit} characters; shorten the model name")
        return value

    # -- shared stack -------------------------------------------------------------------------------------------
    def kms_alias(self) -> str:
        """The alias of the stack's customer-managed key (one per stack)."""
        return f"alias/{self.prefix}"

    def bucket(self, role: str, account_id: str) -> str:
        """Bucket names are global: the account id keeps two installations from colliding."""
        return self._name(role, account_id)

    def repository(self, model: str, role: str) -> str:
        """ECR repository of a model's training or serving image."""
        return self._name(model, role)

    def package_group(self, model: str) -> str:
        """SageMaker model package group that holds a model's candidate and approved versions."""
        return self._name(model)

    def pipeline(self, model: str) -> str:
        """SageMaker Pipeline that trains, evaluates and registers a model."""
        return self._name(model)

    def retrain_rule(self, model: str) -> str:
        """EventBridge rule that starts a model's pipeline on schedule."""
        return self._name(model, "retrain")

    def approval_rule(self) -> str:
        """EventBridge rule that turns a package approval into a promotion request."""
        return self._name("package-approved")

    def dispatch_connection(self) -> str:
        """EventBridge connection and API destination that send approvals to GitHub's repository_dispatch."""
        return self._name("github-dispatch", limit=64)

    def topic(self, purpose: str) -> str:
        """SNS topic of the stack (`alarms`, `promotions`)."""
        return self._name(purpose)

    # -- roles ---------------------------------------------------------------------------------------------------
    def role(self, *parts: str) -> str:
        """An IAM role this stack creates: `ci-deploy`, `<model>-pipeline`, `<model>-serving`, ..."""
        return self._name(*parts, limit=64)

    def pipeline_role(self, model: str) -> str:
        return self.role(model, "pipeline")

    def experiment_logging_role(self, model: str) -> str:
        """The role of the pipeline's LogExperiment step (reads the report, logs to the tracking server)."""
        return self.role(model, "experiment")

    def schedule_role(self, model: str) -> str:
        return self.role(model, "schedule")

    def serving_role(self, model: str) -> str:
        return self.role(model, "serving")

    def ci_role(self, purpose: str) -> str:
        """`preview`, `deploy` or (shared stack) `release`: the roles GitHub Actions assume."""
        return self.role("ci", purpose)

    # -- serving -------------------------------------------------------------------------------------------------
    def endpoint(self, model: str) -> str:
        """A model's SageMaker endpoint in this environment; its dashboard carries the same name."""
        return self._name(model)

    def endpoint_config(self, model: str, digest: str) -> str:
        """An endpoint configuration; the digest of its content makes every change a new configuration."""
        return self._name(model, digest)

    def sagemaker_model(self, model: str, version: int, digest: str, variant: str = "") -> str:
        """A SageMaker model serving one package version (of the primary or the shadow variant)."""
        return self._name(*filter(None, (model, variant, f"v{version}", digest)))

    def alarm(self, model: str, signal: str) -> str:
        """A rollback alarm of a model's endpoint (`5xx-errors`, `model-errors`, `latency-p99`)."""
        return self._name(model, signal, limit=255)

    # -- monitoring and retraining (docs/monitoring.md) ----------------------------------------------------------
    def monitoring_schedule(self, model: str) -> str:
        """A model's SageMaker Model Monitor schedule (and its data-quality job definition) in this environment."""
        return self._name(model, "monitor")

    def monitor_role(self, model: str) -> str:
        """The role a model's monitoring jobs run as."""
        return self.role(model, "monitor")

    def drift_alarm(self, model: str) -> str:
        """A model's drift alarm; its ALARM is the event the shared stack's retraining guard listens for."""
        return self._name(model, "drift", limit=255)

    def drift_forward_rule(self, model: str) -> str:
        """EventBridge rule that forwards a model's drift alarm events to the shared stack's event bus."""
        return self._name(model, "drift-forward")

    def drift_forward_role(self) -> str:
        return self.role("drift-forward")

    def retrain_guard(self, model: str) -> str:
        """The retraining guard function of a model (shared stack), its role and its EventBridge rule."""
        return self._name(model, "retrain-guard", limit=64)

    def retrain_guard_log_group(self, model: str) -> str:
        """The guard's log group: Lambda writes to `/aws/lambda/<function>`, so the name follows the function."""
        return f"/aws/lambda/{self.retrain_guard(model)}"

    def mlflow_tracking_server(self) -> str:
        """The shared stack's SageMaker managed MLflow tracking server, and its role."""
        return self._name("mlflow")

    # -- the pull path (Kubernetes) ------------------------------------------------------------------------------
    def eks_cluster(self) -> str:
        """The EKS cluster of an environment (when the stack creates one)."""
        return self._name("cluster", limit=100)

    def k8s_serving_role(self, model: str) -> str:
        """The IRSA role a model server's service account assumes to read its package and artifact."""
        return self.role(model, "k8s-serving")

    def model_namespace(self, model: str) -> str:
        """The namespace a model server runs in; Argo CD's project allows exactly these namespaces."""
        return self._name(model)

    def argocd_project(self) -> str:
        """The Argo CD AppProject of this environment."""
        return self.prefix

    def argocd_application(self, model: str) -> str:
        """The Argo CD Application that syncs one model's directory (made by the ApplicationSet)."""
        return self._name(model)

    # -- SageMaker by pull (ACK) ---------------------------------------------------------------------------------
    def pulled_model(self, model: str, digest: str, version: int | str) -> str:
        """A SageMaker model an ACK `Model` object creates: the version comes last, after `-v`, because the
        overlay's promotion line reaches it through a Kustomize replacement that splits the name on `-v`."""
        return self._name(model, digest, f"v{version}")

    def pulled_endpoint_config(self, model: str, digest: str, version: int | str) -> str:
        """An endpoint configuration an ACK `EndpointConfig` creates (version last, as for `pulled_model`)."""
        return self._name(model, "config", digest, f"v{version}")

    def pulled_monitor_job(self, model: str, digest: str, version: int | str) -> str:
        """A data-quality job definition an ACK `DataQualityJobDefinition` creates. SageMaker cannot update one,
        and its baseline follows the served version, so (as for `pulled_model`) its name carries a digest of its
        content and, last after `-v`, the version; the schedule keeps its name (`monitoring_schedule`)."""
        return self._name(model, "monitor", digest, f"v{version}")

    def pulled_monitor_jobs(self, model: str) -> str:
        """The IAM name pattern of one pulled model's data-quality job definitions."""
        return f"{self.monitoring_schedule(model)}-*"

    def pulled_resources(self, model: str) -> str:
        """The IAM name pattern of one pulled model's SageMaker models and endpoint configurations."""
        return f"{self.endpoint(model)}-*"

    def ack_controller_role(self) -> str:
        """The IRSA role of the ACK SageMaker controller of this environment."""
        return self.role("ack-sagemaker")



def stack_tags(
    *, stack: str, environment: str, owner: str, cost_center: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags every taggable resource carries; applied through the provider's default tags.

    `pulumi-stack` is also what the CI deploy role's KMS permissions are conditioned on.
    """
    return {
        **(extra or {}),
        "environment": environment,
        "owner": owner,
        "cost-center": cost_center,
        "managed-by": "pulumi",
        "pulumi-stack": stack,
    }


def model_tags(model: str) -> dict[str, str]:
    """The per-resource tag that ties a resource to the model it serves."""
    return {"model": model}
