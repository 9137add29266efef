"""Issue 16 §2: the declared capacity is real (metrics-server, the Cluster Autoscaler with a least-privilege IRSA
role, from pinned charts) and the plan refuses an environment whose peak does not fit its node group at nodeMax."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from iam_actions_controllers import CLUSTER_AUTOSCALER_NEEDS
from iam_arns import EKS_ID, StackFacts
from iam_eval import granted_actions, is_allowed
from planned import of_type, one, policy_of

from infra.components.argocd import argocd_values
from infra.config import ConfigError, parse_stack_config
from infra.core import capacity, cluster_workloads
from infra.core.capacity import PodSet, Resources
from infra.plan.model import PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT

ENVS = ("dev", "staging", "prod")
RELEASE = "kubernetes:helm.sh/v3:Release"
ASG_ID = "1f2e3d4c-0000-4000-8000-000000000000"


def config_of(env: str, **overrides: object):
    raw = dict(load_stack(PROJECT_ROOT, env).config)
    raw.update({f"mlops:{k}": json.dumps(v) for k, v in overrides.items()})
    return parse_stack_config(raw)


# -- what makes capacity real --------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_metrics_server_and_the_autoscaler_run_from_pinned_charts_after_the_nodes(
        plans: dict[str, PlanResult], env: str) -> None:
    plan = plans[env]
    metrics = one(plan, RELEASE, "capacity-metrics-server")
    assert (metrics.inputs["chart"], metrics.inputs["version"], metrics.inputs["repositoryOpts"]) == (
        "metrics-server", "3.13.1", {"repo": "https://kubernetes-sigs.github.io/metrics-server/"})
    autoscaler = one(plan, RELEASE, "capacity-autoscaler")
    assert (autoscaler.inputs["chart"], autoscaler.inputs["version"], autoscaler.inputs["repositoryOpts"]) == (
        "cluster-autoscaler", "9.51.0", {"repo": "https://kubernetes.github.io/autoscaler"})
    node_group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert node_group.urn in metrics.dependencies and node_group.urn in autoscaler.dependencies
    values = autoscaler.inputs["values"]
    cluster = one(plan, "aws:eks/cluster:Cluster")
    role = one(plan, "aws:iam/role:Role", "capacity-autoscaler")
    assert values["autoDiscovery"] == {"clusterName": cluster.inputs["name"]}
    assert values["awsRegion"] == "us-east-1" and values["cloudProvider"] == "aws"
    assert values["rbac"]["serviceAccount"] == {"create": True, "name": "cluster-autoscaler",
                                                "annotations": {"eks.amazonaws.com/role-arn": role.outputs["arn"]}}
    assert values["resources"] == {"requests": {"cpu": "100m", "memory": "300Mi"}}
    assert metrics.inputs["values"]["resources"] == {"requests": {"cpu": "100m", "memory": "200Mi"}}
    # The node group may grow to nodeMax: the autoscaler, not Pulumi, owns the desired size.
    assert "scalingConfig.desiredSize" in node_group.ignore_changes


def test_the_autoscaler_role_trusts_exactly_its_service_account(plans: dict[str, PlanResult]) -> None:
    plan = plans["prod"]
    role = one(plan, "aws:iam/role:Role", "capacity-autoscaler")
    assert role.inputs["name"] == "mlops-prod-cluster-autoscaler"
    (statement,) = policy_of(role, "assumeRolePolicy")["Statement"]
    oidc = one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cluster")
    host = oidc.outputs["url"].removeprefix("https://")
    assert statement["Principal"] == {"Federated": oidc.outputs["arn"]}
    assert statement["Condition"] == {"StringEquals": {
        f"{host}:sub": "system:serviceaccount:kube-system:cluster-autoscaler", f"{host}:aud": "sts.amazonaws.com"}}


def autoscaler_denials(plan: PlanResult, documents: list[dict], cluster_tag: str | None = None) -> list[str]:
    facts = StackFacts.of(plan)
    cluster = one(plan, "aws:eks/cluster:Cluster").inputs["name"]
    node_group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    tag = cluster_tag or cluster
    targets = {"*": "*", "node-group": facts.self_arn(node_group),
               "node-group-asg": facts.arn("autoscaling", f"autoScalingGroup:{ASG_ID}:autoScalingGroupName/"
                                                          f"eks-{node_group.name}-{EKS_ID}")}
    missing = []
    for need in CLUSTER_AUTOSCALER_NEEDS.needs:
        context = {"aws:RequestedRegion": facts.region}
        if "resource-tags" in need.context:  # what EKS tags a managed node group's Auto Scaling group with
            context.update({f"aws:ResourceTag/k8s.io/cluster-autoscaler/{tag}": "owned",
                            "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"})
        missing += [f"{a} on {targets[need.on]}" for a in need.actions
                    if not is_allowed(documents, a, targets[need.on], context)]
    return missing


@pytest.mark.parametrize("env", ENVS)
def test_the_autoscaler_may_do_what_it_calls_and_no_more(plans: dict[str, PlanResult], env: str) -> None:
    plan = plans[env]
    documents = [policy_of(one(plan, "aws:iam/rolePolicy:RolePolicy", "capacity-autoscaler"))]
    assert autoscaler_denials(plan, documents) == []
    needed = {a.lower() for need in CLUSTER_AUTOSCALER_NEEDS.needs for a in need.actions}
    assert granted_actions(documents) == needed
    # Another cluster's node groups (in the same account) cannot be scaled or read.
    other = autoscaler_denials(plan, documents, cluster_tag="someone-elses-cluster")
    assert sorted(line.split(" on ")[0] for line in other) == ["autoscaling:SetDesiredCapacity",
                                                               "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert not is_allowed(documents, "eks:DescribeNodegroup",
                          f"arn:aws:eks:us-east-1:{StackFacts.of(plan).account}:nodegroup/other/ng/{EKS_ID}")


# -- one home for the system pods' requests -------------------------------------------------------------------------
@pytest.mark.parametrize("ha", [False, True])
def test_the_argocd_values_request_what_the_capacity_check_counts(ha: bool) -> None:
    settings = config_of("prod").argocd.model_copy(update={"high_availability": ha})
    values = argocd_values(settings, "prod", webhook=True)
    counted = {p.name.removeprefix("argocd "): p for p in cluster_workloads.system_pods(ha, ack=False,
                                                                                          autoscaler=True)
               if p.name.startswith("argocd ")}
    for component in ("controller", "server", "repoServer", "applicationSet", "notifications"):
        assert values[component]["resources"] == cluster_workloads.requests(counted[component].each)
        assert values[component].get("replicas", 1) == counted[component].count
    assert ("redis-ha" in values) is ha and ("redis" in counted) is not ha
    if ha:
        redis_ha = values["redis-ha"]
        per_pod = sum((Resources(capacity.cpu_m(redis_ha[c]["resources"]["requests"]["cpu"]),
                                 capacity.memory_mi(redis_ha[c]["resources"]["requests"]["memory"]))
                       for c in ("redis", "sentinel")), capacity.NOTHING)
        assert counted["redis-ha"].each == per_pod and counted["redis-ha"].count == 3
        assert redis_ha["haproxy"]["resources"] == cluster_workloads.requests(counted["redis-ha haproxy"].each)


def test_the_model_server_base_requests_what_the_capacity_check_counts() -> None:
    base = PROJECT_ROOT / "gitops" / "base" / "model-server"
    rollout = yaml.safe_load((base / "rollout.yaml").read_text())
    init = [c["resources"]["requests"] for c in rollout["spec"]["template"]["spec"]["initContainers"]]
    assert [Resources(capacity.cpu_m(r["cpu"]), capacity.memory_mi(r["memory"])) for r in init] == list(
        cluster_workloads.MODEL_SERVER_INIT)
    assert rollout["spec"]["strategy"]["canary"]["maxSurge"] == 1  # the one extra pod of a rollout
    template = yaml.safe_load((base / "analysistemplate.yaml").read_text())
    job = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
    r = job["resources"]["requests"]
    assert Resources(capacity.cpu_m(r["cpu"]), capacity.memory_mi(r["memory"])) == cluster_workloads.SMOKE_JOB


# -- the plan-time capacity check ----------------------------------------------------------------------------------
def test_allocatable_follows_the_eks_ami_formulas() -> None:
    # m6i.large: 2 vCPU, 8 GiB, 3 ENIs x 10 IPv4 -> 29 pods; CPU 60 + 10 m reserved; memory 11 x 29 + 255 + 100 Mi.
    assert capacity.INSTANCE_TYPES["m6i.large"].max_pods == 29
    assert capacity.allocatable("m6i.large") == Resources(2000 - 70, 8192 - 574 - 100)
    # m6i.4xlarge: 16 vCPU: 60 + 10 + 10 + 30 m; 8 ENIs x 30 -> 234 pods.
    assert capacity.kube_reserved_cpu_m(16) == 110 and capacity.INSTANCE_TYPES["m6i.4xlarge"].max_pods == 234
    assert capacity.cpu_m("500m") == 500 and capacity.cpu_m("2") == 2000 and capacity.cpu_m("0.25") == 250
    assert capacity.memory_mi("1Gi") == 1024 and capacity.memory_mi("512Mi") == 512
    assert capacity.memory_mi("1048576") == 1


@pytest.mark.parametrize("env", ENVS)
def test_every_stack_fits_its_peak_with_a_rollout_in_flight(env: str) -> None:
    report = config_of(env).capacity_report()
    assert report is not None and report.unplaced == ()
    names = {p.name for p in report.pods}
    assert "fraud rollout surge" in names and "fraud at maxReplicas" in names


def test_prod_on_its_three_nodes_cannot_hold_a_canary_and_says_so_with_numbers() -> None:
    """The issue's arithmetic: 3 x m6i.large cannot hold fraud at 20 x 500m plus the surge and the system."""
    cluster = json.loads(load_stack(PROJECT_ROOT, "prod").config["mlops:cluster"])
    cluster["eks"]["nodeMin"] = cluster["eks"]["nodeMax"] = 3
    with pytest.raises(ConfigError) as caught:
        config_of("prod", cluster=cluster)
    (problem,) = caught.value.problems
    assert problem.startswith("mlops: cluster.eks cannot hold this environment's peak: 3 x m6i.large offer "
                              "5.42 vCPU / 22.0 GiB to pods after DaemonSets (1.80 vCPU / 7.3 GiB per node); "
                              "the peak asks 12.62 vCPU / 23.2 GiB; left Pending: ")
    assert "fraud at maxReplicas" in problem and "Raise cluster.eks.nodeMax" in problem


