"""The ACK SageMaker controller's IRSA role can reconcile what Argo CD syncs, and no more (issue 16 §4).

For every ACK object of every overlay whose environment pulls it, each call the controller makes as that role
(`tests/infra/iam_actions.py::ACK_CONTROLLER_NEEDS`, cited per kind) is evaluated against the role's planned policy
on the ARN AWS checks, in the request context AWS supplies. Then the other way round: every granted action is
needed by some kind.
"""

from __future__ import annotations

import json

import pytest
from iam_actions import Need
from iam_actions_controllers import ACK_CONTROLLER_NEEDS
from iam_eval import granted_actions, is_allowed
from planned import of_type, one, policy_of

from infra.core import ack
from infra.manifests.overlays import overlays, render
from infra.plan.model import PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT

ENVS = ("dev", "staging", "prod")


def pulled_overlays(env: str) -> list:
    config = load_stack(PROJECT_ROOT, env).config
    pulled = {name for name, m in json.loads(config["mlops:models"]).items()
              if m.get("deploy", {}).get("delivery") == "pull"}
    return [o for o in overlays() if o.environment == env and o.model in pulled]


def controller_documents(plan: PlanResult) -> list[dict]:
    return [policy_of(r) for r in of_type(plan, "aws:iam/rolePolicy:RolePolicy") if r.name == "ack-sagemaker"]


class Targets:
    """The ARNs a rendered ACK object names, as AWS forms them in this stack's account and region."""

    def __init__(self, plan: PlanResult, objects: list[dict]) -> None:
        config = load_stack(PROJECT_ROOT, plan.stack).config
        self.plan, self.account, self.region = plan, config["mlops:accountId"], config["aws:region"]
        self.by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objects}

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def of(self, need: Need, obj: dict) -> list[str]:
        kind, spec = obj["kind"], obj["spec"]
        if need.on == "self":
            name = {"Model": "modelName", "EndpointConfig": "endpointConfigName", "Endpoint": "endpointName",
                    "DataQualityJobDefinition": "jobDefinitionName",
                    "MonitoringSchedule": "monitoringScheduleName"}[kind]
            resource = {"Model": "model", "EndpointConfig": "endpoint-config", "Endpoint": "endpoint",
                        "DataQualityJobDefinition": "data-quality-job-definition",
                        "MonitoringSchedule": "monitoring-schedule"}[kind]
            return [self.arn("sagemaker", f"{resource}/{spec[name]}")]
        if need.on == "role":
            return [spec.get("executionRoleARN") or spec["roleARN"]]
        if need.on == "package":
            return [c["modelPackageName"] for c in [spec.get("primaryContainer"), *spec.get("containers", [])]
                    if c and c.get("modelPackageName")]
        if need.on == "endpoint-config":
            return [self.arn("sagemaker", f"endpoint-config/{spec['endpointConfigName']}")]
        if need.on == "key":
            config = self.by_kind[("EndpointConfig", spec["endpointConfigName"])]["spec"]
            return [self._key(config["kmsKeyID"])] if config.get("kmsKeyID") else []
        if need.on == "rollback-alarm":
            alarms = spec.get("deploymentConfig", {}).get("autoRollbackConfiguration", {}).get("alarms", [])
            return [self.arn("cloudwatch", f"alarm:{a['alarmName']}") for a in alarms]
        raise KeyError(f"unknown target {need.on!r} in ACK_CONTROLLER_NEEDS")

    def _key(self, key_id: str) -> str:
        """KMS authorizes a call naming an alias on the key the alias points to."""
        if ":alias/" not in key_id:
            return key_id
        alias = one(self.plan, "aws:kms/alias:Alias")
        assert alias.inputs["name"] == key_id.split(":", 5)[5], f"{key_id} is not this stack's alias"
        key = next(k for k in of_type(self.plan, "aws:kms/key:Key") if k.outputs["keyId"] == alias.inputs["targetKeyId"]
                   or k.outputs.get("id") == alias.inputs["targetKeyId"])
        return key.outputs["arn"]


def context(need: Need, region: str) -> dict[str, str]:
    values = {"aws:RequestedRegion": region}
    for kind in need.context:
        if kind.startswith("passed-to:"):
            values["iam:PassedToService"] = kind.removeprefix("passed-to:")
        elif kind == "aws-resource-grant":
            values["kms:GrantIsForAWSResource"] = "true"
        else:
            raise KeyError(f"unknown request context {kind!r} in ACK_CONTROLLER_NEEDS")
    return values


def denials(plan: PlanResult, documents: list[dict]) -> list[str]:
    missing = []
    for overlay in pulled_overlays(plan.stack):
        objects = [o for o in render(overlay.path) if o["apiVersion"].startswith(ack.GROUP + "/")]
        assert {o["kind"] for o in objects} == set(ack.KINDS), overlay.path
        targets = Targets(plan, objects)
        for obj in objects:
            for need in ACK_CONTROLLER_NEEDS[obj["kind"]].needs:
                for target in targets.of(need, obj):
                    missing += [f"{obj['kind']} {obj['metadata']['name']}: {action} on {target}"
                                for action in need.actions
                                if not is_allowed(documents, action, target, context(need, targets.region))]
    return missing


