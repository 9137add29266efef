"""Turns "a model package was approved" into a promotion request.

Two targets of one EventBridge rule: an SNS topic (people and other tools subscribe), and, when the shared
stack has a GitHub token, GitHub's `repository_dispatch` through an EventBridge connection and API destination.
The dispatch starts `.github/workflows/promote.yml`, which runs `infra.release promote` and opens the one-line
pull request that pins the version. The token is a Pulumi secret end to end: read from a `secure:` config
value (a plain-text value is refused), kept as a secret Output, stored by EventBridge in the connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.service_resources import encrypted_topic, service_role
from infra.config import StackConfig
from infra.core.iam import allow
from infra.core.naming import Naming

DISPATCH_EVENT_TYPE = "model-package-approved"
"""The `repository_dispatch` event type promote.yml listens for."""
TOKEN_KEY = "mlops:githubDispatchToken"


@dataclass(frozen=True)
class GitHubDispatch:
    """Where approvals go on GitHub and with which token (a secret Output)."""

    repository: str
    token: pulumi.Output[str]


@dataclass(frozen=True)
class PromotionTriggerArgs:
    naming: Naming
    package_group_names: list[str]
    kms_key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    github_dispatch: GitHubDispatch | None = None


def github_dispatch(config: StackConfig) -> GitHubDispatch | None:
    """The dispatch settings of the shared stack, or None without a token. Refuses a plain-text token."""
    if config.github_dispatch_token is None:
        return None
    if not pulumi.runtime.is_config_secret(TOKEN_KEY):
        raise pulumi.RunError(
            f"{TOKEN_KEY} is plain text in the stack file; set it with "
            f"`pulumi config set --secret {TOKEN_KEY}` (and revoke the exposed token)"
        )
    return GitHubDispatch(config.github_repository,
                          pulumi.Output.secret(config.github_dispatch_token.get_secret_value()))


def approval_event_pattern(package_group_names: list[str]) -> str:
    """The EventBridge pattern of an approval in any of the given model package groups."""
    return json.dumps(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {
                "ModelPackageGroupName": sorted(package_group_names),
                "ModelApprovalStatus": ["Approved"],
            },
        },
        sort_keys=True,
    )


def dispatch_body_template() -> str:
    """The `repository_dispatch` body, filled by EventBridge from the approval event (version is a number)."""
    return (
        '{"event_type": "' + DISPATCH_EVENT_TYPE + '", "client_payload": {"model_package_group": <group>, '
        '"model_package_version": <version>, "model_package_arn": <arn>}}'
    )


class PromotionTrigger(pulumi.ComponentResource):
    """`mlops:delivery:PromotionTrigger`: approval events of every model's group to a topic (and to GitHub)."""

    topic: aws.sns.Topic
    rule: aws.cloudwatch.EventRule
    api_destination: aws.cloudwatch.EventApiDestination | None

    def __init__(self, name: str, args: PromotionTriggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:delivery:PromotionTrigger", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = encrypted_topic(name, args.naming.topic("promotions"), args.kms_key_arn,
                                     "EventBridgePublishesPromotions", "events.amazonaws.com", args.account_id, self)
        self.rule = aws.cloudwatch.EventRule(
            name,
            name=args.naming.approval_rule(),
            description="A model package was approved: request its promotion",
            event_pattern=approval_event_pattern(args.package_group_names),
            opts=child,
        )
        aws.cloudwatch.EventTarget(name, rule=self.rule.name, arn=self.topic.arn, opts=child)
        self.api_destination = self._github(f"{name}-github", args) if args.github_dispatch else None
        self.register_outputs({"topicArn": self.topic.arn, "ruleName": self.rule.name})

    def _github(self, name: str, args: PromotionTriggerArgs) -> aws.cloudwatch.EventApiDestination:
        """Connection (the token as a bearer header), API destination, a role to invoke it, and the target."""
        dispatch = args.github_dispatch
        assert dispatch is not None
        child = pulumi.ResourceOptions(parent=self)
        connection = aws.cloudwatch.EventConnection(
            name,
            name=args.naming.dispatch_connection(),
            description=f"GitHub repository_dispatch on {dispatch.repository}",
            authorization_type="API_KEY",
            auth_parameters=aws.cloudwatch.EventConnectionAuthParametersArgs(
                api_key=aws.cloudwatch.EventConnectionAuthParametersApiKeyArgs(
                    key="Authorization", value=pulumi.Output.secret(pulumi.Output.concat("Bearer ", dispatch.token))
                ),
                invocation_http_parameters=aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersArgs(
                    headers=[
                        aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersHeaderArgs(
                            key="Accept", value="application/vnd.github+json", is_value_secret=False),
                        aws.cloudwatch.EventConnectionAuthParametersInvocationHttpParametersHeaderArgs(
                            key="X-GitHub-Api-Version", value="2022-11-28", is_value_secret=False),
                    ]
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["authParameters"]),
        )
        destination = aws.cloudwatch.EventApiDestination(
            name,
            name=args.naming.dispatch_connection(),
            description="Approved model packages become promotion pull requests",
            connection_arn=connection.arn,
            http_method="POST",
            invocation_endpoint=f"https://api.github.com/repos/{dispatch.repository}/dispatches",
            invocation_rate_limit_per_second=1,
            opts=child,
        )
        role = service_role(name, args.naming.role("github-dispatch"), "events.amazonaws.com", args.account_id,
                            [allow("InvokeGitHubDispatch", ["events:InvokeApiDestination"], [destination.arn])], self)
        aws.cloudwatch.EventTarget(
            name,
            rule=self.rule.name,
            arn=destination.arn,
            role_arn=role.arn,
            input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                input_paths={
                    "group": "$.detail.ModelPackageGroupName",
                    "version": "$.detail.ModelPackageVersion",
                    "arn": "$.detail.ModelPackageArn",
                },
                input_template=dispatch_body_template(),
            ),
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=3600, maximum_retry_attempts=10
            ),
            opts=child,
        )
        return destination
