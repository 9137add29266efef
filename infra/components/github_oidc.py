"""The account's trust in GitHub Actions' OIDC tokens: one provider, created in the shared stack."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.core.iam import STS_AUDIENCE

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


class GitHubOidcProvider(pulumi.ComponentResource):
    """`mlops:ci:GitHubOidcProvider`: lets CI jobs assume roles with short-lived tokens, no stored keys."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ci:GitHubOidcProvider", name, None, opts)
        # AWS validates GitHub's certificate through its own trust store, so no thumbprint is pinned.
        provider = aws.iam.OpenIdConnectProvider(
            name,
            url=f"https://{GITHUB_OIDC_HOST}",
            client_id_lists=[STS_AUDIENCE],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = provider.arn
        self.register_outputs({"arn": self.arn})
