"""`aws.iam.get_policy_document` under the offline plan: the provider's own JSON, so rules judge what preview sees.

The expected documents are the provider's acceptance-test expectations (hashicorp/terraform-provider-aws,
internal/service/iam/policy_document_data_source_test.go: `testAccPolicyDocumentExpectedJSON`, `..Minified`);
the properties hold for any set of actions, whatever order the program lists them in.
"""

from __future__ import annotations

import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.plan.__main__ import main
from infra.plan.policy_document import PolicyDocumentError, policy_document
from infra.plan.runner import PROJECT_ROOT

PROGRAMS = PROJECT_ROOT / "tests" / "fixtures" / "programs"

# The provider's `testAccPolicyDocumentDataSourceConfig_basic`, as the Pulumi SDK sends it (wire names).
PROVIDER_BASIC = {
    "policyId": "policy_id",
    "statements": [
        {"sid": "1", "actions": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "resources": ["arn:aws:s3:::*"]},
        {"actions": ["s3:ListBucket"], "resources": ["arn:aws:s3:::foo"],
         "conditions": [{"test": "StringLike", "variable": "s3:prefix",
                         "values": ["home/", "", "home/&{aws:username}/"]}],
         "notPrincipals": [{"type": "AWS", "identifiers": ["arn:blahblah:example"]}]},
        {"actions": ["s3:*"],
         "resources": ["arn:aws:s3:::foo/home/&{aws:username}", "arn:aws:s3:::foo/home/&{aws:username}/*"],
         "principals": [{"type": "AWS", "identifiers": ["arn:blahblah:example"]}]},
        {"effect": "Deny", "notActions": ["s3:*"], "notResources": ["arn:aws:s3:::*"]},
        {"effect": "Allow", "actions": ["kinesis:*"], "principals": [{"type": "AWS", "identifiers": ["*"]}]},
        {"effect": "Allow", "actions": ["firehose:*"], "principals": [{"type": "*", "identifiers": ["*"]}]},
    ],
}
PROVIDER_BASIC_MINIFIED = (
    '{"Version":"2012-10-17","Id":"policy_id","Statement":[{"Sid":"1","Effect":"Allow","Action":'
    '["s3:ListAllMyBuckets","s3:GetBucketLocation"],"Resource":"arn:aws:s3:::*"},{"Effect":"Allow","Action":'
    '"s3:ListBucket","Resource":"arn:aws:s3:::foo","NotPrincipal":{"AWS":"arn:blahblah:example"},"Condition":'
    '{"StringLike":{"s3:prefix":["home/","","home/${aws:username}/"]}}},{"Effect":"Allow","Action":"s3:*",'
    '"Resource":["arn:aws:s3:::foo/home/${aws:username}/*","arn:aws:s3:::foo/home/${aws:username}"],'
    '"Principal":{"AWS":"arn:blahblah:example"}},{"Effect":"Deny","NotAction":"s3:*","NotResource":'
    '"arn:aws:s3:::*"},{"Effect":"Allow","Action":"kinesis:*","Principal":{"AWS":"*"}},{"Effect":"Allow",'
    '"Action":"firehose:*","Principal":"*"}]}'
)


def test_the_providers_own_expected_document_byte_for_byte() -> None:
    result = policy_document(PROVIDER_BASIC)
    assert result["minifiedJson"] == PROVIDER_BASIC_MINIFIED
    assert json.loads(result["json"]) == json.loads(PROVIDER_BASIC_MINIFIED)
    assert result["json"].startswith('{\n  "Version": "2012-10-17",\n  "Id": "policy_id",\n  "Statement": [\n')
    assert result["id"] == str(zlib.crc32(result["json"].encode()))


def test_go_escapes_html_characters_as_the_provider_does() -> None:
    result = policy_document({"statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::a&b<c>"]}]})
    assert "arn:aws:s3:::a\\u0026b\\u003cc\\u003e" in result["minifiedJson"]
    assert json.loads(result["minifiedJson"])["Statement"][0]["Resource"] == "arn:aws:s3:::a&b<c>"


