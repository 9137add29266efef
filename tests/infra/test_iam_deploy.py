"""The CI deploy role can deploy its own stack, and no more (issue 7 §2).

For every resource of every planned stack, each action the provider (or a service on the caller's behalf)
needs for that resource type (`tests/infra/iam_actions.py`, cited per type) is evaluated against the deploy
role's policy documents, on the ARN AWS would check, in the request context AWS would supply. Then the other
way round: every action the role grants must be needed by a resource type that its kind of stack declares.
"""

from __future__ import annotations

import re

import pytest
from iam_actions import DEPLOY_NEEDS, NO_AWS_CALLS
from iam_arns import StackFacts
from iam_eval import granted_actions, is_allowed

from infra.core.naming import Naming
from infra.plan.model import PlanResult

STACKS = ("shared", "dev", "staging", "prod")
KIND = {"shared": "shared", "dev": "environment", "staging": "environment", "prod": "environment"}


def deploy_documents(plan: PlanResult) -> list[str]:
    """The policy documents of the stack's deploy role (its inline policies; it has no attached ones)."""
    role = Naming(plan.project, plan.stack).ci_role("deploy")
    documents = [r.inputs["policy"] for r in plan.resources
                 if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs.get("role") == role]
    attached = [r for r in plan.resources
                if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and r.inputs.get("role") == role]
    assert documents and not attached, f"{plan.stack}: expected inline policies only on {role}"
    return documents


def denials(plan: PlanResult, documents: list[str]) -> list[str]:
    """Every (resource, action, ARN) of the plan that the documents do not allow, one line each."""
    facts = StackFacts.of(plan)
    missing = []
    for resource in plan.resources:
        if not resource.custom or resource.type in NO_AWS_CALLS:
            continue
        for need in DEPLOY_NEEDS[resource.type].needs:
            target = facts.target_arn(need, resource)
            if target is None:
                continue  # this resource does not use what the need is about (no role, no key)
            context = facts.context(need, resource, target)
            missing += [f"{resource.type} {resource.name}: {action} on {target}"
                        for action in need.actions if not is_allowed(documents, action, target, context)]
    return missing


def test_every_declared_resource_type_is_in_the_table(plans: dict[str, PlanResult]) -> None:
    declared = {r.type for plan in plans.values() for r in plan.resources if r.custom}
    unknown = declared - set(DEPLOY_NEEDS) - NO_AWS_CALLS
    assert unknown == set(), f"add these types, with their provider file, to tests/infra/iam_actions.py: {unknown}"


def test_the_table_cites_provider_code_and_names_real_actions() -> None:
    for type_, entry in DEPLOY_NEEDS.items():
        assert re.fullmatch(r"internal/service/[a-z0-9]+/[a-z0-9_]+\.go", entry.source), type_
        for need in entry.needs:
            # An unknown action raises in parliament's IAM action database.
            assert granted_actions([{"Statement": [{"Effect": "Allow", "Action": list(need.actions),
                                                    "Resource": "*"}]}]), type_


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_role_may_do_everything_its_stack_asks(plans: dict[str, PlanResult], stack: str) -> None:
    plan = plans[stack]
    assert denials(plan, deploy_documents(plan)) == []


# "And no more" (every granted action needed by a declared type or by the release tool, which runs with this
# role in CI) is tests/infra/test_iam_release.py::test_every_granted_action_is_needed_by_a_declared_type_or_...


def test_the_gaps_of_issue_7_are_caught(plans: dict[str, PlanResult]) -> None:
    """The check is not vacuous: take back each right issue 7 found missing and it names what breaks."""
    def without(plan: PlanResult, action: str, resource_part: str = "") -> list[str]:
        import json

        documents = []
        for text in deploy_documents(plan):
            document = json.loads(text)
            for statement in document["Statement"]:
                if resource_part and not any(resource_part in r for r in statement["Resource"]):
                    continue
                statement["Action"] = [a for a in statement["Action"] if a != action]
            document["Statement"] = [s for s in document["Statement"] if s["Action"]]
            documents.append(document)
        return denials(plan, documents)

    assert "aws:kms/alias:Alias artifacts: kms:ListAliases on *" in without(plans["shared"], "kms:ListAliases")
    staging = without(plans["staging"], "sagemaker:UpdateEndpointWeightsAndCapacities")
    assert any(line.startswith("aws:appautoscaling/target:Target churn: sagemaker:UpdateEndpointWeights")
               for line in staging), staging
    prod = without(plans["prod"], "cloudwatch:PutMetricAlarm", "TargetTracking")
    assert prod == ["aws:appautoscaling/policy:Policy churn: cloudwatch:PutMetricAlarm on "
                    "arn:aws:cloudwatch:us-east-1:444444444444:alarm:TargetTracking-endpoint/mlops-prod-churn/"
                    "variant/AllTraffic-AlarmHigh-0123456789abcdef0123456789abcdef"]


