"""Hostile input files for `python -m infra.plan`: each family ends in one clear line and exit 2.

Exit 1 means "a mandatory policy violation"; a crash on bad input must never read as a verdict, and must
never exhaust the machine. One test per family; the members of a family are its parameters.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.plan.__main__ import main
from infra.plan.inputs import MAX_BYTES, InputError, _json_depth, loads_json, loads_yaml, read_yaml
from infra.plan.runner import PROJECT_ROOT

DEV = PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml"
MINIMAL = str(PROJECT_ROOT / "tests" / "fixtures" / "programs" / "minimal")  # plans in a blink


def plan_exit(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """Run the CLI in-process; return its exit code and stderr, after checking stdout stayed empty."""
    code = main(list(args))
    captured = capsys.readouterr()
    assert captured.out == "", "nothing may be written to stdout when the input is refused"
    return code, captured.err


def assert_one_line_error(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    for text in expected:
        assert text in err, err


def stack_file(tmp_path: Path, body: str, name: str = "Pulumi.hostile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


# Family: files that are not text (stack file, --stack-outputs, --policy-config).
BINARY_FILES = {
    "random bytes": bytes(range(256)) * 4,
    "NUL bytes in UTF-8 text": b"config:\n  aws:region: us-east-1\x00\n",
    "Latin-1 text": "config:\n  mlops:owner: Jos\xe9\n".encode("latin-1"),
    "a gzip header": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 64,
}


@pytest.mark.parametrize("role", ["stack file", "--stack-outputs", "--policy-config"])
@pytest.mark.parametrize("content", list(BINARY_FILES.values()), ids=list(BINARY_FILES))
def test_a_binary_file_is_refused_as_such(role: str, content: bytes, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    hostile = tmp_path / "Pulumi.hostile.yaml"
    hostile.write_bytes(content)
    args = {
        "stack file": ["--stack-file", str(hostile)],
        "--stack-outputs": ["--stack", "dev", "--stack-outputs", f"mlops/shared={hostile}"],
        "--policy-config": ["--stack", "dev", "--program", MINIMAL, "--policy-config", str(hostile)],
    }[role]
    code, err = plan_exit(capsys, *args)
    assert_one_line_error(code, err, str(hostile))
    assert "not UTF-8 text" in err or "NUL bytes" in err


def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    huge = stack_file(tmp_path, "config:\n" + "#" * (MAX_BYTES + 1) + "\n")
    code, err = plan_exit(capsys, "--stack-file", str(huge))
    assert_one_line_error(code, err, "larger than 1024 KiB")


# Family: YAML values of types a config cannot hold.
UNEXPECTED_TYPES = {
    "!!timestamp": ("mlops:environment: !!timestamp 2024-01-01", "!!timestamp is not allowed"),
    "!!binary": ("mlops:environment: !!binary ZGV2", "!!binary is not allowed"),
    "!!set": ("mlops:readerAccountIds: !!set {111111111111, 222222222222}", "!!set is not allowed"),
    "!!omap": ("mlops:tags: !!omap [{team: a}]", "!!omap is not allowed"),
    "!!python/object": ("mlops:environment: !!python/object/apply:os.system [id]", "is not allowed"),
    "integer key": ("mlops:tags: {1: one}", "mapping key 1 is an integer; keys must be strings"),
    "boolean key": ("mlops:tags: {true: one}", "mapping key True is a boolean"),
    "null key": ("mlops:tags: {~: one}", "mapping key None is null"),
    "NaN": ("mlops:tags: {x: .nan}", "'.nan' is not a finite number"),
    "infinity": ("mlops:tags: {x: -.inf}", "'-.inf' is not a finite number"),
    "underscored int": ("mlops:tags: {x: !!int 1_0}", "'1_0' is not an integer"),
    "full-width digits": ("mlops:tags: {x: !!int \uff13}", "is not an integer"),
}


@pytest.mark.parametrize(("line", "message"), list(UNEXPECTED_TYPES.values()), ids=list(UNEXPECTED_TYPES))
def test_yaml_values_of_unexpected_types_are_refused_with_their_line(
        line: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = stack_file(tmp_path, f"config:\n  aws:region: us-east-1\n  {line}\n")
    code, err = plan_exit(capsys, "--stack-file", str(path))
    assert_one_line_error(code, err, message, "(line 3,")


def test_yaml_scalars_read_as_the_pulumi_cli_reads_them() -> None:
    """YAML 1.2 core, as Go's yaml.v3: unquoted dates, `yes` and `1:20` stay strings; `017` is seventeen."""
    document = loads_yaml("a: 2024-01-01\nb: yes\nc: on\nd: 1:20\ne: 017\nf: 0x1F\ng: 0o17\nh: 1.5e3\n", "t")
    assert document == {"a": "2024-01-01", "b": "yes", "c": "on", "d": "1:20", "e": 17, "f": 31, "g": 15,
                        "h": 1500.0}
    for stack in ("shared", "dev", "staging", "prod"):  # the strict reader changes nothing for real stacks
        import yaml

        path = PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml"
        assert read_yaml(path) == yaml.safe_load(path.read_text())


