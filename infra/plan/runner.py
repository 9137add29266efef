"""Runs a Pulumi Python program under the SDK's mock runtime and returns what it declared.

The SDK's runtime settings are process-wide (a few, such as the config and the root resource, are context
variables). So runs are serialized, each runs on a thread of its own (fresh context variables) and the
process-wide settings are restored afterwards: a plan neither sees nor leaves behind another run's state.
A StackReference to a stack not yet planned stops the run; that stack is planned, then the run repeats.

A plan has a deadline (`timeout`, default `DEFAULT_TIMEOUT_SECONDS`) and stops on Ctrl-C (see guard.py).
A program that calls `sys.exit` is a program error: it may not decide the CLI's exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import runpy
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import set_all_config, set_mocks
from pulumi.runtime.settings import SETTINGS, set_root_resource
from pulumi.runtime.stack import run_in_stack

from infra.core.paths import PROJECT_ROOT
from infra.plan.guard import DeadlineExceeded, RunControl, Stopped, TimedOut, run_guarded
from infra.plan.inputs import is_file
from infra.plan.mocks import ANSWERED_CALLS, DEFAULT_ACCOUNT_ID, PlanMocks, RecordingMonitor, StackResolver
from infra.plan.model import PlannedResource, PlanResult
from infra.plan.project import ProjectError, StackInput, load_stack

# A run stopped by a missing StackReference leaves some SDK coroutines unawaited; that is expected.
warnings.filterwarnings("ignore", message="coroutine '.*' was never awaited", category=RuntimeWarning)

_RUNTIME_LOCK = threading.Lock()

DEFAULT_TIMEOUT_SECONDS = 300.0
"""How long a plan (with the stacks it references) may run; a prod plan takes a few seconds."""


class ProgramError(Exception):
    """The program refused to run (a `pulumi.RunError`, such as invalid config) or crashed."""


class PlanTimeoutError(ProgramError):
    """The program (or the plan of a stack it references) did not finish in time."""


def plan_program(
    program_dir: Path,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: tuple[str, ...] | list[str] = (),
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    resolve_stack: StackResolver | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
) -> PlanResult:
    """Run the program in `program_dir` for `stack` with `config` and record every resource it declares.

    StackReferences resolve from `stack_references` (name -> outputs) first, then through `resolve_stack`.
    The run (not counting `resolve_stack`) stops with a ProgramError after `timeout` seconds (None: never).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    references: dict[str, tuple[dict[str, Any], list[str]]] = {
        name: (dict(outputs), []) for name, outputs in (stack_references or {}).items()
    }
    while True:
        mocks = PlanMocks(_account_id(config), config.get("aws:region", "us-east-1"), references)
        try:
            return run_guarded(
                lambda control, m=mocks: _run(program_dir, project, stack, dict(config), list(secret_keys), m,
                                              control, deadline),
                deadline,
            )
        except DeadlineExceeded:
            raise PlanTimeoutError(_timeout_message(timeout)) from None
        except ProgramError as exc:
            if mocks.failed_calls:
                raise ProgramError(f"the provider would refuse {mocks.failed_calls[0]}") from exc
            if mocks.unanswered_calls:
                calls = ", ".join(sorted(mocks.unanswered_calls))
                raise ProgramError(
                    f"the program called {calls}, which the offline plan cannot answer "
                    f"(it answers: {', '.join(ANSWERED_CALLS)})"
                ) from exc
            if not mocks.missing_references:
                raise
        # The run asked for stacks not planned yet: plan them (now that the runtime is free), run again.
        for name in sorted(mocks.missing_references):
            if resolve_stack is None:
                raise ProgramError(
                    f"stack reference {name!r} cannot be resolved offline; "
                    "give its outputs with --stack-outputs NAME=FILE.json"
                )
            references[name] = resolve_stack(name)


