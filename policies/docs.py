"""Generate `docs/policies.md` from the pack itself, so the rule table cannot drift from the rules.

    python -m policies.docs            # rewrite docs/policies.md
    python -m policies.docs --check    # exit 1 if docs/policies.md is stale

Everything in the tables comes from the pack: each rule's name, description, rationale, severity and
remediation from `rules.ALL_POLICIES`, its knobs from its config schema, and the enforcement level and knob
values of every environment from `policies/config/<env>.json`, reconciled the way the Pulumi CLI does
(schema defaults, then the file's "all" level, then the rule's own settings). This module is a developer
tool: the CLI never imports it, and it imports nothing outside the pack.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .rules import ALL_POLICIES

PACK_DIR = Path(__file__).resolve().parent
DOC_PATH = PACK_DIR.parent / "docs" / "policies.md"
ENVIRONMENTS = ("shared", "dev", "staging", "prod")
PACK_DEFAULT_LEVEL = "advisory"  # the enforcement_level __main__.py gives the PolicyPack


@dataclass(frozen=True)
class AcceptedFinding:
    """A parliament finding on the program's policy documents that is accepted, and why.

    The parliament test (tests/policies/test_policy_integration.py) fails on any finding that no entry
    matches, and on any entry that matches nothing, so this list and the program cannot drift apart.
    """

    issue: str
    documents: str  # which documents, in words (shown in the docs)
    resource_types: tuple[str, ...]
    properties: tuple[str, ...]
    reason: str
    resource_names: tuple[str, ...] = ()  # empty: any resource of the types
    detail_contains: tuple[str, ...] = ()  # the finding's detail must contain one of these (empty: any)


ACCEPTED_PARLIAMENT_FINDINGS = (
    AcceptedFinding(
        issue="MALFORMED",
        documents="role trust policies (assumeRolePolicy) and ECR repository policies",
        resource_types=("aws:iam/role:Role", "aws:ecr/repositoryPolicy:RepositoryPolicy"),
        properties=("assumeRolePolicy", "policy"),
        detail_contains=("neither Resource nor NotResource",),
        reason=(
            "parliament reads every document as an identity policy, which needs a Resource element. A trust "
            "policy and an ECR repository policy are attached to the resource they govern and have no "
            "Resource "
            "element by AWS's design (IAM rejects one in a trust policy). parliament stops at this finding, "
            "so "
            "for these documents it only checks principals; the pack's iam-github-oidc-trust-pinned rule "
            "checks the trust conditions."
        ),
    ),
    AcceptedFinding(
        issue="UNKNOWN_FEDERATION_SOURCE",
        documents="trust policies of the GitHub Actions CI roles",
        resource_types=("aws:iam/role:Role",),
        properties=("assumeRolePolicy",),
        detail_contains=(":oidc-provider/", ":open-id-connect-provider/"),
        reason=(
            "parliament 1.6.4 knows SAML providers and four public web identity providers only; an IAM OIDC "
            "provider (here GitHub's token.actions.githubusercontent.com) is a valid federated principal "
            "that "
            "it does not recognise. The trust's aud and sub pinning is checked by "
            "iam-github-oidc-trust-pinned."
        ),
    ),
    AcceptedFinding(
        issue="RESOURCE_STAR",
        documents="KMS key policies",
        resource_types=("aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy"),
        properties=("policy",),
        reason=(
            "In a key policy, Resource '*' means the key the policy is attached to; AWS requires exactly "
            "that "
            "form. Who may use the key is limited by the statements' principals and conditions."
        ),
    ),
    AcceptedFinding(
        issue="RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        documents="the inline policy of the CI deploy role (ci-deploy)",
        resource_types=("aws:iam/rolePolicy:RolePolicy",),
        properties=("policy",),
        resource_names=("ci-deploy",),
        reason=(
            "The deploy role runs `pulumi up`, which owns the stack's bucket policies and lifecycle rules, so "
            "it must be allowed s3:PutBucketPolicy and s3:PutLifecycleConfiguration on the stack's buckets "
            "(`<project>-<stack>-*`) without object access; parliament notes that a policy writer could grant "
            "itself object access. The role is assumable only by the pinned repository's workflows running in "
            "the GitHub environment of the same name (required reviewers), and every policy it writes is the "
            "one in Git, judged by this pack (s3-tls-only-policy) before it is applied."
        ),
    ),
)


def effective_config(env: str, config_dir: Path = PACK_DIR / "config") -> dict[str, dict[str, Any]]:
    """An environment's reconciled config: {rule: {"enforcementLevel": ..., knob: value}} for every rule."""
    raw = json.loads((config_dir / f"{env}.json").read_text(encoding="utf-8"))
    result: dict[str, dict[str, Any]] = {}
    for policy in ALL_POLICIES:
        knobs = policy.config_schema.properties if policy.config_schema else {}
        level = policy.enforcement_level.value if policy.enforcement_level else PACK_DEFAULT_LEVEL
        result[policy.name] = {
            "enforcementLevel": level,
            **{k: v["default"] for k, v in knobs.items() if "default" in v},
        }
    all_level = raw.get("all")
    if isinstance(all_level, dict):
        all_level = all_level.get("enforcementLevel")
    if isinstance(all_level, str):
        for settings in result.values():
            settings["enforcementLevel"] = all_level
    for name, value in raw.items():
        if name == "all" or name not in result:
            continue
        result[name].update({"enforcementLevel": value} if isinstance(value, str) else value)
    return result


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(f"`{v}`" if v != "" else "`''`" for v in value) if value else "(none)"
    if isinstance(value, Mapping):
        return ", ".join(f"`{k}={v}`" for k, v in value.items()) if value else "(none)"
    return f"`{value}`"