# Family: a key given twice (the later would silently win).
DUPLICATES = {
    "top-level config key": "config:\n  aws:region: us-east-1\n  aws:region: eu-west-1\n",
    "nested model key": "config:\n  mlops:models:\n    churn: {framework: sklearn}\n    churn: {framework: x}\n",
    "flow mapping": "config:\n  mlops:tags: {team: a, team: b}\n",
    "document key": "config: {}\nconfig: {}\n",
}


@pytest.mark.parametrize("body", list(DUPLICATES.values()), ids=list(DUPLICATES))
def test_a_duplicate_yaml_key_is_refused(body: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, err = plan_exit(capsys, "--stack-file", str(stack_file(tmp_path, body)))
    assert_one_line_error(code, err, "duplicate key")


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '{"x": {"y": 1, "y": 1}}'])
def test_a_duplicate_json_key_is_refused(text: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    outputs = tmp_path / "shared.json"
    outputs.write_text(text)
    code, err = plan_exit(capsys, "--stack", "dev", "--stack-outputs", f"mlops/shared={outputs}")
    assert_one_line_error(code, err, "duplicate key")


# Family: documents built to exhaust memory or the stack.
BILLION_LAUGHS = textwrap.dedent("""\
    config:
      a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
      mlops:tags: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
    """)
EXHAUSTING = {
    "alias bomb": (BILLION_LAUGHS, "expands to more than 100000 values"),
    "merge-key bomb": ("config:\n  a: &a {x: 1}\n  b: &b {<<: [*a, *a]}\n  c: {<<: [*b, *b]}\n",
                       "merge keys (<<) are not supported"),
    "deep flow nesting": ("config:\n  mlops:tags: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64 levels"),
    "deep block nesting": ("config:\n" + "".join(" " * (2 * i + 2) + f"k{i}:\n" for i in range(100)) + "\n",
                           "nested more than 64 levels"),
}


@pytest.mark.parametrize(("body", "message"), list(EXHAUSTING.values()), ids=list(EXHAUSTING))
def test_a_yaml_document_built_to_exhaust_memory_or_the_stack_is_refused(
        body: str, message: str, tmp_path: Path) -> None:
    """In a child process with 1 GiB of address space: on today's main the alias bomb needs many GiB."""
    assert len(body.encode()) < 30_000
    path = stack_file(tmp_path, body)
    limit = 1 << 30

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "infra.plan", "--stack-file", str(path)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120, preexec_fn=cap_memory)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_the_alias_bomb_is_about_500_bytes_and_fails_fast() -> None:
    compact = "\n".join(line.replace(", ", ",") for line in BILLION_LAUGHS.splitlines())
    assert len(compact.encode()) < 520
    with pytest.raises(InputError, match="expands to more than"):
        loads_yaml(compact, "bomb")


