"""Static checks of the Dockerfiles and pinned requirements (no Docker engine is needed or used)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import model_code

PACKAGE = Path(model_code.__file__).parent


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


@pytest.mark.parametrize(("name", "entry"), [("Dockerfile.train", "train"), ("Dockerfile.serve", "serve")])
def test_dockerfile_contract(name: str, entry: str) -> None:
    steps = instructions(PACKAGE / name)
    froms = [rest for kw, rest in steps if kw == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", froms[0]), froms[0]  # pinned, slim
    users = [rest for kw, rest in steps if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")  # runs as non-root
    assert not [kw for kw, _ in steps if kw == "ENTRYPOINT"]  # `docker run IMAGE train|serve` must work
    assert ("CMD", f'["{entry}"]') in steps
    runs = " ".join(rest for kw, rest in steps if kw == "RUN")
    assert f"/opt/program/model_code/bin/{entry} /usr/local/bin/{entry}" in runs  # on PATH
    assert "-r /opt/program/model_code/requirements.txt" in runs


def test_entry_point_scripts_are_executable() -> None:
    for entry in ("train", "serve"):
        script = PACKAGE / "bin" / entry
        assert os.access(script, os.X_OK)
        assert f"-m model_code.{entry}" in script.read_text()


def test_requirements_are_exactly_pinned() -> None:
    lines = [
        line.strip()
        for line in (PACKAGE / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line), line
    names = {line.split("==")[0].lower() for line in lines}
    assert {"numpy", "scikit-learn", "orjson"} <= names


def test_model_code_does_not_import_infra() -> None:
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(infra|policies|stacks)\b", source, re.MULTILINE), path
