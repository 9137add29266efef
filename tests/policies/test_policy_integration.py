"""The pack over real plans: every stack of the program, a deliberately bad program, and parliament's audit.

They import the offline planner plainly: a broken import inside it fails this module, it never turns the
tests into skips.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from policy_factory import PACK_DIR, REPO, pack

from infra.plan import __main__ as cli
from infra.plan import runner
from infra.plan.model import PlannedResource, PlanResult
from infra.plan.policy_config import default_policy_config_path, load_policy_config
from infra.plan.verdict import evaluate, has_mandatory

ENVIRONMENTS = ("shared", "dev", "staging", "prod")
BAD_PROGRAM = REPO / "tests" / "fixtures" / "bad_program"


@functools.cache
def stack_plan(env: str) -> PlanResult:
    return runner.plan_stack(env)


def _verdict(plan: PlanResult, env: str) -> list[Any]:
    return evaluate(pack(), plan, load_policy_config(pack(), default_policy_config_path(PACK_DIR, env)))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_stack_plans_with_no_mandatory_violation(env: str) -> None:
    plan = stack_plan(env)
    assert plan.resources, f"the {env} plan declares nothing"
    mandatory = [v for v in _verdict(plan, env) if v.enforcement == "mandatory"]
    assert mandatory == [], "\n".join(f"{v.policy_name} on {v.resource_name}: {v.message}" for v in mandatory)


def test_the_pack_sees_what_it_guards_in_the_stacks() -> None:
    """Guard against vacuous passes: the rules' resource types are present in the plans they judge."""
    types = {r.type for env in ENVIRONMENTS for r in stack_plan(env).resources}
    for expected in (
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "aws:ecr/repository:Repository",
        "aws:sagemaker/endpoint:Endpoint",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "aws:sagemaker/model:Model",
        "aws:sagemaker/pipeline:Pipeline",
        "aws:iam/role:Role",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:appautoscaling/target:Target",
        "pulumi:providers:aws",
    ):
        assert expected in types, expected


def test_the_bad_program_fails_with_each_violation_named() -> None:
    plan = runner.plan_program(BAD_PROGRAM, "bad", "prod", {"aws:region": "us-east-1"})
    violations = _verdict(plan, "prod")
    assert has_mandatory(violations)
    found = {(v.policy_name, v.resource_name) for v in violations if v.enforcement == "mandatory"}
    expected = {
        ("s3-public-access-blocked", "public-data"),  # public bucket
        ("iam-no-admin-wildcard", "model-admin"),  # wildcard IAM
        ("sagemaker-endpoint-kms", "churn"),  # unencrypted endpoint
        ("sagemaker-data-capture", "churn"),
        ("sagemaker-endpoint-safe-deployment", "churn"),  # prod endpoint without blue/green rollback
    }
    assert expected <= found, sorted(found)
    messages = {v.policy_name: v.message for v in violations}
    assert (
        "leaves blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets off"
        in messages["s3-public-access-blocked"]
    )
    assert "has no deploymentConfig" in messages["sagemaker-endpoint-safe-deployment"]


def test_the_offline_cli_exits_1_on_the_bad_program_and_2_on_a_bad_policy_config(tmp_path: Path) -> None:
    assert cli.main(["--stack", "prod", "--program", str(BAD_PROGRAM)]) == 1
    bad_config = tmp_path / "policy.json"
    bad_config.write_text(json.dumps({"s3-versioning": "mandatory"}), encoding="utf-8")
    args = ["--stack", "prod", "--program", str(BAD_PROGRAM), "--policy-config", str(bad_config)]
    assert cli.main(args) == 2