# Family: deeply nested JSON.
@pytest.mark.parametrize("role", ["--stack-outputs", "--policy-config"])
@pytest.mark.parametrize("depth", [65, 1_000, 200_000])
def test_deeply_nested_json_is_refused(role: str, depth: int, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"a": ' + "[" * depth + "]" * depth + "}")
    args = (["--stack-outputs", f"mlops/shared={path}"] if role == "--stack-outputs"
            else ["--program", MINIMAL, "--policy-config", str(path)])
    code, err = plan_exit(capsys, "--stack", "dev", *args)
    assert_one_line_error(code, err, "nested", "64 levels")


@pytest.mark.parametrize("text", ['{"x": NaN}', '{"x": -Infinity}', "[Infinity]"])
def test_json_constants_that_are_not_numbers_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="is not a JSON number"):
        loads_json(text, "outputs")


# Family: stack names the Pulumi CLI would refuse (and which would reach the file system as a path).
BAD_NAMES = {
    "300 characters": "s" * 300,
    "path traversal": "../../etc/passwd",
    "empty": "",
    "space": "my stack",
    "slash": "org/dev",
    "NUL": "dev\x00",
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_a_stack_name_the_cli_would_refuse_is_refused(name: str, capsys: pytest.CaptureFixture) -> None:
    code, err = plan_exit(capsys, "--stack", name)
    assert_one_line_error(code, err, "is not valid: use 1-100 letters, digits, '-', '_' or '.'")
    assert len(err) < 200


@pytest.mark.parametrize(("args", "message"), [
    (["--stack", "dev", "--timeout", "0"], "--timeout: '0': give more than 0"),
    (["--stack", "dev", "--timeout", "nan"], "give more than 0"),
    (["--stack", "dev", "--timeout", "soon"], "is not a number of seconds"),
    (["--stack", "dev", "--format", "xml"], "invalid choice"),
])
def test_a_bad_option_value_is_one_line_with_exit_two(args: list[str], message: str,
                                                      capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_copy_of_a_real_stack_file_still_plans(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """The anchor for the families above: a well-formed stack file read through the same path still plans."""
    copy = tmp_path / "Pulumi.dev.yaml"
    copy.write_text(DEV.read_text())
    assert main(["--stack-file", str(copy), "--no-policy"]) == 0
    assert capsys.readouterr().out.startswith("Plan of stack dev ")


# Family: paths the operating system refuses or that never end.
LONG = "/tmp/" + "x" * 5000


@pytest.mark.parametrize("args", [
    ["--stack", "dev", "--stack-file", LONG],
    ["--stack", "dev", "--program", LONG],
    ["--stack", "dev", "--project-dir", LONG],
    ["--stack", "dev", "--stack-outputs", f"a={LONG}"],
    ["--stack", "dev", "--program", MINIMAL, "--policy-pack", LONG],
    ["--stack", "dev", "--program", MINIMAL, "--policy-config", LONG],
    ["--stack", "dev", "--stack-outputs", "a=/dev/zero"],
    ["--stack", "dev", "--stack-outputs", "a=/tmp"],
], ids=["stack-file too long", "program too long", "project-dir too long", "stack-outputs too long",
        "policy-pack too long", "policy-config too long", "endless stream", "directory"])
def test_a_path_the_system_refuses_or_an_endless_stream_is_a_clear_error(
        args: list[str], capsys: pytest.CaptureFixture) -> None:
    code, err = plan_exit(capsys, *args)
    assert_one_line_error(code, err)


@pytest.mark.parametrize("content", list(BINARY_FILES.values()), ids=list(BINARY_FILES))
def test_a_binary_policy_pack_manifest_is_refused_as_such(content: bytes, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_bytes(content)
    (pack / "__main__.py").write_text("raise SystemExit('never run')\n")
    code, err = plan_exit(capsys, "--stack", "dev", "--program", MINIMAL, "--policy-pack", str(pack))
    assert_one_line_error(code, err, "PulumiPolicy.yaml")
    assert "not UTF-8 text" in err or "NUL bytes" in err


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\ab'), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(_JSON_VALUES)
def test_depth_is_counted_without_parsing_and_ignores_brackets_in_strings(value: object) -> None:
    """The pre-parse depth check (which keeps deep input away from the recursive parser) counts exactly the
    nesting the parser would build, whatever brackets, quotes and backslashes the strings hold."""
    assert _json_depth(json.dumps(value)) == _depth(value)
