"""The cluster of the pull path (EKS created here, or a given kubeconfig) and Argo CD in it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator

from infra.config.base import (
    _Strict,
)
from infra.core.capacity import INSTANCE_TYPES
from infra.core.cluster_access import reachability_problems, runner_problems
from infra.core.eks_addons import ADDON_VERSIONS, supported_versions

SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]
RoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")]
Cidr = Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]


class EksCluster(_Strict):
    """An EKS cluster the program creates: secrets encrypted with the environment key, a managed node group."""

    version: str = Field("1.33", pattern=r"^1\.\d{2}$", description="Kubernetes minor version, e.g. '1.33'.")
    subnet_ids: list[SubnetId] = Field(min_length=2, description="Private subnets in at least two zones.")
    endpoint_access: Literal["private", "public-restricted"] = Field(
        description="How the API server is reached: `private` (inside the VPC only; the workflows then need "
        "ciRunner.location 'vpc') or `public-restricted` (private access on, plus a public endpoint admitting only "
        "publicEndpointCidrs). A stated choice: the config refuses one the workflows' runner cannot reach.",
    )
    public_endpoint_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="With endpointAccess 'public-restricted' (and only then): the CIDRs the public endpoint admits "
        "(operators' VPN, the runner's egressCidrs).",
    )
    node_instance_types: list[Annotated[str, Field(pattern=r"^[a-z0-9]+\.[a-z0-9]+$")]] = Field(
        default_factory=lambda: ["m6i.large"], min_length=1, description="Instance types of the managed node group."
    )
    node_min: int = Field(2, ge=1, le=100, description="Nodes at least.")
    node_max: int = Field(4, ge=1, le=100, description="Nodes at most.")
    admin_role_arns: list[RoleArn] = Field(
        default_factory=list, description="IAM roles given cluster-admin through EKS access entries."
    )

    @model_validator(mode="after")
    def _bounds(self) -> EksCluster:
        problems = []
        if self.node_max < self.node_min:
            problems.append(f"nodeMax ({self.node_max}) must be >= nodeMin ({self.node_min})")
        unknown = [t for t in self.node_instance_types if t not in INSTANCE_TYPES]
        if unknown:
            problems.append(f"nodeInstanceTypes {unknown} are unknown to the capacity check (infra.core.capacity); "
                            f"known: {', '.join(sorted(INSTANCE_TYPES))}")
        if self.version not in ADDON_VERSIONS:
            problems.append(f"version {self.version} has no pinned EKS add-on versions (vpc-cni, coredns, kube-proxy); "
                            f"supported: {', '.join(supported_versions())}")
        if (self.endpoint_access == "public-restricted") != bool(self.public_endpoint_cidrs):
            problems.append("publicEndpointCidrs is required with endpointAccess 'public-restricted', and only there")
        wide = [c for c in self.public_endpoint_cidrs if c.endswith("/0")]
        if wide:
            problems.append(f"publicEndpointCidrs must not open the API server to the internet (got {wide})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]


class CiRunner(_Strict):
    """The runner the workflows run this stack's cluster-side jobs on (pulumi preview and up, infra.release verify).

    `tests/release/test_release_workflows.py` holds the workflows' `runs-on` to exactly these labels.
    """

    labels: list[RunnerLabel] = Field(min_length=1, description="The `runs-on` labels of that runner.")
    location: Literal["github-hosted", "vpc", "fixed-egress"] = Field(
        description="Where it runs: `github-hosted` (GitHub's standard runners: changing public addresses), `vpc` "
        "(inside the cluster's VPC), or `fixed-egress` (outside it, leaving from egressCidrs).",
    )
    egress_cidrs: list[Cidr] = Field(
        default_factory=list, description="With location 'fixed-egress': the addresses its traffic leaves from."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CiRunner:
        problems = runner_problems(self.labels, self.location, self.egress_cidrs)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Cluster(_Strict):
    """Where the pull path runs: an EKS cluster this stack creates, or an existing one given by kubeconfig."""

    ci_runner: CiRunner = Field(description="Where the workflows run the jobs that talk to this cluster's API.")

    eks: EksCluster | None = Field(None, description="Create an EKS cluster with these settings.")
    kubeconfig: SecretStr | None = Field(
        None, description="Kubeconfig of an existing cluster; set it as a secret (pulumi config set --secret --path)."
    )
    oidc_provider_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/.+$",
        description="With kubeconfig: the IAM OIDC provider of that cluster, for IRSA roles of the model servers.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Cluster:
        if (self.eks is None) == (self.kubeconfig is None):
            raise ValueError("set exactly one of eks (create a cluster) or kubeconfig (use an existing one)")
        if self.eks is not None and self.oidc_provider_arn is not None:
            raise ValueError("oidcProviderArn is only for a kubeconfig cluster; an EKS cluster brings its own")
        if self.eks is not None:
            problems = reachability_problems(self.eks.endpoint_access, self.eks.public_endpoint_cidrs,
                                             self.ci_runner.location, self.ci_runner.egress_cidrs)
            if problems:
                raise ValueError("; ".join(problems))
        return self


class Sso(_Strict):
    """OIDC single sign-on for the Argo CD UI and CLI."""

    issuer: str = Field(pattern=r"^https://[^\s]+$", description="The OIDC issuer URL.")
    client_id: str = Field(min_length=1, max_length=256, description="The OIDC client id registered for Argo CD.")
    client_secret: SecretStr = Field(description="The OIDC client secret; set it as a Pulumi secret.")


class SyncWindow(_Strict):
    """A window in which Argo CD may sync automatically (an AppProject `allow` window)."""

    schedule: str = Field(pattern=r"^\S+ \S+ \S+ \S+ \S+$", description="Cron start of the window, e.g. '0 9 * * 1-4'.")
    duration: str = Field(pattern=r"^\d+[mh]$", description="Length of the window, e.g. '2h'.")
    time_zone: str = Field("UTC", min_length=1, description="IANA time zone of the schedule.")


class ArgoCdAccess(_Strict):
    """How operators reach the Argo CD UI and API (and so how the SSO callback reaches it): a stated choice."""

    mode: Literal["port-forward", "internal-load-balancer"] = Field(
        description="`port-forward`: no Service outside the cluster; operators run `kubectl port-forward "
        "svc/argocd-server -n argocd 8080:443` and `url` is `https://localhost:<port>`. `internal-load-balancer`: an "
        "internal NLB with TLS (ACM certificate) in front of argocd-server, reachable from inside the VPC only; "
        "`url` is the DNS name you point at it.",
    )
    certificate_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$",
        description="With internal-load-balancer: the ACM certificate of `url`'s host name (TLS ends at the NLB).",
    )
    source_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="With internal-load-balancer: the only client CIDRs the load balancer admits (empty: the VPC's).",
    )

    @model_validator(mode="after")
    def _fits_mode(self) -> ArgoCdAccess:
        if self.mode == "internal-load-balancer" and self.certificate_arn is None:
            raise ValueError("access.certificateArn is required with mode 'internal-load-balancer' (TLS at the NLB)")
        if self.mode == "port-forward" and (self.certificate_arn or self.source_cidrs):
            raise ValueError("access.certificateArn and access.sourceCidrs are only for mode 'internal-load-balancer'")
        return self


class ArgoCd(_Strict):
    """Argo CD as installed in this environment, and how it syncs what `gitops/<env>/` declares."""

    url: str = Field(
        pattern=r"^https://[^\s/]+$",
        description="The URL operators open Argo CD at (SSO redirects to it): `https://localhost:<port>` with access "
        "mode port-forward, else the load balancer's DNS name.",
    )
    access: ArgoCdAccess = Field(description="How operators reach the UI and API: port-forward or an internal NLB.")
    sso: Sso = Field(description="OIDC single sign-on.")
    admin_group: str = Field(min_length=1, max_length=256, description="The SSO group mapped to role:admin.")
    high_availability: bool = Field(False, description="Install the chart's HA setup (Redis HA, replicas).")
    local_admin: bool = Field(False, description="Keep the built-in admin account; never in a protected stack.")
    sync: Literal["automated", "manual"] = Field(
        "automated", description="'automated' (with prune and self-heal) or 'manual' syncs."
    )
    sync_windows: list[SyncWindow] = Field(
        default_factory=list, description="Allow windows; with them, automated syncs happen only inside."
    )
    revision: str = Field("main", min_length=1, description="The Git revision Argo CD follows.")
    notification_webhook_url: SecretStr | None = Field(
        None, description="Webhook that receives sync-failed and health-degraded notifications (a secret)."
    )
    repository_token: SecretStr | None = Field(
        None,
        description="For a private githubRepository: a GitHub token that may read it (fine-grained, Contents: read); "
        "Argo CD clones with it. Set it with `pulumi config set --secret --path argocd.repositoryToken`.",
    )

    @model_validator(mode="after")
    def _url_fits_access(self) -> ArgoCd:
        local = self.url.startswith(("https://localhost:", "https://127.0.0.1:"))
        if self.access.mode == "port-forward" and not local:
            raise ValueError(f"argocd.url must be https://localhost:<port> with access.mode 'port-forward' (the "
                             f"browser, and so the SSO callback, reaches Argo CD through the forward); got {self.url}")
        if self.access.mode == "internal-load-balancer" and local:
            raise ValueError("argocd.url must be the load balancer's DNS name with access.mode "
                             f"'internal-load-balancer', not {self.url}")
        return self
