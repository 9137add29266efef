"""The program routes approvals to GitHub's repository_dispatch, with the token as a Pulumi secret."""

from __future__ import annotations

import json

import pytest

from infra.core.paths import PROJECT_ROOT
from infra.plan.project import load_stack
from infra.plan.runner import ProgramError, plan_program

TOKEN = "github_pat_0123456789abcdef"


def _plan_shared(extra: dict[str, str], secret: tuple[str, ...] = ()):
    stack = load_stack(PROJECT_ROOT, "shared")
    return plan_program(stack.program_dir, stack.project, "shared", {**stack.config, **extra},
                        (*stack.secret_keys, *secret))


def _one(plan, type_: str, name: str):
    [found] = [r for r in plan.resources if r.type == type_ and r.name == name]
    return found


@pytest.fixture(scope="module")
def dispatching():
    return _plan_shared({"mlops:githubDispatchToken": TOKEN}, ("mlops:githubDispatchToken",))


def test_approvals_reach_repository_dispatch_through_an_api_destination(dispatching):
    destination = _one(dispatching, "aws:cloudwatch/eventApiDestination:EventApiDestination", "promotion-github")
    assert destination.inputs["invocationEndpoint"] == "https://api.github.com/repos/acme/ml-platform/dispatches"
    assert destination.inputs["httpMethod"] == "POST" and destination.inputs["name"] == "mlops-shared-github-dispatch"
    target = _one(dispatching, "aws:cloudwatch/eventTarget:EventTarget", "promotion-github")
    rule = _one(dispatching, "aws:cloudwatch/eventRule:EventRule", "promotion")
    assert target.inputs["rule"] == rule.outputs["name"]
    assert target.inputs["arn"] == destination.outputs["arn"]
    template = target.inputs["inputTransformer"]["inputTemplate"]
    filled = template.replace("<group>", '"mlops-shared-churn"').replace("<version>", "7").replace("<arn>", '"a"')
    assert json.loads(filled) == {"event_type": "model-package-approved", "client_payload": {
        "model_package_group": "mlops-shared-churn", "model_package_version": 7, "model_package_arn": "a"}}
    policy = json.loads(_one(dispatching, "aws:iam/rolePolicy:RolePolicy", "promotion-github").inputs["policy"])
    assert policy["Statement"] == [{"Sid": "InvokeGitHubDispatch", "Effect": "Allow",
                                    "Action": ["events:InvokeApiDestination"],
                                    "Resource": [destination.outputs["arn"]]}]
    # The SNS topic stays a target: the dispatch extends the notification, it does not replace it.
    assert _one(dispatching, "aws:cloudwatch/eventTarget:EventTarget", "promotion")


def test_the_token_stays_a_secret(dispatching):
    connection = _one(dispatching, "aws:cloudwatch/eventConnection:EventConnection", "promotion-github")
    assert connection.inputs["authParameters"]["apiKey"] == {"key": "Authorization", "value": f"Bearer {TOKEN}"}
    assert "authParameters" in connection.secret_keys  # rendered as [secret] by the plan, kept secret in state


def test_a_plain_text_token_is_refused():
    with pytest.raises(ProgramError, match="mlops:githubDispatchToken is plain text in the stack file; set it with "
                                           "`pulumi config set --secret mlops:githubDispatchToken`"):
        _plan_shared({"mlops:githubDispatchToken": TOKEN})


def test_without_a_token_there_is_no_dispatch():
    plan = _plan_shared({})
    assert not [r for r in plan.resources if r.type.startswith("aws:cloudwatch/eventConnection")]


def test_only_the_shared_stack_takes_a_token():
    from infra.config import ConfigError, parse_stack_config

    config = {**load_stack(PROJECT_ROOT, "dev").config, "mlops:githubDispatchToken": TOKEN}
    with pytest.raises(ConfigError) as info:
        parse_stack_config(config)
    assert info.value.problems == [
        "mlops: githubDispatchToken: only the shared stack routes approvals to GitHub; remove it here"]
    assert TOKEN not in str(info.value)