def test_alarm_rights_stop_at_this_stacks_names(plans: dict[str, PlanResult]) -> None:
    documents = deploy_documents(plans["prod"])
    alarm = "arn:aws:cloudwatch:us-east-1:444444444444:alarm:"
    assert is_allowed(documents, "cloudwatch:PutMetricAlarm", alarm + "mlops-prod-churn-5xx-errors")
    assert is_allowed(documents, "cloudwatch:PutMetricAlarm",
                      alarm + "TargetTracking-endpoint/mlops-prod-churn/variant/AllTraffic-AlarmLow-1")
    assert not is_allowed(documents, "cloudwatch:PutMetricAlarm", alarm + "someone-elses-alarm")
    assert not is_allowed(documents, "cloudwatch:PutMetricAlarm",
                          alarm + "TargetTracking-table/orders-AlarmHigh-1")  # another service's target tracking
    assert not is_allowed(documents, "sagemaker:UpdateEndpointWeightsAndCapacities",
                          "arn:aws:sagemaker:us-east-1:444444444444:endpoint/other-endpoint")


def test_key_rights_need_this_stacks_tag(plans: dict[str, PlanResult]) -> None:
    documents = deploy_documents(plans["dev"])
    key = "arn:aws:kms:us-east-1:222222222222:key/0000"
    assert is_allowed(documents, "kms:PutKeyPolicy", key, {"aws:ResourceTag/pulumi-stack": "dev"})
    assert not is_allowed(documents, "kms:PutKeyPolicy", key, {"aws:ResourceTag/pulumi-stack": "prod"})
    assert not is_allowed(documents, "kms:PutKeyPolicy", key, {})
    assert is_allowed(documents, "kms:CreateKey", "*", {"aws:RequestTag/pulumi-stack": "dev"})
    assert not is_allowed(documents, "kms:CreateKey", "*", {})


def test_eks_rights_are_needed_and_stop_at_this_stacks_cluster(plans: dict[str, PlanResult]) -> None:
    """The cluster's rights are checked too: without PassRole to EKS the cluster and node group cannot be
    created, and the rights name only this stack's cluster."""
    import json

    documents = []
    for text in deploy_documents(plans["dev"]):
        document = json.loads(text)
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "PassOwnRolesToEks"]
        documents.append(document)
    missing = denials(plans["dev"], documents)
    assert sorted(line.split(": iam:PassRole on ")[0] for line in missing) == [
        "aws:eks/cluster:Cluster cluster", "aws:eks/nodeGroup:NodeGroup cluster"]
    full = deploy_documents(plans["dev"])
    eks = "arn:aws:eks:us-east-1:222222222222:"
    assert is_allowed(full, "eks:UpdateClusterVersion", eks + "cluster/mlops-dev-cluster")
    assert not is_allowed(full, "eks:UpdateClusterVersion", eks + "cluster/mlops-prod-cluster")
    assert not is_allowed(full, "eks:CreateAccessEntry", eks + "cluster/someone-elses")
    assert is_allowed(full, "eks:CreateCluster", "*", {"aws:RequestTag/pulumi-stack": "dev"})
    assert not is_allowed(full, "eks:CreateCluster", "*", {"aws:RequestTag/pulumi-stack": "prod"})
    assert not is_allowed(full, "iam:PassRole", "arn:aws:iam::222222222222:role/mlops-dev-eks-nodes",
                          {"iam:PassedToService": "ec2.amazonaws.com"})
