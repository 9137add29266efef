"""The one atomic writer (`infra.core.files`) that config docs, overlay patches and promotion pins go through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.core import files


@given(st.text())
def test_the_file_holds_exactly_the_text_and_no_temporary_file_is_left(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "deep" / "er" / "file.yaml"
        files.write_atomically(path, "old\n")
        files.write_atomically(path, text)
        assert path.read_bytes() == text.encode("utf-8")
        assert sorted(p.name for p in path.parent.iterdir()) == ["file.yaml"]


def test_the_targets_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text("a")
    path.chmod(0o600)
    files.write_atomically(path, "b")
    assert (path.stat().st_mode & 0o777, path.read_text()) == (0o600, "b")


def test_a_failed_write_leaves_the_target_as_it_was_and_nothing_beside_it(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "kustomization.yaml"
    path.write_text("before")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomically(path, "after")
    assert path.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["kustomization.yaml"]
