"""The plan document is the same on every run and in every checkout, assets and archives included: CI diffs
plans (`--cost-diff`, the byte-identity of refactors), so a memory address in the JSON would be a change."""

from __future__ import annotations

import json
import re

import pulumi

from infra.core.paths import PROJECT_ROOT
from infra.plan.model import PlannedResource, PlanResult
from infra.plan.render import render_json

ADDRESS = re.compile(r" object at 0x[0-9a-f]+")


def _plan_with(code: object) -> PlanResult:
    type_ = "aws:lambda/function:Function"
    resource = PlannedResource(urn=f"urn:pulumi:dev::p::{type_}::f", type=type_,
                               name="f", custom=True, parent=None, inputs={"code": code}, outputs={"code": code})
    return PlanResult(project="p", stack="dev", resources=(resource,), outputs={})


def test_an_archive_renders_as_its_members_with_content_digests(tmp_path) -> None:
    module = tmp_path / "handler.py"
    module.write_text("def handler(event, context):\n    return 1\n")
    archive = pulumi.AssetArchive({"pkg/handler.py": pulumi.FileAsset(str(module)),
                                   "pkg/README": pulumi.StringAsset("text"),
                                   "vendored": pulumi.FileArchive(str(PROJECT_ROOT / "retrain_guard"))})
    first, second = render_json(_plan_with(archive)), render_json(_plan_with(archive))
    assert first == second and not ADDRESS.search(first)
    code = json.loads(first)["resources"][0]["inputs"]["code"]["assetArchive"]
    assert code["pkg/README"] == {"stringAsset": "text"}
    assert len(code["pkg/handler.py"]["sha256"]) == 64
    assert code["vendored"] == {"fileArchive": "retrain_guard", "sha256": None}  # a folder: no single digest

    module.write_text("def handler(event, context):\n    return 2\n")
    changed = json.loads(render_json(_plan_with(archive)))["resources"][0]["inputs"]["code"]["assetArchive"]
    assert changed["pkg/handler.py"]["sha256"] != code["pkg/handler.py"]["sha256"]


def test_no_stack_plan_carries_a_memory_address(plans: dict[str, PlanResult]) -> None:
    for stack, plan in plans.items():
        text = render_json(plan)
        assert not ADDRESS.search(text), f"{stack}: {ADDRESS.search(text)}"


def test_the_plan_document_names_no_path_of_this_checkout(capsys) -> None:
    """The policy config (and any file inside the project) is named relative to the project, so the same plan
    reads the same in every clone."""
    from infra.plan.__main__ import main

    assert main(["--stack", "dev", "--format", "json"]) == 0
    document = capsys.readouterr().out
    assert str(PROJECT_ROOT) not in document
    assert json.loads(document)["policy"]["config"] == "policies/config/dev.json"
