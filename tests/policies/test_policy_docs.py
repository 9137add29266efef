"""Generated artefacts stay in sync: docs/policies.md with the pack, the taggable list with pulumi-aws."""

from __future__ import annotations

import pytest
from policy_factory import PACK_DIR, pack

from infra.plan.policy_config import default_policy_config_path, load_policy_config
from policies.tools import docs, gen_taggable
from policies.tools.parliament_allowlist import ACCEPTED_PARLIAMENT_FINDINGS


def test_committed_docs_equal_the_generated_docs() -> None:
    assert docs.DOC_PATH.read_text(encoding="utf-8") == docs.render(), "run: python -m policies.tools.docs"


@pytest.mark.parametrize("env", docs.ENVIRONMENTS)
def test_docs_use_the_same_effective_config_as_the_verdict(env: str) -> None:
    assert docs.effective_config(env) == load_policy_config(pack(), default_policy_config_path(PACK_DIR, env))


def test_docs_cover_every_rule_with_its_why_and_the_cli_usage() -> None:
    text = docs.render()
    for policy in pack().policies:
        assert f"| `{policy.name}` |" in text
        assert getattr(policy, "rationale", "")
    assert (
        "pulumi preview -s prod --policy-pack policies --policy-pack-config policies/config/prod.json" in text
    )
    for finding in ACCEPTED_PARLIAMENT_FINDINGS:
        assert finding.reason in text


def test_docs_check_mode() -> None:
    assert docs.main(["--check"]) == 0


def test_taggable_types_match_the_installed_pulumi_aws() -> None:
    assert gen_taggable.main(["--check"]) == 0, "run: python -m policies.tools.gen_taggable"
    from policies.rules.taggable_types import TAGGABLE_TYPES

    assert {"aws:s3/bucket:Bucket", "aws:sagemaker/endpoint:Endpoint"} <= TAGGABLE_TYPES
    assert "aws:iam/rolePolicy:RolePolicy" not in TAGGABLE_TYPES  # it has no tags input
