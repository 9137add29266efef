"""Every `python -m infra.<tool>` spells its formats and uses its exit codes the same way (`infra.cli`)."""

from __future__ import annotations

import argparse
import ast
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra import cleanup
from infra.cli import EXIT_ERROR, FORMAT_ALIASES, JSON, TEXT, add_format_option
from infra.core.paths import PROJECT_ROOT
from infra.manifests import cli as manifests_cli
from infra.plan.__main__ import main as plan_main
from infra.release.cli import _parser as release_parser

TOOLS = sorted(p for p in (PROJECT_ROOT / "infra").rglob("*.py") if p != PROJECT_ROOT / "infra" / "cli.py")


def _parser(*extra: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_format_option(parser, *extra)
    return parser


def test_no_tool_declares_its_own_format_option():
    """One home: a tool that added `--format` by hand could spell its default differently again."""
    for path in TOOLS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                flags = [a.value for a in node.args if isinstance(a, ast.Constant)]
                assert "--format" not in flags, f"{path.relative_to(PROJECT_ROOT)}: use infra.cli.add_format_option"


def test_the_default_is_text_and_the_old_spellings_mean_text():
    assert _parser().parse_args([]).format == TEXT
    for old in ("table", "human"):
        assert _parser().parse_args(["--format", old]).format == TEXT
    assert _parser("mermaid").parse_args(["--format", "mermaid"]).format == "mermaid"
    assert release_parser().parse_args(["smoke-test", "--stack", "dev", "--format", "table"]).format == TEXT


@given(st.text(min_size=1, max_size=12).filter(lambda s: s not in {TEXT, JSON, *FORMAT_ALIASES}))
def test_anything_else_is_refused(value: str):
    with pytest.raises(argparse.ArgumentError, match="invalid choice"):
        _parser().parse_args([f"--format={value}"])


@pytest.mark.parametrize("main", [cleanup.main, manifests_cli.main, plan_main], ids=["cleanup", "manifests", "plan"])
def test_a_bad_format_is_a_usage_error_exit_2(main, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--format", "yaml"])
    assert exit_info.value.code == EXIT_ERROR
    assert re.search(r"--format: invalid choice: 'yaml' \(choose from text, json", capsys.readouterr().err)


def test_plan_table_is_an_alias_of_text(capsys):
    assert plan_main(["--stack", "dev", "--no-policy", "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert plan_main(["--stack", "dev", "--no-policy"]) == 0
    assert capsys.readouterr().out == table and "resources" in table.lower()
