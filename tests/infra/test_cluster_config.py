"""The cluster side's stack config: every contradiction refused with one line naming the keys, secrets kept out of
reprs. (The plans these configs produce are tests/infra/test_cluster.py.)"""

from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, parse_stack_config
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT


def config_of(stack: str, **overrides: object):
    raw = dict(load_stack(PROJECT_ROOT, stack).config)
    raw.update({f"mlops:{k}": json.dumps(v) for k, v in overrides.items()})
    return parse_stack_config(raw)


CERT = "arn:aws:acm:us-east-1:444444444444:certificate/7d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a"
ILB = {"mode": "internal-load-balancer", "certificateArn": CERT}
SSO = {"issuer": "https://id.example.com", "clientId": "a", "clientSecret": "s"}
HOOK = "https://hooks.example.com/argocd"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
IN_VPC = {"labels": ["self-hosted", "mlops"], "location": "vpc"}


@pytest.mark.parametrize(
    ("stack", "overrides", "message"),
    [
        ("prod", {"argocd": {"url": "https://argocd.example.com", "adminGroup": "admins", "localAdmin": True,
                             "syncWindows": [{"schedule": "0 9 * * 1", "duration": "1h"}], "access": ILB,
                             "notificationWebhookUrl": HOOK, "sso": SSO}},
         "mlops: argocd.localAdmin must be false in a protected stack (use SSO)"),
        ("prod", {"argocd": {"url": "https://argocd.example.com", "adminGroup": "admins", "access": ILB,
                             "notificationWebhookUrl": HOOK, "sso": SSO}},
         "mlops: argocd.sync is 'automated' in a protected stack, so argocd.syncWindows is required "
         "(or set sync: manual)"),
        # Issue 16 §7: notifications are required where they matter; access is a stated, consistent choice.
        ("prod", {"argocd": {"url": "https://argocd.example.com", "adminGroup": "admins", "access": ILB,
                             "sync": "manual", "sso": SSO}},
         "mlops: argocd.notificationWebhookUrl is required in a protected stack: without it the sync-failed and "
         "health-degraded triggers deliver to nobody"),
        ("dev", {"argocd": {"url": "https://argocd.example.com", "adminGroup": "admins", "sso": SSO}},
         "mlops:argocd.access: required key is missing"),
        ("dev", {"argocd": {"url": "https://argocd.example.com", "adminGroup": "admins", "sso": SSO,
                            "access": {"mode": "port-forward"}}},
         "mlops:argocd: argocd.url must be https://localhost:<port> with access.mode 'port-forward' (the browser, "
         "and so the SSO callback, reaches Argo CD through the forward); got https://argocd.example.com"),
        ("dev", {"argocd": {"url": "https://localhost:8080", "adminGroup": "admins", "sso": SSO, "access": ILB}},
         "mlops:argocd: argocd.url must be the load balancer's DNS name with access.mode 'internal-load-balancer', "
         "not https://localhost:8080"),
        ("dev", {"argocd": {"url": "https://argocd.example.com", "adminGroup": "admins", "sso": SSO,
                            "access": {"mode": "internal-load-balancer"}}},
         "mlops:argocd.access: access.certificateArn is required with mode 'internal-load-balancer' (TLS at the NLB)"),
        ("dev", {"cluster": {"kubeconfig": "x", "ciRunner": IN_VPC,
                             "eks": {"subnetIds": SUBNETS, "endpointAccess": "private"}}},
         "mlops:cluster: set exactly one of eks (create a cluster) or kubeconfig (use an existing one)"),
        ("dev", {"cluster": {"ciRunner": IN_VPC, "eks": {"subnetIds": SUBNETS, "endpointAccess": "public-restricted",
                                                         "publicEndpointCidrs": ["0.0.0.0/0"]}}},
         "mlops:cluster.eks: publicEndpointCidrs must not open the API server to the internet (got ['0.0.0.0/0'])"),
        # Issue 16 §1: reachability is stated, and a combination the shipped workflows cannot reach is refused.
        ("dev", {"cluster": {"eks": {"subnetIds": SUBNETS}}}, "mlops:cluster.ciRunner: required key is missing"),
        ("dev", {"cluster": {"ciRunner": IN_VPC, "eks": {"subnetIds": SUBNETS}}},
         "mlops:cluster.eks.endpointAccess: required key is missing"),
        ("dev", {"cluster": {"ciRunner": {"labels": ["ubuntu-24.04"], "location": "github-hosted"},
                             "eks": {"subnetIds": SUBNETS, "endpointAccess": "private"}}},
         "mlops:cluster: cluster.eks.endpointAccess is 'private', which only a runner inside the VPC reaches, but "
         "cluster.ciRunner.location is 'github-hosted': the workflows' pulumi preview/up and infra.release verify "
         "could not reach the cluster; use location 'vpc' with your runner's labels, or endpointAccess "
         "'public-restricted' with publicEndpointCidrs covering the runner's egressCidrs"),
        ("dev", {"cluster": {"ciRunner": IN_VPC, "eks": {"subnetIds": SUBNETS, "endpointAccess": "public-restricted"}}},
         "mlops:cluster.eks: publicEndpointCidrs is required with endpointAccess 'public-restricted', and only there"),
        ("dev", {"cluster": {"ciRunner": {"labels": ["ubuntu-24.04"], "location": "vpc"},
                             "eks": {"subnetIds": SUBNETS, "endpointAccess": "private"}}},
         "mlops:cluster.ciRunner: cluster.ciRunner.labels ['ubuntu-24.04'] name GitHub's standard hosted runners, "
         "which run outside your VPC on changing addresses; cluster.ciRunner.location 'vpc' needs the labels of your "
         "own (self-hosted or larger) runner"),
        ("dev", {"models": {"fraud": {"framework": "xgboost", "deploy": {"target": "kubernetes", "approvedVersion": 1,
                                                                         "replicas": 3, "maxReplicas": 2}}}},
         "mlops:models.fraud.deploy: maxReplicas (2) must be >= replicas (3)"),
    ],
)
def test_contradictory_cluster_config_is_refused_with_one_line_each(stack: str, overrides: dict,
                                                                    message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(stack, **overrides)
    assert message in caught.value.problems


def test_argocd_ha_needs_three_nodes_for_redis_ha() -> None:
    cluster = json.loads(load_stack(PROJECT_ROOT, "prod").config["mlops:cluster"])
    cluster["eks"]["nodeMin"] = 2
    with pytest.raises(ConfigError) as caught:
        config_of("prod", cluster=cluster)
    assert caught.value.problems == ["mlops: argocd.highAvailability needs cluster.eks.nodeMin >= 3 (Redis HA "
                                     "places its three replicas on separate nodes); got 2"]


def test_a_kubernetes_model_needs_a_cluster() -> None:
    raw = dict(load_stack(PROJECT_ROOT, "dev").config)
    raw.pop("mlops:cluster")
    raw.pop("mlops:argocd")
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    assert caught.value.problems == [
        "mlops: models fraud deploy to kubernetes, so a cluster section is required; models churn use delivery "
        "'pull', so a cluster section is required (Argo CD and the ACK SageMaker controller run there)"]


def test_secrets_do_not_show_in_the_parsed_config() -> None:
    config = config_of("dev", argocd={"url": "https://localhost:8080", "adminGroup": "admins",
                                      "access": {"mode": "port-forward"},
                                      "sso": {"issuer": "https://id.example.com", "clientId": "a",
                                              "clientSecret": "hunter2"}})
    assert "hunter2" not in repr(config) and config.argocd.sso.client_secret.get_secret_value() == "hunter2"


def test_a_kubernetes_version_without_pinned_addons_is_refused() -> None:
    cluster = json.loads(load_stack(PROJECT_ROOT, "dev").config["mlops:cluster"])
    cluster["eks"]["version"] = "1.29"
    with pytest.raises(ConfigError) as caught:
        config_of("dev", cluster=cluster)
    assert caught.value.problems == ["mlops:cluster.eks: version 1.29 has no pinned EKS add-on versions (vpc-cni, "
                                     "coredns, kube-proxy); supported: 1.33"]
