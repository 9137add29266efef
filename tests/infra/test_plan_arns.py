"""Mock ARNs have each type's real format: the Service Authorization Reference's, as parliament ships it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import parliament
import pytest
from pulumi.runtime.mocks import MockResourceArgs

from infra.plan.arns import ARN_FORMATS, arn_for
from infra.plan.mocks import PlanMocks

REFERENCE = json.loads((Path(parliament.__file__).parent / "iam_definition.json").read_text())
REFERENCE_ARNS = {(s["prefix"], r["resource"]): r["arn"] for s in REFERENCE for r in s["resources"]}


@pytest.mark.parametrize("typ", sorted(ARN_FORMATS))
def test_every_format_is_the_reference_format_of_its_resource_type(typ: str) -> None:
    fmt = ARN_FORMATS[typ]
    assert REFERENCE_ARNS[(fmt.service, fmt.resource)] == fmt.template


def _created(typ: str, name: str, inputs: dict | None = None) -> dict:
    mocks = PlanMocks("111122223333", "eu-west-1")
    args = MockResourceArgs(typ=typ, name=name, inputs=dict(inputs or {}), provider="", resource_id="",
                            custom=True)
    return mocks.new_resource(args)[1]


# Per type: what the program names, and the ARN AWS would give it (the reference's format filled in).
CASES = [
    ("aws:s3/bucketV2:BucketV2", {"bucket": "data"}, "arn:aws:s3:::data"),
    ("aws:s3/bucket:Bucket", {"bucket": "logs"}, "arn:aws:s3:::logs"),
    ("aws:s3/directoryBucket:DirectoryBucket", {"bucket": "fast--use1-az4--x-s3"},
     "arn:aws:s3express:eu-west-1:111122223333:bucket/fast--use1-az4--x-s3"),
    ("aws:sns/topic:Topic", {"name": "alarms"}, "arn:aws:sns:eu-west-1:111122223333:alarms"),
    ("aws:sqs/queue:Queue", {"name": "jobs"}, "arn:aws:sqs:eu-west-1:111122223333:jobs"),
    ("aws:iam/role:Role", {"name": "deploy", "path": "/ci/"}, "arn:aws:iam::111122223333:role/ci/deploy"),
    ("aws:iam/policy:Policy", {"name": "read"}, "arn:aws:iam::111122223333:policy/read"),
    ("aws:kms/alias:Alias", {"name": "alias/data"}, "arn:aws:kms:eu-west-1:111122223333:alias/data"),
    ("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {"name": "ec"},
     "arn:aws:sagemaker:eu-west-1:111122223333:endpoint-config/ec"),
    ("aws:sagemaker/notebookInstance:NotebookInstance", {"name": "nb"},
     "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", {"name": "errors"},
     "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:errors"),
    ("aws:cloudwatch/dashboard:Dashboard", {"dashboardName": "ops"}, "arn:aws:cloudwatch::111122223333:dashboard/ops"),
    ("aws:cloudwatch/eventRule:EventRule", {"name": "promote", "eventBusName": "ml"},
     "arn:aws:events:eu-west-1:111122223333:rule/ml/promote"),
    ("aws:cloudwatch/logGroup:LogGroup", {"name": "/app"}, "arn:aws:logs:eu-west-1:111122223333:log-group:/app"),
    ("aws:lambda/function:Function", {"name": "fn"}, "arn:aws:lambda:eu-west-1:111122223333:function:fn"),
    ("aws:ssm/parameter:Parameter", {"name": "/ml/flag"}, "arn:aws:ssm:eu-west-1:111122223333:parameter/ml/flag"),
]


@pytest.mark.parametrize(("typ", "inputs", "arn"), CASES, ids=[c[0] for c in CASES])
def test_a_created_resource_gets_the_arn_aws_would_give_it(typ: str, inputs: dict, arn: str) -> None:
    assert _created(typ, "logical", inputs)["arn"] == arn


def test_names_aws_assigns_are_ids_in_the_arn_and_the_key_arn_carries_the_key_id() -> None:
    group = _created("aws:ec2/securityGroup:SecurityGroup", "web")
    assert re.fullmatch(r"sg-[0-9a-f]{17}", group["id"])
    assert group["arn"] == f"arn:aws:ec2:eu-west-1:111122223333:security-group/{group['id']}"
    key = _created("aws:kms/key:Key", "data")
    assert key["arn"] == f"arn:aws:kms:eu-west-1:111122223333:key/{key['keyId']}"
    secret = _created("aws:secretsmanager/secret:Secret", "s", {"name": "db"})
    assert re.fullmatch(r"arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-[0-9a-f]{6}", secret["arn"])


def test_a_type_without_a_known_format_gets_the_generic_shape() -> None:
    assert arn_for("aws:appautoscaling/policy:Policy", "p", {}, "eu-west-1", "111122223333") is None
    assert _created("aws:appautoscaling/policy:Policy", "scale")["arn"].startswith(
        "arn:aws:appautoscaling:eu-west-1:111122223333:policy/scale")
