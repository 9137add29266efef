"""Running `python -m infra.release` in-process (fast) and reading its JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.release.cli import main


def release(capsys: pytest.CaptureFixture[str], project: Path, *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run one subcommand with --format json; returns (exit code, parsed stdout or {}, stderr)."""
    code = main([*argv, "--format", "json", "--project-dir", str(project)])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def release_text(capsys: pytest.CaptureFixture[str], project: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--project-dir", str(project)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
