"""The config reference page and Pulumi.yaml's `config:` block are generated from the one model and kept in
sync; the block follows what the Pulumi project file schema allows and what the stacks need."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

from infra import config_docs
from infra.config import AWS_KEYS, DEPLOY_TARGETS, Deploy, StackConfig, parse_stack_config
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


def test_every_key_is_documented_on_the_reference_page() -> None:
    page = (PROJECT_ROOT / "docs" / "config.md").read_text()
    for model in all_sections() | {StackConfig}:
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in page, (model.__name__, name)


def project_config() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]


def test_pulumi_yaml_declares_every_project_key_as_the_project_file_schema_allows() -> None:
    block = project_config()
    expected = {f.alias or n for n, f in StackConfig.model_fields.items()} - set(AWS_KEYS)
    assert set(block) == expected
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


def test_a_changed_model_makes_the_check_fail_and_a_run_rewrites_atomically(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "Pulumi.yaml"
    text = (PROJECT_ROOT / "Pulumi.yaml").read_text()
    project.write_text(text.replace("Team that owns the resources", "Who owns it"))
    expected = config_docs.outputs(tmp_path)
    assert expected[project] == text  # regenerating restores the model's description
    config_docs.write_atomically(project, expected[project])
    assert project.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.yaml"]  # no temporary file left behind
    monkeypatch.setattr(config_docs, "outputs", lambda root=PROJECT_ROOT: {project: text + "# stale\n"})
    monkeypatch.setattr(config_docs, "PROJECT_ROOT", tmp_path)
    assert config_docs.main(["--check"]) == 1


def test_the_config_block_must_stay_last_to_be_regenerated() -> None:
    with pytest.raises(ValueError, match="must come last"):
        config_docs.render_pulumi_yaml("name: x\nconfig:\n  a: 1\nmain: infra/\n")
