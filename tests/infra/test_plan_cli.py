"""`python -m infra.plan`: exit codes, formats, secrets, other programs, and no network, ever."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pulumi.runtime.mocks import MockCallArgs

from infra.plan.__main__ import main
from infra.plan.mocks import ANSWERED_CALLS, DEFAULT_ACCOUNT_ID, PlanMocks
from infra.plan.runner import PROJECT_ROOT, plan_stack


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.plan", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("stack", ["shared", "dev", "staging", "prod"])
def test_every_stack_plans_cleanly_with_exit_zero(stack: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["--stack", stack]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Plan of stack {stack} (project mlops): ")
    assert "0 mandatory" in out


def test_json_document_lists_resources_with_options_outputs_and_verdict(capsys: pytest.CaptureFixture) -> None:
    assert main(["--stack", "prod", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schemaVersion"] == 1 and document["stack"] == "prod"
    assert document["summary"]["resourceCount"] == len(document["resources"])
    endpoint = next(r for r in document["resources"] if r["type"] == "aws:sagemaker/endpoint:Endpoint")
    assert set(endpoint) == {"urn", "type", "name", "custom", "parent", "provider", "inputs", "options", "cost"}
    assert set(endpoint["options"]) == {"protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges",
                                        "dependencies", "propertyDependencies"}
    assert endpoint["parent"].endswith("mlops:serving:SageMakerEndpoint::churn")
    key = next(r for r in document["resources"] if r["type"] == "aws:kms/key:Key")
    assert key["options"]["protect"] is True
    assert document["outputs"]["endpoints"]["churn"]["endpointName"] == "mlops-prod-churn"
    assert document["policy"]["mandatoryCount"] == 0 and document["policy"]["environment"] == "prod"


def test_mermaid_draws_components_as_subgraphs(capsys: pytest.CaptureFixture) -> None:
    assert main(["--stack", "prod", "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR")
    assert 'SageMakerEndpoint<br/>churn"]' in out and "-->" in out


def test_bad_config_exits_two_naming_every_problem_without_traceback(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.broken.yaml"
    stack_file.write_text(textwrap.dedent("""\
        config:
          aws:region: us-east-1
          mlops:environment: dev
          mlops:tpyo: 1
          mlops:models:
            churn:
              deploy: {target: sagemaker, approvedVersion: 3, instanceType: ml.m5.large,
                       rollout: {strategy: canry}}
        """))
    result = run_cli("--stack", "broken", "--stack-file", str(stack_file))
    assert result.returncode == 2
    assert "mlops:tpyo: unknown key" in result.stderr
    assert "mlops:models.churn.deploy.rollout.strategy" in result.stderr and "'canry'" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "nope"], "Pulumi.nope.yaml: no such stack file"),
        (["--stack", "dev", "--program", "/nonexistent"], "not a Pulumi Python program"),
        (["--stack", "dev", "--format", "xml"], "invalid choice"),
        (["--stack", "dev", "--stack-outputs", "oops"], "expected NAME=FILE.json"),
    ],
)
def test_usage_errors_exit_two_with_a_clear_message(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_secrets_are_masked_in_every_format(tmp_path: Path) -> None:
    program = tmp_path / "program"
    program.mkdir()
    (program / "__main__.py").write_text(textwrap.dedent("""\
        import pulumi
        import pulumi_aws as aws
        config = pulumi.Config()
        topic = aws.sns.Topic("alerts")
        aws.sns.TopicSubscription("pager", topic=topic.arn, protocol="https",
                                  endpoint=config.require_secret("pagerUrl"))
        pulumi.export("pagerUrl", config.require_secret("pagerUrl"))
        pulumi.export("topicArn", topic.arn)
        """))
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\nmain: program/\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  demo:pagerUrl:\n    secure: v1:abc:def\n")
    result = run_cli("--stack", "dev", "--project-dir", str(tmp_path), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    subscription = next(r for r in document["resources"] if r["type"].endswith("TopicSubscription"))
    assert subscription["inputs"]["endpoint"] == "[secret]"
    assert document["outputs"]["pagerUrl"] == "[secret]" and document["outputs"]["topicArn"].startswith("arn:aws:")
    assert document["policy"] is None  # this project has no policy pack


def test_any_program_can_be_planned_and_its_crash_is_reported(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("import pulumi\nraise ValueError('boom')\n")
    result = run_cli("--stack", "dev", "--program", str(tmp_path))
    assert result.returncode == 2
    assert "the program failed: ValueError: boom" in result.stderr


def test_planning_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[tuple] = []

    def forbidden(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network access is forbidden during an offline plan")

    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket.socket, "connect_ex", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(socket, "getaddrinfo", forbidden)
    for stack in ("shared", "prod"):
        plan = plan_stack(stack)
        assert len(plan.resources) > 20
    assert main(["--stack", "staging", "--format", "json"]) == 0
    assert attempts == []


def test_planning_twice_gives_the_same_document(capsys: pytest.CaptureFixture) -> None:
    main(["--stack", "staging", "--format", "json"])
    first = capsys.readouterr().out
    main(["--stack", "staging", "--format", "json"])
    assert capsys.readouterr().out == first


def test_a_plan_leaves_the_sdk_runtime_as_it_found_it() -> None:
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime.settings import SETTINGS, get_root_resource

    settings_before = dict(vars(SETTINGS))
    config_before = dict(runtime_config.CONFIG.get())
    root_before = get_root_resource()
    plan_stack("dev")
    assert vars(SETTINGS).keys() == settings_before.keys()
    assert all(vars(SETTINGS)[k] is v for k, v in settings_before.items())
    assert runtime_config.CONFIG.get() == config_before and "mlops:models" not in runtime_config.CONFIG.get()
    assert get_root_resource() is root_before


def test_a_stack_without_an_account_id_plans_in_the_callers_account(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """`aws.get_caller_identity_output()` answers offline; the stack name comes from the file's name."""
    dev = (PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    assert "mlops:accountId:" in dev
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("\n".join(line for line in dev.splitlines() if "mlops:accountId:" not in line) + "\n")
    assert main(["--stack-file", str(stack_file), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "dev" and document["policy"]["mandatoryCount"] == 0
    roles = [r for r in document["resources"] if r["type"] == "aws:iam/role:Role"]
    deploy_role = next(r for r in roles if "ci-deploy" in r["name"])
    # The only 222222222222 left is the one the stack file itself gives: cluster.eks.adminRoleArns.
    derived = [r for r in document["resources"] if not r["type"].startswith("aws:eks/access")]
    assert DEFAULT_ACCOUNT_ID in json.dumps(deploy_role["inputs"]) and "222222222222" not in json.dumps(derived)


def test_the_stack_name_comes_from_a_stack_file_named_like_the_pulumi_cli_expects(
        capsys: pytest.CaptureFixture) -> None:
    assert main(["--stack-file", "stacks/Pulumi.prod.yaml", "--format", "mermaid"]) == 0
    capsys.readouterr()
    assert main(["--stack-file", str(PROJECT_ROOT / "stacks" / "Pulumi.staging.yaml")]) == 0
    assert capsys.readouterr().out.startswith("Plan of stack staging (project mlops)")


@pytest.mark.parametrize(("args", "message"), [
    (["--stack-file", "stacks/prod.yaml"], "--stack is required: prod.yaml is not named Pulumi.<stack>.yaml"),
    (["--stack-file", "stacks/Pulumi.yaml"], "--stack is required: Pulumi.yaml is not named Pulumi.<stack>.yaml"),
    ([], "--stack is required (or a --stack-file named Pulumi.<stack>.yaml)"),
])
def test_without_stack_a_stack_file_must_be_named_pulumi_stack_yaml(args: list[str], message: str,
                                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n" and captured.out == ""


def test_the_mocks_answer_every_invoke_they_list_in_the_shape_the_sdk_iterates() -> None:
    mocks = PlanMocks("210987654321", "eu-west-1")
    for token in ANSWERED_CALLS:
        result, failures = mocks.call(MockCallArgs(token, {}, ""))
        assert failures == [] and result, token
    assert mocks.call(MockCallArgs("aws:index/getCallerIdentity:getCallerIdentity", {}, ""))[0]["accountId"] == (
        "210987654321")
    result, failures = mocks.call(MockCallArgs("aws:ec2/getVpc:getVpc", {}, ""))
    assert result == {} and [reason for _, reason in failures] == [
        "the offline plan has no answer for aws:ec2/getVpc:getVpc"]
    assert mocks.unanswered_calls == {"aws:ec2/getVpc:getVpc"}
