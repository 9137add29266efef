"""The rule names `infra.manifests.judge` uses across the product boundary are the pack's: a rule renamed in the
pack stops the GitOps check with its name (exit 2) instead of silently leaving it (issue #15)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.core.paths import PROJECT_ROOT
from infra.manifests import cli as manifests_cli
from infra.manifests import judge as manifests_judge
from infra.manifests import overlays as manifests_overlays
from infra.manifests.overlays import ManifestError
from infra.plan.pack import load_pack

PACK_RULES = [p.name for p in load_pack(PROJECT_ROOT / "policies").policies]


def test_every_name_the_judge_uses_is_a_rule_of_the_loaded_pack():
    assert set(manifests_judge.SAGEMAKER_RULES) <= set(PACK_RULES)
    for prefix in manifests_judge.KUBERNETES_RULE_PREFIXES:
        assert any(name.startswith(prefix) for name in PACK_RULES), prefix
    judging = manifests_judge.rules_for_manifests(PACK_RULES)
    assert set(manifests_judge.SAGEMAKER_RULES) <= judging < set(PACK_RULES)  # the rest judge the Pulumi side


@pytest.mark.parametrize("rule", manifests_judge.SAGEMAKER_RULES)
def test_a_renamed_sagemaker_rule_is_named(rule: str):
    renamed = [f"{name}-v2" if name == rule else name for name in PACK_RULES]
    with pytest.raises(ManifestError, match=f"SAGEMAKER_RULES '{rule}'"):
        manifests_judge.rules_for_manifests(renamed)


@pytest.mark.parametrize("prefix", manifests_judge.KUBERNETES_RULE_PREFIXES)
def test_a_prefix_whose_rules_were_all_renamed_is_named(prefix: str):
    renamed = [f"kube-{name}" if name.startswith(prefix) else name for name in PACK_RULES]
    with pytest.raises(ManifestError, match=f"KUBERNETES_RULE_PREFIXES '{prefix}' matches no rule"):
        manifests_judge.rules_for_manifests(renamed)


def test_renaming_a_rule_in_a_copy_of_the_pack_fails_the_manifests_command(tmp_path: Path, monkeypatch, capsys):
    """End to end: the rule renamed in the pack's own source, loaded as the CLI loads it."""
    pack = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", pack, ignore=shutil.ignore_patterns("__pycache__"))
    source = pack / "rules" / "sagemaker.py"
    text = source.read_text()
    assert text.count('name="sagemaker-data-capture"') == 1
    source.write_text(text.replace('name="sagemaker-data-capture"', 'name="sagemaker-capture-on"'))
    monkeypatch.setattr(manifests_judge, "_pack", lambda: load_pack(pack))
    overlay = manifests_overlays.overlays()[0].path
    assert manifests_cli.main([str(overlay)]) == 2
    err = capsys.readouterr().err
    assert "SAGEMAKER_RULES 'sagemaker-data-capture'" in err and "sagemaker-capture-on" in err