def render() -> str:
    configs = {env: effective_config(env) for env in ENVIRONMENTS}
    lines: list[str] = []
    add = lines.append
    add("# Policy pack `mlops-guardrails`")
    add("")
    add("<!-- Generated by `python -m policies.docs` from the pack itself; do not edit by hand. -->")
    add("")
    add(
        "The CrossGuard policy pack in `policies/` stops a non-compliant change before it reaches an AWS "
        "account. The same pack runs in two places with the same verdicts:"
    )
    add("")
    add(
        "* **Pulumi CLI**, in pull requests and deployments (it builds the pack's virtualenv "
        "`policies/venv` from"
    )
    add("  `policies/requirements.txt` on first use):")
    add("")
    add("  ```sh")
    for env in ENVIRONMENTS:
        add(
            f"  pulumi preview -s {env} --policy-pack policies --policy-pack-config "
            f"policies/config/{env}.json"
        )
    add("  pulumi up -s prod --policy-pack policies --policy-pack-config policies/config/prod.json")
    add("  ```")
    add("")
    add(
        "* **Offline**, without the CLI or AWS credentials, over the plan of the program under the SDK's mock"
    )
    add("  runtime (`infra.plan.verdict` drives the pack's own analyzer service with the CLI's requests):")
    add("")
    add("  ```sh")
    add(
        "  python -m infra.plan --stack prod                       # policy config: policies/config/prod.json"
    )
    add("  python -m infra.plan --stack prod --format json         # violations included in the JSON")
    add("  python -m infra.plan --stack dev --program path/to/program --policy-config my-policy.json")
    add("  ```")
    add("")
    add(
        "A mandatory violation fails `pulumi preview`/`pulumi up` and makes `python -m infra.plan` exit 1; "
        "advisory violations are only reported. An invalid policy config (unknown rule, unknown key, wrong "
        "type or enforcement level) makes `python -m infra.plan` exit 2 with a message naming it."
    )
    add("")
    add("## Configuration")
    add("")
    add(
        "Every rule is advisory unless the environment's config (`policies/config/<env>.json`, the "
        '`--policy-pack-config` format) says otherwise: `"all"` sets every rule\'s enforcement level, then '
        'each rule may set its own level (`"mandatory"`, `"advisory"`, `"disabled"`) or an object '
        "with `enforcementLevel` and the rule's knobs. Behaviour that differs per environment (\"in staging "
        'and prod", "in prod") is a knob, not code. The offline verdict rejects an unknown rule or key '
        "that the CLI would silently ignore, so run it (CI does) after editing a config. "
        "`iam-github-oidc-trust-pinned.allowedRepositories` names the repository of the project's "
        "`githubRepository` setting (Pulumi.yaml): change both together."
    )
    add("")
    add("## Rules")
    add("")
    header = "| Rule | Kind | Severity | What | Why | " + " | ".join(ENVIRONMENTS) + " |"
    add(header)
    add("|" + "---|" * (5 + len(ENVIRONMENTS)))
    for policy in ALL_POLICIES:
        kind = "stack" if "Stack" in type(policy).__name__ else "resource"
        levels = " | ".join(configs[env][policy.name]["enforcementLevel"] for env in ENVIRONMENTS)
        severity = policy.severity.value if policy.severity else "unspecified"
        add(
            f"| `{policy.name}` | {kind} | {severity} | {_cell(policy.description)} | "
            f"{_cell(getattr(policy, 'rationale', ''))} | {levels} |"
        )
    add("")
    add("## Knobs per environment")
    add("")
    add("Values in force after reconciliation (the default unless the environment's config sets the knob).")
    add("")
    for policy in ALL_POLICIES:
        knobs = policy.config_schema.properties if policy.config_schema else {}
        if not knobs:
            continue
        add(f"### `{policy.name}`")
        add("")
        add("| Knob | Meaning | Default | " + " | ".join(ENVIRONMENTS) + " |")
        add("|" + "---|" * (3 + len(ENVIRONMENTS)))
        for knob, schema in knobs.items():
            values = " | ".join(_value(configs[env][policy.name].get(knob)) for env in ENVIRONMENTS)
            add(
                f"| `{knob}` | {_cell(schema.get('description', ''))} | {_value(schema.get('default'))} | "
                f"{values} |"
            )
        add("")
    add("## Remediation")
    add("")
    for policy in ALL_POLICIES:
        applies_to = ", ".join(f"`{t}`" if ":" in t else t for t in getattr(policy, "applies_to", ()))
        add(f"* **`{policy.name}`** ({applies_to}): {policy.remediation_steps}")
    add("")
    add("## What a preview cannot see")
    add("")
    for item in LIMITS:
        add(f"* {item}")
    add("")
    add("## Accepted parliament findings")
    add("")
    add(
        "The tests audit every IAM policy document the program produces in each stack's plan (role trust "
        "policies, role, user and group policies, managed policies, bucket, key, topic, repository and model "
        "package group policies) with [parliament](https://github.com/duo-labs/parliament) 1.6.4 (default "
        "auditors). Any finding not listed here fails the tests:"
    )
    add("")
    add("| Finding | Documents | Why it is accepted |")
    add("|---|---|---|")
    for finding in ACCEPTED_PARLIAMENT_FINDINGS:
        add(f"| `{finding.issue}` | {_cell(finding.documents)} | {_cell(finding.reason)} |")
    add("")
    return "\n".join(lines)


