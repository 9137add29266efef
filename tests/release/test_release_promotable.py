"""Every model the stack config serves is promotable in every environment that serves it, through the real tool.

The set of (model, environment) pairs comes from the stack files, not from a list: a model added to a stack, or
an overlay that loses its promotion marker, fails here. The project copy is the repository's own stacks and
gitops overlays, unchanged, so what is tested is what a user's `promote.yml` run would meet.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import release_seed as seed
import yaml
from conftest import ROOT
from release_cli import release

from infra.release import stacks


def _served() -> list[tuple[str, str]]:
    pairs = []
    for name in stacks.known_stacks(ROOT):
        stack = stacks.load(ROOT, name)
        if stack.config.kind != "environment":
            continue
        pairs += [(model, name) for model, m in sorted(stack.config.models.items()) if m.deploy.target != "none"]
    return pairs


SERVED = _served()


def test_the_config_serves_models_in_environments():
    assert {m for m, _ in SERVED} >= {"churn", "fraud"} and len({e for _, e in SERVED}) >= 3


def test_every_model_a_workflow_offers_is_one_the_config_serves():
    """Where promote.yml or train.yml still lists models by hand, each listed model is one the config serves."""
    served = {m for m, _ in SERVED}
    for workflow in ("promote.yml", "train.yml"):
        document = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())
        inputs = ((document.get(True) or document.get("on") or {}).get("workflow_dispatch") or {}).get("inputs") or {}
        options = (inputs.get("model") or {}).get("options") or []
        assert set(options) <= served, (workflow, options)


@pytest.fixture
def repository_copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copytree(ROOT / "gitops", tmp_path / "gitops")
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("model", "environment"), SERVED, ids=[f"{m}-{e}" for m, e in SERVED])
def test_promote_pins_a_newer_version_changing_one_line(emulator, repository_copy, capsys, model, environment):
    for _ in range(9):  # v9: newer than anything the repository pins
        seed.register(model, status="Approved", report=seed.evaluation_report("auc", 0.99))
    before = _snapshot(repository_copy)
    code, doc, err = release(capsys, repository_copy, "promote", "--model", model, "--to", environment)
    assert (code, err) == (0, ""), doc
    assert doc["changed"] is True and doc["to"] == 9
    after = _snapshot(repository_copy)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == [str(Path(doc["file"]).relative_to(repository_copy))]
    old_lines, new_lines = before[changed[0]].splitlines(), after[changed[0]].splitlines()
    diff = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert len(diff) == 1 and diff[0][1] == diff[0][0].replace(str(doc["from"]).encode(), b"9", 1)