def test_a_model_whose_pod_fits_no_node_is_refused() -> None:
    models = json.loads(load_stack(PROJECT_ROOT, "staging").config["mlops:models"])
    models["fraud"]["deploy"]["resources"] = {"cpuRequest": "3", "memoryRequest": "1Gi", "cpuLimit": "3",
                                              "memoryLimit": "2Gi"}
    with pytest.raises(ConfigError) as caught:
        config_of("staging", models=models)
    assert "left Pending: 4 x fraud at maxReplicas, 1 x fraud rollout surge. " in caught.value.problems[0]


POD = st.builds(lambda cpu, mem, n: PodSet(f"p{cpu}-{mem}", n, Resources(cpu, mem)),
                st.integers(1, 2500), st.integers(1, 9000), st.integers(1, 6))


@given(pods=st.lists(POD, max_size=6), nodes=st.integers(1, 6), types=st.sampled_from(
    [["m6i.large"], ["m6i.xlarge"], ["m6i.large", "m6i.xlarge"], ["m5.2xlarge"]]))
def test_the_check_is_sound_and_monotonic(pods: list[PodSet], nodes: int, types: list[str]) -> None:
    """Whatever it accepts really fits (no node over its allocatable, the largest pod within one node); one more
    node never turns a fit into a refusal; and nothing bigger than a node is ever placed."""
    report = capacity.check(types, nodes, cluster_workloads.PER_NODE, pods)
    per_node = report.per_node
    if not report.unplaced:
        assert report.demand.fits_in(per_node.times(nodes))
        assert all(p.each.fits_in(per_node) for p in pods)
        assert capacity.check(types, nodes + 1, cluster_workloads.PER_NODE, pods).unplaced == ()
    too_big = [p for p in pods if not p.each.fits_in(per_node)]
    assert sum(p.count for p in too_big) <= len(report.unplaced)
    assert per_node == capacity.allocatable(min(types, key=capacity.allocatable)) - Resources(125, 0)


@pytest.mark.parametrize("env", ENVS)
def test_an_hpa_always_has_metrics_server_beside_it(plans: dict[str, PlanResult], env: str) -> None:
    if config_of(env).kubernetes_models():  # every model server overlay renders an HPA
        assert one(plans[env], RELEASE, "capacity-metrics-server")
    assert {r.inputs["namespace"] for r in of_type(plans[env], RELEASE) if r.name.startswith("capacity-")} == {
        "kube-system"}
