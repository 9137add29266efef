"""`promote` on hand-edited files: it changes exactly the digits of the one value it means, byte for byte
elsewhere, or refuses with one line saying why and leaves every file as it was."""

from __future__ import annotations

import os

import pytest
import release_seed as seed
from release_cli import release

PIN = "        approvedVersion: 3\n"  # churn in staging (push path)


def _approved(model: str, newest: int) -> None:
    for _ in range(newest):
        seed.register(model, status="Approved", report=seed.evaluation_report("auc", 0.99))


def _write(path, data: bytes) -> None:
    path.write_bytes(data)


def _only_digits_changed(before: bytes, after: bytes, old: bytes, new: bytes) -> None:
    index = before.index(old)
    assert after == before[:index] + new + before[index + len(old):]


@pytest.mark.parametrize(("name", "transform", "old", "new"), [
    ("crlf", lambda t: t.replace(b"\n", b"\r\n"), b"approvedVersion: 3\r\n", b"approvedVersion: 4\r\n"),
    ("no final newline", lambda t: t.rstrip(b"\n"), b"approvedVersion: 3\n", b"approvedVersion: 4\n"),
    ("cr-only comment", lambda t: t.replace(b"# Like prod", b"# a\rb Like prod", 1), b"approvedVersion: 3\n",
     b"approvedVersion: 4\n"),
    ("unicode line separator in a comment", lambda t: t.replace(b"# Like prod", "# a\u2028b".encode(), 1),
     b"approvedVersion: 3\n", b"approvedVersion: 4\n"),
    ("tabs and trailing spaces", lambda t: t.replace(PIN.encode(), b"        approvedVersion:   3   \n"),
     b"approvedVersion:   3   \n", b"approvedVersion:   4   \n"),
    ("unused anchor with digits", lambda t: t.replace(PIN.encode(), b"        approvedVersion: &v3 3\n"),
     b"&v3 3\n", b"&v3 4\n"),
    ("trailing comment", lambda t: t.replace(PIN.encode(), b"        approvedVersion: 3 # 3 is fine\n"),
     b"3 # 3 is fine", b"4 # 3 is fine"),
])
def test_push_pin_changes_only_the_digits(emulator, project, capsys, name, transform, old, new):
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    _write(stack_file, transform(stack_file.read_bytes()))
    before = stack_file.read_bytes()
    _approved("churn", 4)
    code, doc, err = release(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert (code, err) == (0, ""), (name, doc)
    _only_digits_changed(before, stack_file.read_bytes(), old, new)


@pytest.mark.parametrize(("name", "transform", "expected"), [
    ("alias of a value written elsewhere",
     lambda t: t.replace(PIN.encode() + b"        instanceType: ml.m5.large\n        instanceCount: 2\n",
                         b"        instanceType: ml.m5.large\n        instanceCount: &n 2\n"
                         b"        approvedVersion: *n\n"),
     "alias"),
    ("anchor another key uses",
     lambda t: t.replace(PIN.encode(), b"        approvedVersion: &v 3\n").replace(
         b"          approvedVersion: 4\n", b"          approvedVersion: *v\n"),
     "would change"),
    # The stack config itself wants an integer (as Pulumi reads YAML): a quoted number is refused there too.
    ("quoted", lambda t: t.replace(PIN.encode(), b'        approvedVersion: "3"\n'), "valid integer"),
    ("not a number", lambda t: t.replace(PIN.encode(), b"        approvedVersion: three\n"), "valid integer"),
    ("a list", lambda t: t.replace(PIN.encode(), b"        approvedVersion: [3]\n"), "valid integer"),
    ("missing", lambda t: t.replace(PIN.encode(), b""), "approvedVersion"),
])
def test_push_pin_refuses_what_it_cannot_edit_alone(emulator, project, capsys, name, transform, expected):
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    _write(stack_file, transform(stack_file.read_bytes()))
    before = stack_file.read_bytes()
    _approved("churn", 5)
    code, _, err = release(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert code == 2 and expected in err and err.count("\n") == 1, (name, err)
    assert stack_file.read_bytes() == before


def test_a_symlinked_stack_file_stays_a_symlink(emulator, project, capsys, tmp_path):
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    real = tmp_path / "elsewhere" / "staging.yaml"
    real.parent.mkdir()
    real.write_bytes(stack_file.read_bytes())
    stack_file.unlink()
    os.symlink(real, stack_file)
    _approved("churn", 4)
    code, _, err = release(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert (code, err) == (0, "")
    assert stack_file.is_symlink() and os.readlink(stack_file) == str(real)
    assert "        approvedVersion: 4\n" in real.read_text()


def test_a_newer_hand_pinned_version_is_never_downgraded(emulator, project, capsys):
    stack_file = project / "stacks" / "Pulumi.staging.yaml"
    stack_file.write_text(stack_file.read_text().replace(PIN, "        approvedVersion: 7\n"))
    before = stack_file.read_bytes()
    _approved("churn", 4)
    code, doc, err = release(capsys, project, "promote", "--model", "churn", "--to", "staging")
    assert code == 1 and doc["changed"] is False and (doc["from"], doc["to"]) == (7, 4)
    assert stack_file.read_bytes() == before


OVERLAY_LINE = 'value: "2" # mlops:approvedVersion'


@pytest.mark.parametrize(("name", "line", "expected"), [
    ("marker without a space is not a comment", 'value: "2"#mlops:approvedVersion', "a space before '#'"),
    ("marker with no number", "value: two # mlops:approvedVersion", "last number before the marker"),
    ("two markers", None, "found"),
])
def test_pull_pin_refuses_a_marker_that_is_not_one_comment(emulator, project, capsys, name, line, expected):
    overlay = project / "gitops" / "staging" / "fraud" / "kustomization.yaml"
    text = overlay.read_text()
    if line is None:
        text += "# also 3 # mlops:approvedVersion\n"
    else:
        text = text.replace(OVERLAY_LINE, line)
    overlay.write_text(text)
    before = overlay.read_bytes()
    _approved("fraud", 5)
    code, _, err = release(capsys, project, "promote", "--model", "fraud", "--to", "staging")
    assert code == 2 and expected in err and err.count("\n") == 1, (name, err)
    assert overlay.read_bytes() == before


def test_pull_pin_in_a_crlf_overlay_changes_only_the_digits(emulator, project, capsys):
    overlay = project / "gitops" / "staging" / "fraud" / "kustomization.yaml"
    overlay.write_bytes(overlay.read_bytes().replace(b"\n", b"\r\n"))
    before = overlay.read_bytes()
    _approved("fraud", 5)
    code, _, err = release(capsys, project, "promote", "--model", "fraud", "--to", "staging")
    assert (code, err) == (0, "")
    _only_digits_changed(before, overlay.read_bytes(), b'"2" # mlops', b'"5" # mlops')


@pytest.mark.parametrize(("name", "data"), [
    ("binary", b"\x00\x01\x02\xff\xfe binary"),
    ("not utf-8", "value: \"2\" # mlops:approvedVersion\n".encode("utf-16")),
])
def test_a_binary_file_beside_the_overlay_is_one_line(emulator, project, capsys, name, data):
    (project / "gitops" / "staging" / "fraud" / "zz-blob.yaml").write_bytes(data)
    code, _, err = release(capsys, project, "promote", "--model", "fraud", "--to", "staging")
    assert code == 2 and err.count("\n") == 1 and "zz-blob.yaml" in err and "Traceback" not in err, (name, err)
