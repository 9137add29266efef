"""The two roles CI assumes for one environment, each trusted by exactly one kind of GitHub job.

- preview: read-only, assumable by pull requests of the configured repository (they run `pulumi preview`);
- deploy: assumable only by jobs of that repository running in the GitHub environment of the same name,
  so a required reviewer on that environment gates every `pulumi up`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.github_oidc import GITHUB_OIDC_HOST, STS_AUDIENCE
from infra.iam import allow, policy_document
from infra.naming import Naming

READ_ONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"

# Services this program manages; the deploy role may act on them in this account and region only.
_DEPLOYED_SERVICES = (
    "application-autoscaling", "cloudwatch", "ecr", "events", "kms", "logs", "s3", "sagemaker", "sns",
)


@dataclass(frozen=True)
class CiRolesArgs:
    naming: Naming
    oidc_provider_arn: pulumi.Input[str]
    repository: str
    account_id: pulumi.Input[str]
    region: str


def github_trust(provider_arn: pulumi.Input[str], subject: str) -> pulumi.Output[str]:
    """Trust GitHub's tokens for one exact subject and the STS audience; no wildcards."""
    return policy_document(
        [
            {
                "Sid": "GitHubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                    }
                },
            }
        ]
    )


class CiRoles(pulumi.ComponentResource):
    """`mlops:ci:CiRoles`: the preview and deploy roles of one environment."""

    preview_role: aws.iam.Role
    deploy_role: aws.iam.Role

    def __init__(self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ci:CiRoles", name, None, opts)
        self._args = args
        self.preview_role = self._preview_role(f"{name}-preview")
        self.deploy_role = self._deploy_role(f"{name}-deploy")
        self.register_outputs({"previewRoleArn": self.preview_role.arn, "deployRoleArn": self.deploy_role.arn})

    def _preview_role(self, name: str) -> aws.iam.Role:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            name=a.naming.name("ci-preview", limit=64),
            assume_role_policy=github_trust(a.oidc_provider_arn, f"repo:{a.repository}:pull_request"),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(name, role=role.name, policy_arn=READ_ONLY_POLICY_ARN, opts=child)
        # ReadOnlyAccess also reads object contents; a pull request's preview needs metadata only.
        aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Sid": "NoDataPlaneReads",
                        "Effect": "Deny",
                        "Action": ["s3:GetObject", "s3:GetObjectVersion", "secretsmanager:GetSecretValue",
                                   "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
                                   "sagemaker:InvokeEndpoint"],
                        "Resource": "*",
                    }
                ]
            ),
            opts=child,
        )
        return role

    def _deploy_role(self, name: str) -> aws.iam.Role:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        environment = a.naming.config.environment
        role = aws.iam.Role(
            name,
            name=a.naming.name("ci-deploy", limit=64),
            assume_role_policy=github_trust(a.oidc_provider_arn, f"repo:{a.repository}:environment:{environment}"),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(name, role=role.id, policy=policy_document(self._deploy_permissions()), opts=child)
        return role

    def _deploy_permissions(self) -> list[dict]:
        a = self._args
        account, region, prefix = a.account_id, a.region, a.naming.prefix
        role_arns = pulumi.Output.concat("arn:aws:iam::", account, ":role/", prefix, "-*")
        return [
            allow("ManageServicesInThisRegion", [f"{s}:*" for s in _DEPLOYED_SERVICES], ["*"],
                  Condition={"StringEquals": {"aws:RequestedRegion": region}}),
            allow("ManageOwnRoles",
                  ["iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy",
                   "iam:DetachRolePolicy", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                   "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:PutRolePolicy",
                   "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole"],
                  [role_arns]),
            allow("PassOwnRolesToServices", ["iam:PassRole"], [role_arns],
                  Condition={"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com",
                                                                     "events.amazonaws.com"]}}),
            allow("ReadOidcProvider", ["iam:GetOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
                                       "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider"],
                  [pulumi.Output.concat("arn:aws:iam::", account, f":oidc-provider/{GITHUB_OIDC_HOST}")]),
        ]
