"""The config reference page and Pulumi.yaml's `config:` block are generated from the one model and kept in
sync; the block follows what the Pulumi project file schema allows and what the stacks need."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

from infra import config_docs
from infra.config import DEPLOY_TARGETS, Deploy, StackConfig, parse_stack_config
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT

STACKS = ("shared", "dev", "staging", "prod")
PULUMI_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def _sections(model: type[BaseModel], seen: set) -> None:
    seen.add(model)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if annotation == Deploy:
                stack += list(DEPLOY_TARGETS.values())
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                if annotation not in seen:
                    _sections(annotation, seen)
            else:
                stack += list(get_args(annotation))


def all_sections() -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    _sections(StackConfig, seen)
    return seen


def test_every_field_of_every_section_has_a_description() -> None:
    sections = all_sections()
    assert set(DEPLOY_TARGETS.values()) <= sections and len(sections) >= 14
    missing = [f"{m.__name__}.{n}" for m in sections for n, f in m.model_fields.items() if not f.description]
    assert missing == []


def test_generated_files_are_in_sync_with_the_model() -> None:
    assert config_docs.main(["--check"]) == 0


def test_the_generator_documents_every_key_of_every_section() -> None:
    """The walk in this test is independent of the generator's: a section the generator skips (a new deploy
    target, a model nested in a union) is caught here; that the committed page is the generated one is the
    sync test's job."""
    page = config_docs.render_config_doc()
    for model in all_sections() | {StackConfig}:
        assert f"## {model.__name__}" in page or model is StackConfig, model.__name__
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in page, (model.__name__, name)


def project_config() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]


def test_pulumi_yaml_declares_every_project_key_as_the_project_file_schema_allows() -> None:
    block = project_config()
    for key, spec in block.items():
        assert ":" not in key  # keys of other namespaces may not be typed or defaulted
        assert set(spec) <= {"type", "items", "description", "secret", "default", "value"}, key
        assert spec["description"], key
        if "type" in spec:
            assert spec["type"] in PULUMI_TYPES, key
            if spec["type"] == "array":
                assert spec["items"]["type"] in PULUMI_TYPES
            if "default" in spec:
                assert type(spec["default"]) is PULUMI_TYPES[spec["type"]], key
    assert block["protect"] == {"type": "boolean", "description": block["protect"]["description"], "default": False}
    assert block["readerAccountIds"]["items"] == {"type": "string"}
    assert "type" not in block["models"] and "default" not in block["models"]  # an object, and required


@pytest.mark.parametrize("stack", STACKS)
def test_every_key_a_stack_file_sets_is_declared_with_the_type_of_its_value(stack: str) -> None:
    """The Pulumi CLI checks a stack's `mlops:` values against the types Pulumi.yaml declares; a key set in a stack
    file but missing from the block, or declared with another type, would fail `pulumi up` before the program."""
    block = project_config()
    document = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    for full_key, value in document.items():
        namespace, _, key = full_key.partition(":")
        if namespace != "mlops":
            assert namespace in ("aws", "kubernetes"), full_key  # provider settings, typed by the providers
            continue
        assert key in block, f"{stack}: {full_key} is not declared in Pulumi.yaml"
        if "type" in block[key] and not (isinstance(value, dict) and "secure" in value):
            assert isinstance(value, PULUMI_TYPES[block[key]["type"]]), (stack, full_key, value)


def test_existing_defaults_are_kept() -> None:
    block = project_config()
    assert {k: block[k]["default"] for k in ("kind", "owner", "costCenter", "sharedStack", "githubRepository",
                                             "protect", "readerAccountIds")} == {
        "kind": "environment", "owner": "ml-platform", "costCenter": "ml-0000",
        "sharedStack": "organization/mlops/shared", "githubRepository": "acme/ml-platform", "protect": False,
        "readerAccountIds": []}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_sets_what_the_cli_will_require_and_parses_with_the_declared_defaults(stack: str) -> None:
    # The CLI refuses a stack that lacks a declared project key with neither default nor value.
    document = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    required = {k for k, spec in project_config().items() if "default" not in spec and "value" not in spec}
    assert required == {"environment", "models"}
    assert {f"mlops:{k}" for k in required} <= set(document)
    config = parse_stack_config(load_stack(PROJECT_ROOT, stack).config)
    assert config.environment == stack


def _copy(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    for name in ("Pulumi.yaml", "docs/config.md"):
        (tmp_path / name).write_text((PROJECT_ROOT / name).read_text())
    return tmp_path


DRIFT = {
    "a hand-edited description": ("Pulumi.yaml", lambda t: t.replace("Team that owns the resources", "Who owns it")),
    "a key dropped from the block": ("Pulumi.yaml", lambda t: t.replace("  costCenter:\n", "  costCentre:\n")),
    "an older generator's header line kept": (
        "Pulumi.yaml", lambda t: t.replace("config:\n", "# Generated by `python -m infra.config_docs` from "
                                           "infra/config.py: edit the model, not this block.\nconfig:\n", 1)),
    "a hand-edited reference page": ("docs/config.md", lambda t: t.replace("| `costCenter` |", "| `cost` |")),
    "a missing reference page": ("docs/config.md", None),
}


@pytest.mark.parametrize("drift", DRIFT, ids=list(DRIFT))
def test_check_finds_real_drift_and_a_run_repairs_it(tmp_path: Path, drift: str, capsys) -> None:
    project = _copy(tmp_path)
    name, edit = DRIFT[drift]
    original = (project / name).read_text()
    if edit is None:
        (project / name).unlink()
    else:
        assert edit(original) != original, "the edit must change the file"
        (project / name).write_text(edit(original))
    assert config_docs.main(["--check", "--project-dir", str(project)]) == 1
    assert f"{name} is out of date" in capsys.readouterr().out
    assert config_docs.main(["--project-dir", str(project)]) == 0
    assert (project / name).read_text() == original  # the generator restores what the model says
    assert config_docs.main(["--check", "--project-dir", str(project)]) == 0
    leftovers = [p.name for p in project.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []  # written atomically: no temporary file left behind


def test_regenerating_keeps_the_hand_written_head_of_pulumi_yaml(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    text = (project / "Pulumi.yaml").read_text()
    (project / "Pulumi.yaml").write_text(text.replace("stackConfigDir: stacks", "stackConfigDir: stacks\n# mine"))
    assert config_docs.main(["--project-dir", str(project)]) == 0
    assert "stackConfigDir: stacks\n# mine\n# Generated by" in (project / "Pulumi.yaml").read_text()


def test_the_config_block_must_stay_last_to_be_regenerated() -> None:
    with pytest.raises(ValueError, match="must come last"):
        config_docs.render_pulumi_yaml("name: x\nconfig:\n  a: 1\nmain: infra/\n")