@pytest.mark.parametrize("fmt", ["text", "json", "mermaid"])
def test_every_format_runs_the_pack_and_exits_with_its_verdict(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--stack", "prod", "--program", str(BAD_PROGRAM), "--format", fmt]) == 1
    captured = capsys.readouterr()
    if fmt == "mermaid":
        assert captured.out.lstrip().startswith(("graph", "flowchart"))
        assert "mandatory policy violation: s3-public-access-blocked" in captured.err
    assert cli.main(["--stack", "prod", "--program", str(BAD_PROGRAM), "--format", fmt, "--no-policy"]) == 0


@pytest.mark.parametrize("content", ["", "\n", "{}", "{not json", "\udcff".encode("utf-8", "surrogateescape")])
def test_the_offline_cli_exits_2_on_an_empty_or_unparsable_policy_config(
    tmp_path: Path, content: str | bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    args = ["--stack", "prod", "--program", str(BAD_PROGRAM), "--policy-config", str(path)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid policy config") and str(path) in err and "Traceback" not in err


def test_a_policy_config_that_omits_rules_keeps_the_environments_levels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "policy.json"
    # Names one rule only; without the environment's config beneath it every other rule would be advisory.
    partial.write_text(json.dumps({"s3-versioning-enabled": "advisory"}), encoding="utf-8")
    args = ["--stack", "prod", "--program", str(BAD_PROGRAM), "--policy-config", str(partial), "--format", "json"]
    assert cli.main(args) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["policy"]["config"] == f"{partial} over policies/config/prod.json"  # the same in every checkout
    levels = {v["policy"]: v["enforcement"] for v in report["policy"]["violations"]}
    assert levels["s3-public-access-blocked"] == "mandatory" and levels["s3-versioning-enabled"] == "advisory"
    weakened = tmp_path / "all-advisory.json"
    weakened.write_text(json.dumps({"all": "advisory"}), encoding="utf-8")  # explicit, so it is honoured
    assert cli.main([*args[:5], str(weakened)]) == 0


def test_policy_config_layers_over_the_environments_config(tmp_path: Path) -> None:
    env = default_policy_config_path(PACK_DIR, "prod")
    custom = tmp_path / "custom.json"
    custom.write_text(json.dumps({"s3-versioning-enabled": "disabled"}), encoding="utf-8")
    config = load_policy_config(pack(), custom, environment_config=env)
    prod = load_policy_config(pack(), env)
    assert config["s3-versioning-enabled"]["enforcementLevel"] == "disabled"
    assert config["sagemaker-data-capture"] == prod["sagemaker-data-capture"]  # level and knobs kept
    assert {n: s for n, s in config.items() if n != "s3-versioning-enabled"} == {
        n: s for n, s in prod.items() if n != "s3-versioning-enabled"
    }


# --- parliament ---------------------------------------------------------------------------------------

# Where the program's policy documents live: (resource type, property). `inlinePolicies` are handled apart.
POLICY_DOCUMENTS = {
    "aws:iam/role:Role": ("assumeRolePolicy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
    "aws:kms/key:Key": ("policy",),
    "aws:kms/keyPolicy:KeyPolicy": ("policy",),
    "aws:sns/topic:Topic": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("policy",),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ("resourcePolicy",),
}


def _state(resource: PlannedResource) -> dict[str, Any]:
    return {**resource.inputs, **{k: v for k, v in resource.outputs.items() if v is not None}}


def _looks_like_policy(value: Any) -> bool:
    if not isinstance(value, str) or '"Statement"' not in value:
        return False
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False


def policy_documents(plan: PlanResult) -> Iterator[tuple[PlannedResource, str, str]]:
    """(resource, property, JSON) for every policy document of the plan; fails on one in an unknown place."""
    for resource in plan.resources:
        if resource.type == "pulumi:pulumi:StackReference":
            continue  # another stack's outputs, audited with that stack
        state = _state(resource)
        known = POLICY_DOCUMENTS.get(resource.type, ())
        for key, value in state.items():
            if key in known and isinstance(value, str) and value:
                yield resource, key, value
            elif _looks_like_policy(value):
                pytest.fail(
                    f"{resource.type}.{key} of {resource.name} holds a policy document the audit misses"
                )
        for index, inline in enumerate(state.get("inlinePolicies") or ()):
            if isinstance(inline, dict) and isinstance(inline.get("policy"), str):
                yield resource, f"inlinePolicies[{index}].policy", inline["policy"]


def _accepted(finding: Any, resource: PlannedResource, key: str, accepted: Any) -> bool:
    detail = json.dumps(finding.detail) if not isinstance(finding.detail, str) else finding.detail
    return (
        finding.issue == accepted.issue
        and resource.type in accepted.resource_types
        and key in accepted.properties
        and (not accepted.resource_names or resource.name in accepted.resource_names)
        and (not accepted.detail_contains or any(part in detail for part in accepted.detail_contains))
    )


def audit(plans: dict[str, PlanResult]) -> tuple[int, list[str], set[int]]:
    """Run parliament over every policy document: (documents audited, unexplained findings, accepted used)."""
    try:
        from parliament import analyze_policy_string
    except ImportError:  # pragma: no cover - a missing test dependency must fail, not skip
        pytest.fail("parliament is not installed: pip install parliament==1.6.4")
    from policies.tools.parliament_allowlist import ACCEPTED_PARLIAMENT_FINDINGS

    audited, unexplained, used = 0, [], set()
    for env, plan in plans.items():
        for resource, key, document in policy_documents(plan):
            audited += 1
            for finding in analyze_policy_string(document).findings:
                matches = [
                    i
                    for i, a in enumerate(ACCEPTED_PARLIAMENT_FINDINGS)
                    if _accepted(finding, resource, key, a)
                ]
                used.update(matches)
                if not matches:
                    unexplained.append(
                        f"{env} {resource.type} {resource.name}.{key}: {finding.issue} {finding.detail}"
                    )
    return audited, unexplained, used


def test_parliament_finds_nothing_unexplained_in_any_policy_document() -> None:
    from policies.tools.parliament_allowlist import ACCEPTED_PARLIAMENT_FINDINGS

    audited, unexplained, used = audit({env: stack_plan(env) for env in ENVIRONMENTS})
    assert audited >= 10, f"only {audited} policy documents found"
    assert unexplained == [], "\n".join(unexplained)
    stale = [
        f"{a.issue} on {a.documents}" for i, a in enumerate(ACCEPTED_PARLIAMENT_FINDINGS) if i not in used
    ]
    where = "policies/tools/parliament_allowlist.py"
    assert stale == [], f"accepted findings that no longer occur (remove them from {where}): {stale}"


def test_the_audit_reports_findings_it_does_not_accept() -> None:
    """The second opinion is not vacuous: a finding outside the accepted list is reported, by document."""
    statement = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    resource = PlannedResource(
        urn="urn:pulumi:prod::mlops::aws:iam/rolePolicy:RolePolicy::ci-deploy-extra",
        type="aws:iam/rolePolicy:RolePolicy",
        name="ci-deploy-extra",
        custom=True,
        parent=None,
        inputs={"role": "r", "policy": document},
        outputs={},
    )
    audited, unexplained, _ = audit({"prod": PlanResult("mlops", "prod", (resource,), {})})
    assert audited == 1
    assert len(unexplained) == 1 and "ci-deploy-extra.policy: RESOURCE_STAR" in unexplained[0]
