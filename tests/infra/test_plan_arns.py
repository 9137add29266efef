"""Mock ARNs have each type's real format: the Service Authorization Reference's, as parliament ships it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import parliament
import pytest
from pulumi.output import Unknown as OutputUnknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockResourceArgs

from infra.plan.arns import ARN_FORMATS, arn_for
from infra.plan.mocks import PlanMocks
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT, plan_program

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


def test_a_type_without_a_known_format_keeps_its_arn_unknown_as_in_a_real_preview() -> None:
    assert arn_for("aws:appautoscaling/policy:Policy", "p", {}, "eu-west-1", "111122223333") is None
    assert _created("aws:appautoscaling/policy:Policy", "scale")["arn"] == rpc.UNKNOWN


def _unknowns(value: object) -> bool:
    if isinstance(value, OutputUnknown):
        return True
    if isinstance(value, dict):
        return any(_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(_unknowns(v) for v in value)
    return False


def test_the_projects_stacks_never_pass_an_arn_this_plan_cannot_know(plans) -> None:
    """A new resource type whose ARN the program passes on must get its format in infra.plan.arns: until then its
    ARN is unknown, the resources that take it carry an unknown value, and this test names them."""
    stack = load_stack(PROJECT_ROOT, "shared")  # and the optional parts: the GitHub dispatch of promotions
    dispatching = plan_program(stack.program_dir, stack.project, "shared",
                               {**stack.config, "mlops:githubDispatchToken": "t0ken"},
                               (*stack.secret_keys, "mlops:githubDispatchToken"))
    unknown = [f"{stack}: {r.type} {r.name}" for stack, plan in {**plans, "shared+dispatch": dispatching}.items()
               for r in plan.resources if _unknowns(r.inputs)]
    assert unknown == []


def test_an_unknown_arn_passed_on_is_what_the_check_above_finds() -> None:
    plan = plan_program(PROJECT_ROOT / "tests" / "fixtures" / "programs" / "unknown_arn", "mlops", "dev",
                        {"aws:region": "eu-west-1"})
    assert [r.name for r in plan.resources if _unknowns(r.inputs)] == ["notes"]


def test_the_format_is_filled_in_with_the_regions_partition() -> None:
    mocks = PlanMocks("111122223333", "cn-north-1")
    args = MockResourceArgs(typ="aws:sns/topic:Topic", name="t", inputs={"name": "alarms"}, provider="",
                            resource_id="", custom=True)
    assert mocks.new_resource(args)[1]["arn"] == "arn:aws-cn:sns:cn-north-1:111122223333:alarms"
    bucket = MockResourceArgs(typ="aws:s3/bucketV2:BucketV2", name="b", inputs={"bucket": "data"}, provider="",
                              resource_id="", custom=True)
    assert mocks.new_resource(bucket)[1]["arn"] == "arn:aws-cn:s3:::data"