def test_source_then_statements_then_overrides_merge_by_sid() -> None:
    source = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Keep", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Sid": "Replace", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    override = json.dumps({"Statement": [{"Sid": "Replace", "Effect": "Deny", "Action": "s3:DeleteObject",
                                          "Resource": "*"}]})
    result = policy_document({"sourcePolicyDocuments": [source], "overridePolicyDocuments": [override],
                              "statements": [{"actions": ["sqs:SendMessage"], "resources": ["*"]}]})
    statements = json.loads(result["json"])["Statement"]
    assert [(s.get("Sid"), s["Effect"], s["Action"]) for s in statements] == [
        ("Keep", "Allow", "s3:GetObject"), ("Replace", "Deny", "s3:DeleteObject"), (None, "Allow", "sqs:SendMessage")]


@pytest.mark.parametrize(("args", "message"), [
    ({"statements": [{"sid": "A", "actions": ["s3:*"]}, {"sid": "A", "actions": ["s3:*"]}]}, "duplicate Sid"),
    ({"statements": [{"sid": "not-alnum", "actions": ["s3:*"]}]}, "alphanumeric"),
    ({"statements": [{"effect": "Maybe", "actions": ["s3:*"]}]}, "Allow or Deny"),
    ({"version": "2008-10-17", "statements": [{"actions": ["s3:*"], "resources": ["arn:aws:s3:::&{aws:userid}"]}]},
     "not supported in version 2008-10-17"),
    ({"version": "2020-01-01"}, "version"),
    ({"sourcePolicyDocuments": ["{not json"]}, "not JSON"),
])
def test_arguments_the_provider_refuses_are_refused(args: dict, message: str) -> None:
    with pytest.raises(PolicyDocumentError, match=message):
        policy_document(args)


@given(st.lists(st.from_regex(r"[a-z0-9]{1,8}:[A-Za-z*]{1,12}", fullmatch=True), min_size=1, max_size=8))
def test_actions_are_a_set_written_as_the_provider_writes_sets(actions: list[str]) -> None:
    written = json.loads(policy_document({"statements": [{"actions": actions}]})["json"])["Statement"][0]["Action"]
    unique = sorted(set(actions), reverse=True)
    assert written == (unique[0] if len(unique) == 1 else unique)
    shuffled = json.loads(policy_document({"statements": [{"actions": list(reversed(actions))}]})["json"])
    assert shuffled["Statement"][0]["Action"] == written


def test_a_bucket_policy_built_with_get_policy_document_against_bucket_arn_plans_and_passes(
        capsys: pytest.CaptureFixture) -> None:
    assert main(["--stack", "dev", "--program", str(PROGRAMS / "policy_document"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    bucket_arn = document["outputs"]["bucketArn"]
    assert bucket_arn.startswith("arn:aws:s3:::") and "/" not in bucket_arn
    policy = json.loads(document["outputs"]["policy"])
    assert sorted(policy["Statement"][0]["Resource"]) == [bucket_arn, f"{bucket_arn}/*"]
    assert document["policy"]["judged"] is True and document["policy"]["mandatoryCount"] == 0


def test_get_arn_splits_an_arn_as_the_provider_does_and_arguments_it_refuses_fail_the_plan(
        tmp_path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "__main__.py").write_text(
        "import pulumi, pulumi_aws as aws\n"
        "parts = aws.get_arn_output(arn='arn:aws:sagemaker:eu-west-1:111122223333:endpoint/churn')\n"
        "pulumi.export('parts', pulumi.Output.all(parts.partition, parts.service, parts.region, parts.account,\n"
        "                                         parts.resource))\n")
    assert main(["--stack", "dev", "--program", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["parts"] == [
        "aws", "sagemaker", "eu-west-1", "111122223333", "endpoint/churn"]
    (tmp_path / "__main__.py").write_text(
        "import pulumi_aws as aws\n"
        "twice = [{'sid': 'A', 'actions': ['s3:*']}] * 2\n"
        "aws.iam.get_policy_document(statements=twice)\n")
    assert main(["--stack", "dev", "--program", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "the provider would refuse aws:iam/getPolicyDocument:getPolicyDocument: duplicate Sid (A)" in err