def plan_stack(
    stack: str,
    project_dir: Path = PROJECT_ROOT,
    stack_file: Path | None = None,
    program_dir: Path | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
) -> PlanResult:
    """Plan one stack of a project as `pulumi preview -s STACK` would evaluate it.

    A StackReference to another stack of the same project is resolved by planning that stack first.
    `timeout` bounds the whole plan, referenced stacks included (None: no bound).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    planner = _StackPlanner(project_dir, program_dir, stack_references or {}, deadline, timeout)
    return planner.plan(stack, stack_file)


class _StackPlanner:
    """Plans stacks of one project, planning referenced stacks on demand (each once, cycles refused)."""

    def __init__(self, project_dir: Path, program_dir: Path | None, references: Mapping[str, Mapping],
                 deadline: float | None, timeout: float | None) -> None:
        self._deadline = deadline
        self._timeout = timeout
        self._project_dir = project_dir
        self._program_dir = program_dir
        self._references = references
        self._in_progress: list[str] = []
        self._done: dict[str, PlanResult] = {}

    def plan(self, stack: str, stack_file: Path | None = None) -> PlanResult:
        stack_input = load_stack(self._project_dir, stack, stack_file, self._program_dir)
        self._in_progress.append(stack)
        remaining = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
        try:
            return plan_program(
                stack_input.program_dir, stack_input.project, stack, stack_input.config, stack_input.secret_keys,
                self._references, lambda name: self._resolve(stack_input, name), remaining,
            )
        except PlanTimeoutError:
            raise PlanTimeoutError(_timeout_message(self._timeout)) from None
        finally:
            self._in_progress.pop()

    def _resolve(self, referrer: StackInput, name: str) -> tuple[dict[str, Any], list[str]]:
        parts = name.split("/")
        stack = parts[-1]
        if len(parts) == 3 and parts[1] != referrer.project:
            raise ProgramError(
                f"stack reference {name!r} belongs to project {parts[1]!r}, not {referrer.project!r}; "
                "give its outputs with --stack-outputs NAME=FILE.json"
            )
        if stack in self._in_progress:
            chain = " -> ".join([*self._in_progress, stack])
            raise ProgramError(f"stack references form a cycle: {chain}")
        if stack not in self._done:
            try:
                self._done[stack] = self.plan(stack)
            except ProjectError as exc:
                raise ProgramError(f"stack reference {name!r}: {exc}") from None
        result = self._done[stack]
        return result.outputs, sorted(result.secret_outputs)


def _timeout_message(timeout: float | None) -> str:
    return f"the program did not finish within {timeout:g} s; if it is only slow, give it longer with --timeout"


def _account_id(config: Mapping[str, str]) -> str:
    for key, value in config.items():
        if key.endswith(":accountId") and isinstance(value, str) and value.isdigit() and len(value) == 12:
            return value
    return DEFAULT_ACCOUNT_ID


def _run(program_dir: Path, project: str, stack: str, config: dict[str, str], secret_keys: list[str],
         mocks: PlanMocks, control: RunControl, deadline: float | None) -> PlanResult:
    main = program_dir / "__main__.py"
    if not is_file(main):
        raise ProgramError(f"{program_dir}: not a Pulumi Python program (no __main__.py)")
    wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
    if not _RUNTIME_LOCK.acquire(timeout=wait):
        # Only a program that ignored an earlier stop (stuck in one C call) can hold the runtime this long.
        raise ProgramError("an earlier plan in this process is still running and holds the Pulumi runtime")
    try:
        with _restored_settings():
            return _run_program(program_dir, project, stack, config, secret_keys, mocks, control)
    finally:
        _RUNTIME_LOCK.release()


@contextmanager
def _restored_settings() -> Iterator[None]:
    saved = dict(vars(SETTINGS))
    try:
        yield
    finally:
        vars(SETTINGS).clear()
        vars(SETTINGS).update(saved)


def _run_program(program_dir: Path, project: str, stack: str, config: dict[str, str], secret_keys: list[str],
                 mocks: PlanMocks, control: RunControl) -> PlanResult:
    monitor = RecordingMonitor(mocks, program_dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    set_all_config(config, secret_keys)
    set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor,
              logger=logging.getLogger("infra.plan.program"))
    set_root_resource(None)  # set_mocks made a root stack; the program run makes its own, as under the CLI
    # MockSettings leaves these at whatever the last run left; every run needs its own.
    SETTINGS.outputs = set()
    SETTINGS.lock = threading.Lock()
    modules_before = set(sys.modules)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    # A run makes hundreds of thousands of short-lived Outputs beside a large heap of imported SDK modules:
    # the cyclic collector then spends most of the run walking that heap. Runs are short; collect afterwards.
    collector_was_on = gc.isenabled()
    gc.disable()
    try:
        control.enter(loop)
        loop.run_until_complete(run_in_stack(lambda: runpy.run_path(str(program_dir), run_name="__main__")))
    except pulumi.RunError as exc:
        raise ProgramError(str(exc)) from None
    except ProgramError:
        raise
    except Stopped as exc:
        _leave(control)
        _cancel_pending(loop)
        reason = "at its deadline" if isinstance(exc, TimedOut) else "on request"
        raise ProgramError(f"the program was stopped {reason}") from None
    except SystemExit as exc:
        raise ProgramError(
            f"the program called sys.exit({exc.code!r}); a Pulumi program must not exit the process"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any crash of the user's program is reported, not re-raised raw
        raise ProgramError(f"the program failed: {type(exc).__name__}: {exc}") from exc
    except KeyboardInterrupt as exc:  # raised by the program itself: Ctrl-C reaches the main thread only
        raise ProgramError("the program raised KeyboardInterrupt") from exc
    finally:
        _leave(control)
        if collector_was_on:
            gc.enable()
        loop.close()
        _forget_program_modules(program_dir, modules_before)
    resources = tuple(sorted(monitor.records, key=lambda r: r.urn))
    return PlanResult(project, stack, resources, monitor.stack_outputs, frozenset(monitor.secret_outputs),
                      tuple(monitor.not_expanded))


def _forget_program_modules(program_dir: Path, before: set[str]) -> None:
    """Drop a program's own top-level modules, so the next program's same-named modules load afresh."""
    root = str(program_dir.resolve())
    for name in set(sys.modules) - before:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if "." not in name and module_file.startswith(root):
            del sys.modules[name]


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a stopped run left waiting, so that its coroutines unwind now, inside their loop."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        with contextlib.suppress(BaseException):  # the run is over either way; its errors were reported
            loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))


def _leave(control: RunControl) -> None:
    """Make the run unstoppable before cleaning up; a stop already on its way fires at most once."""
    while True:
        try:
            control.leave()
            return
        except Stopped:
            continue


__all__ = ["PlannedResource", "PlanResult", "PlanTimeoutError", "ProgramError", "plan_program", "plan_stack"]
