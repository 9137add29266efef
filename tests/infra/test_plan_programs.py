"""Hostile programs under `python -m infra.plan`: they may hang, exit, print or export NaN, and the CLI's
contract holds anyway: exit 0/1 only for a real plan and verdict, 2 (or 130 on Ctrl-C) otherwise, and stdout
carries the plan alone. The programs live in tests/fixtures/programs/.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.plan.__main__ import main
from infra.plan.runner import PROJECT_ROOT, ProgramError, plan_stack

PROGRAMS = PROJECT_ROOT / "tests" / "fixtures" / "programs"


def program(name: str) -> str:
    return str(PROGRAMS / name)


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.plan", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout)


# Family: programs that never finish.
@pytest.mark.parametrize("name", ["busy_loop", "idles"])
def test_a_program_that_never_finishes_is_stopped_at_the_deadline_and_the_runtime_stays_usable(
        name: str, capsys: pytest.CaptureFixture) -> None:
    """In-process: the run is really stopped (not just abandoned), so the next plan in this process works."""
    started = time.monotonic()
    assert main(["--stack", "dev", "--program", program(name), "--timeout", "1.5"]) == 2
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert "did not finish within 1.5 s" in captured.err and "--timeout" in captured.err
    assert captured.out == "" and elapsed < 10
    assert len(plan_stack("dev", program_dir=PROGRAMS / "minimal").resources) >= 2


def test_a_program_stuck_in_a_c_call_still_lets_the_cli_exit_at_the_deadline() -> None:
    started = time.monotonic()
    result = cli("--stack", "dev", "--program", program("sleeps"), "--timeout", "1", timeout=60)
    assert result.returncode == 2, result.stderr
    assert "error: the program did not finish within 1 s" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == "" and time.monotonic() - started < 30


def test_a_plan_timeout_bounds_the_stacks_it_references_too() -> None:
    with pytest.raises(ProgramError, match="did not finish within 0.01 s"):
        plan_stack("prod", timeout=0.01)
    assert plan_stack("dev", program_dir=PROGRAMS / "minimal").stack == "dev"


@pytest.mark.parametrize("name", ["busy_loop", "sleeps", "idles"])
def test_ctrl_c_stops_a_program_that_never_finishes(name: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.plan", "--stack", "dev", "--program", program(name)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a test runner may ignore SIGINT
    )
    try:
        time.sleep(4)  # imports and the program's start
        assert process.poll() is None, process.communicate()
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert err.endswith("error: interrupted\n") and "Traceback" not in err and out == ""
    assert time.monotonic() - interrupted < 10


# Family: programs that break the exit-code and output contract.
@pytest.mark.parametrize("code", ["0", "1", "3"])
def test_sys_exit_in_the_program_is_a_program_error_not_the_cli_exit_code(
        code: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(f"config:\n  mlops:exitCode: '{code}'\n")
    assert main(["--stack-file", str(stack_file), "--program", program("exits")]) == 2
    captured = capsys.readouterr()
    assert f"the program called sys.exit({int(code)})" in captured.err and captured.out == ""


def test_what_the_program_prints_goes_to_stderr_and_the_json_stays_one_document() -> None:
    result = cli("--stack", "dev", "--program", program("prints"), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["outputs"] == {"said": "hello"}
    for line in ("hello from print", "hello from sys.stdout", "hello from a child process"):
        assert line in result.stderr and line not in result.stdout


def test_non_finite_exports_keep_the_json_valid_as_documented_strings(capsys: pytest.CaptureFixture) -> None:
    assert main(["--stack", "dev", "--program", program("exports_nan"), "--format", "json"]) == 0
    text = capsys.readouterr().out
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert document["outputs"] == {"nan": "NaN", "limits": {"high": "Infinity", "low": "-Infinity", "ok": 1.5}}
    assert main(["--stack", "dev", "--program", program("exports_nan")]) == 0
    assert '"high": "Infinity"' in capsys.readouterr().out


# Family: provider functions the offline plan cannot answer.
def test_an_invoke_the_mocks_cannot_answer_is_reported_by_its_token(capsys: pytest.CaptureFixture) -> None:
    assert main(["--stack", "dev", "--program", program("unknown_invoke")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the program called aws:ec2/getVpc:getVpc, which the offline plan cannot answer")
    assert "TypeError" not in err and "aws:index/getCallerIdentity:getCallerIdentity" in err