LIMITS = (
    "**Unknown values.** In a real `pulumi preview` of a new stack, outputs of resources not yet created "
    "(ids, ARNs, JSON documents built from them) are unknown. A rule never reports a value it cannot see; "
    "companions are paired with their bucket or endpoint through property dependencies, which are known. "
    "Such values are checked by the offline verdict (whose mock plan knows them) and by `pulumi up`, which "
    "runs the pack again on the final values of each resource.",
    "**`retainOnDelete`** is not sent to policy packs (the engine's analyzer resource options carry "
    "`protect` but not `retainOnDelete`), so `stateful-resources-protected` requires `protect=True`; "
    "retaining on delete may be added but does not satisfy the rule.",
    "**Pipeline definitions kept in S3** (`pipelineDefinitionS3Location`) cannot be read at preview: "
    "`sagemaker-job-isolation` asks for an inline definition. Values that a pipeline computes at run time "
    "(step properties, `Std:Join`) are not judged; parameters are judged by their default values.",
    "**Serverless endpoints** have no ML storage volume, support no data capture and scale by themselves: "
    "`sagemaker-endpoint-kms`, `sagemaker-data-capture` and the autoscaling part of "
    "`sagemaker-endpoint-operability` exempt them. Blue/green with canary or linear steps is not available "
    "for them, so where `requireBlueGreen` is set (prod) endpoints must run on instances.",
    "**Component resources and providers** are analyzed like every other resource, as the engine does; the "
    "rules look only at the resource types they name. The offline plan has no root stack resource and no "
    "engine-made default providers (the program uses an explicit provider); no rule looks at either.",
    "**Provider default tags** reach the pack as the provider's inputs, where the SDK has turned "
    "`defaultTags` into JSON text; `aws-required-tags` reads both that and an object.",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="only report whether docs/policies.md is current"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is stale; run python -m policies.docs", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