def test_the_table_covers_every_ack_kind_and_names_real_actions() -> None:
    assert set(ACK_CONTROLLER_NEEDS) == set(ack.KINDS)
    for kind, entry in ACK_CONTROLLER_NEEDS.items():
        for need in entry.needs:
            assert granted_actions([{"Statement": [{"Effect": "Allow", "Action": list(need.actions),
                                                    "Resource": "*"}]}]), kind


@pytest.mark.parametrize("env", ENVS)
def test_the_controller_may_do_everything_the_pulled_objects_ask(plans: dict[str, PlanResult], env: str) -> None:
    plan = plans[env]
    if not pulled_overlays(env):
        assert controller_documents(plan) == []
        return
    assert denials(plan, controller_documents(plan)) == []


def test_every_action_the_controller_is_granted_is_needed(plans: dict[str, PlanResult]) -> None:
    granted = granted_actions(controller_documents(plans["dev"]))
    needed = {a.lower() for entry in ACK_CONTROLLER_NEEDS.values() for need in entry.needs for a in need.actions}
    assert granted == needed


def test_without_describe_alarms_every_rollback_alarm_is_denied(plans: dict[str, PlanResult]) -> None:
    """Issue 16 §4: the check is not vacuous; the controller must read exactly the alarms the Endpoint names."""
    documents = controller_documents(plans["dev"])
    stripped = [{**d, "Statement": [s for s in d["Statement"] if s["Sid"] != "ReadRollbackAlarms"]} for d in documents]
    alarm = "arn:aws:cloudwatch:us-east-1:222222222222:alarm:mlops-dev-churn-"
    assert denials(plans["dev"], stripped) == [
        f"Endpoint mlops-dev-churn: cloudwatch:DescribeAlarms on {alarm}{signal}" for signal in ack.ALARM_SIGNALS]
    assert not is_allowed(documents, "cloudwatch:DescribeAlarms", alarm.replace("churn-", "fraud-") + "5xx-errors")
    assert not is_allowed(documents, "cloudwatch:DescribeAlarms",
                          "arn:aws:cloudwatch:us-east-1:222222222222:alarm:someone-elses")


def test_without_the_monitor_statements_every_monitor_call_is_denied(plans: dict[str, PlanResult]) -> None:
    """Necessity, by statement: each of the three monitor statements is what allows its calls on dev's churn."""
    documents = controller_documents(plans["dev"])
    for sid, kind in (("ManagePulledMonitorJobDefinitions", "DataQualityJobDefinition"),
                      ("ManagePulledMonitoringSchedules", "MonitoringSchedule"),
                      ("PassMonitorRoles", "DataQualityJobDefinition")):
        stripped = [{**d, "Statement": [s for s in d["Statement"] if s["Sid"] != sid]} for d in documents]
        missing = denials(plans["dev"], stripped)
        assert missing and all(m.startswith(kind + " ") for m in missing), (sid, missing)
        if sid == "PassMonitorRoles":
            assert missing == [f"DataQualityJobDefinition {m.split()[1]} iam:PassRole on "
                               "arn:aws:iam::222222222222:role/mlops-dev-churn-monitor" for m in missing]


def test_the_controller_passes_only_the_monitor_role_and_touches_only_churns_monitor(
        plans: dict[str, PlanResult]) -> None:
    documents = controller_documents(plans["dev"])
    sm, iam = "arn:aws:sagemaker:us-east-1:222222222222:", "arn:aws:iam::222222222222:role/"
    context = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert is_allowed(documents, "iam:PassRole", iam + "mlops-dev-churn-monitor", context)
    for role in ("mlops-dev-fraud-monitor", "mlops-dev-ack-sagemaker", "mlops-dev-ci-deploy", "admin"):
        assert not is_allowed(documents, "iam:PassRole", iam + role, context), role
    assert not is_allowed(documents, "iam:PassRole", iam + "mlops-dev-churn-monitor",
                          {"iam:PassedToService": "lambda.amazonaws.com"})
    assert is_allowed(documents, "sagemaker:CreateDataQualityJobDefinition",
                      sm + "data-quality-job-definition/mlops-dev-churn-monitor-0123456789-v4")
    for name in ("mlops-dev-fraud-monitor-0123456789-v4", "mlops-staging-churn-monitor-0123456789-v4", "other"):
        assert not is_allowed(documents, "sagemaker:DeleteDataQualityJobDefinition",
                              sm + f"data-quality-job-definition/{name}"), name
    assert is_allowed(documents, "sagemaker:UpdateMonitoringSchedule",
                      sm + "monitoring-schedule/mlops-dev-churn-monitor")
    for name in ("mlops-dev-fraud-monitor", "mlops-dev-churn-monitor-2", "other"):
        assert not is_allowed(documents, "sagemaker:DeleteMonitoringSchedule", sm + f"monitoring-schedule/{name}")
    # Nothing of the jobs themselves: the controller never starts processing jobs or reads capture or baselines.
    for action, target in (("sagemaker:CreateProcessingJob", sm + "processing-job/x"),
                           ("s3:GetObject", "arn:aws:s3:::mlops-shared-artifacts-111111111111/churn/baselines/v3/x"),
                           ("sagemaker:StopMonitoringSchedule", sm + "monitoring-schedule/mlops-dev-churn-monitor")):
        assert not is_allowed(documents, action, target), action
