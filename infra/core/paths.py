"""Where the project's files are: the one home of the project root for the program and every tool."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The folder that holds `Pulumi.yaml` (this file is `infra/core/paths.py`)."""
