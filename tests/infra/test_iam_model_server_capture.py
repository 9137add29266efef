"""The Kubernetes model server's IRSA role, with capture on: it may load its approved package and write its captured
requests under its own capture prefix, SSE-KMS with the shared key through S3, and nothing else. Each need of
`tests/infra/iam_actions.py` is evaluated on the ARN AWS would check (sufficiency); every granted action must be
one of them (necessity); the writes are confined to exactly the prefix the monitor's job definition reads."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from iam_actions import MODEL_SERVER_CAPTURE_NEEDS, MODEL_SERVER_NEEDS, TypeNeeds
from iam_eval import granted_actions, is_allowed
from test_iam_execution_roles import check, role_documents

from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.plan.model import PlanResult
from infra.plan.project import load_stack

ENVIRONMENTS = ("dev", "staging", "prod")


def _needed(*entries: TypeNeeds) -> set[str]:
    return {a.lower() for entry in entries for need in entry.needs for a in need.actions}


def _job_capture_uri(plan: PlanResult, model: str) -> str:
    (definition,) = [r for r in plan.resources
                     if r.type == "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
                     and r.inputs["tags"]["model"] == model]
    return definition.inputs["dataQualityJobInput"]["batchTransformInput"]["dataCapturedDestinationS3Uri"]


def _targets(plans: dict[str, PlanResult], stack: str) -> dict[str, list]:
    shared = plans["shared"].outputs
    capture_uri = _job_capture_uri(plans[stack], "fraud")  # where the monitor reads: the writes must land there
    key = shared["kmsKeyArn"]
    package_group = shared["models"]["fraud"]["packageGroupArn"]
    return {
        "package": [(package_group.replace(":model-package-group/", ":model-package/") + "/2", {})],
        "artifact-object": [(f"arn:aws:s3:::{shared['artifactsBucket']}/fraud/pipelines/run/model.tar.gz", {})],
        "shared-key": [(key, {})],
        "capture-object": [("arn:aws:s3:::" + capture_uri.removeprefix("s3://") + "2026/12/01/06/17-a1b2.jsonl", {})],
        "shared-key-via-s3": [(key, {"kms:ViaService": "s3.us-east-1.amazonaws.com"})],
    }


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_model_server_role_may_load_and_ship_capture_and_nothing_more(plans: dict[str, PlanResult],
                                                                          stack: str) -> None:
    documents = role_documents(plans[stack], Naming(plans[stack].project, stack).k8s_serving_role("fraud"))
    targets = _targets(plans, stack)
    assert check(documents, MODEL_SERVER_NEEDS, targets) == []
    assert check(documents, MODEL_SERVER_CAPTURE_NEEDS, targets) == []
    assert granted_actions(documents) == _needed(MODEL_SERVER_NEEDS, MODEL_SERVER_CAPTURE_NEEDS)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_capture_writes_are_confined_to_the_models_own_prefix(plans: dict[str, PlanResult], stack: str) -> None:
    documents = role_documents(plans[stack], Naming(plans[stack].project, stack).k8s_serving_role("fraud"))
    shared = plans["shared"].outputs
    capture, key = shared["captureBucket"], shared["kmsKeyArn"]
    other = "prod" if stack != "prod" else "staging"
    via_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    refused = [
        ("s3:PutObject", f"arn:aws:s3:::{capture}/{other}/fraud/2026/12/01/06/f.jsonl", {}),  # another environment
        ("s3:PutObject", f"arn:aws:s3:::{capture}/{stack}/churn/2026/12/01/06/f.jsonl", {}),  # another model
        ("s3:PutObject", f"arn:aws:s3:::{capture}/{stack}/fraud-x/2026/12/01/06/f.jsonl", {}),  # a look-alike prefix
        ("s3:PutObject", f"arn:aws:s3:::{capture}/monitoring/{stack}/fraud/r.json", {}),  # the monitor's reports
        ("s3:PutObject", f"arn:aws:s3:::{capture}/f.jsonl", {}),
        ("s3:PutObject", f"arn:aws:s3:::{shared['artifactsBucket']}/fraud/x", {}),  # its artifacts stay read-only
        ("s3:GetObject", f"arn:aws:s3:::{capture}/{stack}/fraud/2026/12/01/06/f.jsonl", {}),  # no reading back
        ("s3:DeleteObject", f"arn:aws:s3:::{capture}/{stack}/fraud/2026/12/01/06/f.jsonl", {}),
        ("s3:ListBucket", f"arn:aws:s3:::{capture}", {"s3:prefix": f"{stack}/fraud/"}),
        ("kms:GenerateDataKey", key, {}),  # a direct KMS call, not S3 encrypting for it
        ("kms:GenerateDataKey", key, {"kms:ViaService": "sagemaker.us-east-1.amazonaws.com"}),
        ("kms:GenerateDataKey", key.replace("111111111111", "999999999999"), via_s3),
        ("kms:Encrypt", key, via_s3),
    ]
    allowed = [(a, r) for a, r, c in refused if is_allowed(documents, a, r, {"aws:RequestedRegion": "us-east-1", **c})]
    assert allowed == []


def test_without_capture_the_role_cannot_write_any_capture(plan_with: Callable[..., PlanResult],
                                                           plans: dict[str, PlanResult]) -> None:
    models = json.loads(load_stack(PROJECT_ROOT, "staging").config["mlops:models"])
    models["fraud"]["deploy"]["dataCapturePercent"] = 0
    models["fraud"]["deploy"]["monitoring"]["enabled"] = False
    plan = plan_with("staging", models=models)
    documents = role_documents(plan, Naming(plan.project, "staging").k8s_serving_role("fraud"))
    assert granted_actions(documents) == _needed(MODEL_SERVER_NEEDS)
    capture = plans["shared"].outputs["captureBucket"]
    assert not is_allowed(documents, "s3:PutObject", f"arn:aws:s3:::{capture}/staging/fraud/2026/12/01/06/f.jsonl")
