"""Argo CD, installed by the environment stack from the official chart at a pinned version.

Values per environment: the chart's HA setup where configured (prod), SSO through OIDC with the client
secret from a Pulumi secret (in a Secret of ours that `oidc.config` references, so the values hold no secret
and stay readable in a plan), RBAC whose default role is read-only with one SSO group mapped to admin, the
local admin account off unless the (unprotected) stack asks for it, and notifications on sync failure and
degraded health.

The chart's `redis-secret-init` pre-install hook does not work under Pulumi: `helm.v4.Chart` skips hooks
(pulumi-kubernetes #3284) and `helm.v3.Release` has been seen to hang on it (argo-helm #2707, #2857). So
the hook is disabled (`redisSecretInit.enabled: false`) and this component creates the `argocd-redis`
Secret (key `auth`) itself, from a password `pulumi-random` generates once and keeps, encrypted, in the
stack state; the release depends on the Secret, so Redis never starts without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from infra.config import ArgoCd
from infra.core.argocd_health import argocd_resource_customizations
from infra.core.cluster_workloads import ARGOCD, REDIS_HA_CONTAINERS, argocd_replicas, requests

CHART = "argo-cd"
CHART_VERSION = "10.1.1"
"""The argo-cd chart version (app v3.4.4); the vendored CRDs in tests/gitops/crds/ are from this version."""
CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
NAMESPACE = "argocd"
RELEASE_NAME = "argocd"
REDIS_SECRET = "argocd-redis"
"""The Secret name the chart (and its redis-ha subchart) reads the Redis password from, key `auth`."""
SSO_SECRET = "argocd-sso"
"""A Secret of ours, labelled part-of argocd, that `oidc.config` reads as `$argocd-sso:clientSecret`."""
SSO_SECRET_KEY = "clientSecret"
REPOSITORY_SECRET = "argocd-repo-gitops"
"""A Secret of ours labelled `argocd.argoproj.io/secret-type: repository` (Argo CD's declarative repository
credential, as the chart's own `configs.repositories` template writes it): url, type, username, password."""
REPOSITORY_USERNAME = "x-access-token"
"""GitHub ignores the username of a token login over HTTPS; Argo CD needs one to send basic auth."""
NOTIFICATIONS_SECRET = "argocd-notifications-secret"
WEBHOOK_SECRET_KEY = "webhook-url"
NOTIFY_TRIGGERS = ("on-sync-failed", "on-health-degraded")


def argocd_values(settings: ArgoCd, environment: str, webhook: bool) -> dict[str, Any]:
    """The chart values for one environment, without secrets (those are merged in as Outputs).

    Pure, so tests can read the values an environment gets without running the program.
    """
    values: dict[str, Any] = {
        "global": {"domain": settings.url.removeprefix("https://")},
        "crds": {"install": True, "keep": True},
        "redisSecretInit": {"enabled": False},
        "configs": {
            "params": {"server.insecure": False},
            "cm": {
                "url": settings.url,
                "admin.enabled": settings.local_admin,
                "exec.enabled": False,
                "oidc.config": _oidc_config(settings),
                # Argo CD knows Rollout health natively (argoproj.io/Rollout health.lua ships with it): a
                # Rollout that is paused for analysis is Suspended, an aborted one Degraded.
                "application.resourceTrackingMethod": "annotation",
                # ACK objects (SageMaker by pull): healthy on ACK.ResourceSynced, controller-written fields ignored.
                **argocd_resource_customizations(),
            },
            "rbac": {
                "policy.default": "role:readonly",
                "policy.csv": f"g, {settings.admin_group}, role:admin\n",
                "scopes": "[groups]",
            },
        },
        "notifications": _notifications(environment, webhook),
        # SSO goes straight to the OIDC provider (`oidc.config`), so the bundled Dex would be an idle,
        # network-reachable identity broker: off (chart default `dex.enabled: true`).
        "dex": {"enabled": False},
        "server": _server(settings),
    }
    # Requests for every pod (the chart sets none; `infra.core.cluster_workloads` holds the chart's own examples),
    # so the scheduler reserves them and the capacity check counts them. Replicas: one each, or in HA the chart's
    # documented setup (Redis HA with HAProxy, two of every stateless component; the application controller
    # shards, so it stays at one).
    replicas = argocd_replicas(settings.high_availability)
    for component in ("controller", "server", "repoServer", "applicationSet", "notifications", "redis"):
        values.setdefault(component, {})["resources"] = requests(ARGOCD[component])
        if component in ("controller", "server", "repoServer", "applicationSet"):
            values[component]["replicas"] = replicas[component]
    if settings.high_availability:
        redis = requests(ARGOCD["redis"])
        values["redis-ha"] = {"enabled": True, "existingSecret": REDIS_SECRET,
                              **{c: {"resources": redis} for c in REDIS_HA_CONTAINERS},
                              "haproxy": {"resources": redis}}
        for component in ("server", "repoServer"):
            values[component]["pdb"] = {"enabled": True, "minAvailable": 1}
    return values


def _server(settings: ArgoCd) -> dict[str, Any]:
    """How operators reach argocd-server: nothing outside the cluster (port-forward), or an internal NLB with TLS.

    The NLB comes from the service controller EKS runs (kubernetes/cloud-provider-aws docs/service_controller.md:
    `aws-load-balancer-type: nlb`, `-internal`, `-ssl-cert` with `-ssl-ports`, `-backend-protocol: ssl` for a raw
    TLS listener to argocd-server's own TLS port), so no extra controller runs with AWS rights in the cluster. TLS
    ends at the NLB with the ACM certificate of `url`'s host; gRPC (the CLI) passes through, as it is TLS to TLS.
    """
    server: dict[str, Any] = {"ingress": {"enabled": False}}
    access = settings.access
    if access.mode == "internal-load-balancer":
        prefix = "service.beta.kubernetes.io/aws-load-balancer-"
        server["service"] = {
            "type": "LoadBalancer",
            "annotations": {f"{prefix}type": "nlb", f"{prefix}internal": "true",
                            f"{prefix}ssl-cert": access.certificate_arn, f"{prefix}ssl-ports": "https",
                            f"{prefix}backend-protocol": "ssl"},
            "loadBalancerSourceRanges": list(access.source_cidrs),
        }
    return server


def _oidc_config(settings: ArgoCd) -> str:
    # `$<secret>:<key>` makes Argo CD read the value from a Secret labelled app.kubernetes.io/part-of: argocd.
    # The client secret is in neither argocd-cm nor the chart values, so the values stay reviewable in a plan.
    return (
        "name: SSO\n"
        f"issuer: {settings.sso.issuer}\n"
        f"clientID: {settings.sso.client_id}\n"
        f"clientSecret: ${SSO_SECRET}:{SSO_SECRET_KEY}\n"
        "requestedScopes: [openid, profile, email, groups]\n"
    )


def _notifications(environment: str, webhook: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "enabled": True,
        "triggers": {
            "trigger.on-sync-failed": (
                "- description: Application syncing has failed\n"
                "  send: [app-sync-failed]\n"
                "  when: app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']\n"
            ),
            "trigger.on-health-degraded": (
                "- description: Application has degraded\n"
                "  send: [app-health-degraded]\n"
                "  when: app.status.health.status == 'Degraded'\n"
            ),
        },
        "templates": {
            "template.app-sync-failed": _template(environment, "sync failed"),
            "template.app-health-degraded": _template(environment, "health degraded"),
        },
    }
    if webhook:
        # The program writes argocd-notifications-secret itself (with the webhook URL as a Pulumi secret).
        values["secret"] = {"create": False}
        values["notifiers"] = {
            "service.webhook.alerts": (
                f"url: ${WEBHOOK_SECRET_KEY}\nheaders:\n- name: Content-Type\n  value: application/json\n"
            )
        }
        values["subscriptions"] = [{"recipients": ["alerts"], "triggers": list(NOTIFY_TRIGGERS)}]
    return values


def _template(environment: str, what: str) -> str:
    body = '{"environment": "ENV", "application": "{{.app.metadata.name}}", "event": "WHAT"}'
    body = body.replace("ENV", environment).replace("WHAT", what)
    return (
        f"message: '[{environment}] {{{{.app.metadata.name}}}}: {what}'\n"
        "webhook:\n"
        "  alerts:\n"
        "    method: POST\n"
        f"    body: '{body}'\n"
    )


@dataclass(frozen=True)
class ArgoCdInstallArgs:
    settings: ArgoCd
    environment: str
    provider: k8s.Provider
    repository_url: str
    """The HTTPS clone URL of the GitOps repository (a credential is created for it when a token is set)."""
    workload_dependencies: Sequence[pulumi.Resource] = ()
    """What must exist before any pod can run (the node group): the release waits for it instead of racing it."""


class ArgoCdInstall(pulumi.ComponentResource):
    """`mlops:gitops:ArgoCd`: namespace, the Secrets it reads (Redis password, SSO client secret, webhook), then
    the Helm release, which depends on them all."""

    namespace: k8s.core.v1.Namespace
    redis_secret: k8s.core.v1.Secret
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ArgoCdInstallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:gitops:ArgoCd", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespace = k8s.core.v1.Namespace(
            name, metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE), opts=k8s_opts
        )
        password = random.RandomPassword(f"{name}-redis", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        self.redis_secret = self._secret(f"{name}-redis", REDIS_SECRET, "auth", password.result, k8s_opts)
        settings = args.settings
        secrets = [self.redis_secret, self._secret(f"{name}-sso", SSO_SECRET, SSO_SECRET_KEY,
                                                   settings.sso.client_secret.get_secret_value(), k8s_opts)]
        webhook = settings.notification_webhook_url is not None
        if settings.notification_webhook_url is not None:
            secrets.append(self._secret(f"{name}-notifications", NOTIFICATIONS_SECRET, WEBHOOK_SECRET_KEY,
                                        settings.notification_webhook_url.get_secret_value(), k8s_opts))
        if settings.repository_token is not None:
            secrets.append(self._repository_secret(f"{name}-repository", args.repository_url,
                                                   settings.repository_token.get_secret_value(), k8s_opts))
        values = argocd_values(settings, args.environment, webhook)
        self.release = k8s.helm.v3.Release(
            name,
            name=RELEASE_NAME,
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            namespace=self.namespace.metadata.name,
            create_namespace=False,
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=[*secrets, *args.workload_dependencies]),
        )
        self.register_outputs({"namespace": NAMESPACE, "release": self.release.name})

    def _repository_secret(self, name: str, url: str, token: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        """Argo CD's credential for a private repository, the token held as a Pulumi secret."""
        return k8s.core.v1.Secret(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=REPOSITORY_SECRET, namespace=self.namespace.metadata.name,
                                                labels={"argocd.argoproj.io/secret-type": "repository",
                                                        "app.kubernetes.io/part-of": "argocd"}),
            type="Opaque",
            string_data={"type": "git", "url": url, "username": REPOSITORY_USERNAME,
                         "password": pulumi.Output.secret(token)},
            opts=opts,
        )

    def _secret(self, name: str, secret_name: str, key: str, value: pulumi.Input[str],
                opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        """A Secret in the Argo CD namespace that Argo CD may read (part-of: argocd), holding a Pulumi secret."""
        return k8s.core.v1.Secret(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=self.namespace.metadata.name,
                                                labels={"app.kubernetes.io/part-of": "argocd"}),
            type="Opaque",
            string_data={key: pulumi.Output.secret(value)},
            opts=opts,
        )
