"""Declare one component with hand-made args as a whole Pulumi program, under the offline plan's mock runtime.

`declare(build)` plans `tests/fixtures/component_program`, a program that calls `build` and nothing else, with
the same runner, mocks and recording monitor as `python -m infra.plan`. It returns the `PlanResult`: every
resource the component registered, with its inputs, the mocks' outputs and its options, as the engine would
see them. As in the SDK's own mock tests (pulumi/pulumi `sdk/python/lib/test_with_mocks`), the run awaits
every resource before it returns (the runner drives the program's event loop to completion), and the
runtime's global settings are restored afterwards (the runner does it; `conftest.py` checks it per test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infra.core.naming import Naming
from infra.plan.model import PlanResult
from infra.plan.runner import plan_program

PROGRAM = Path(__file__).resolve().parents[1] / "fixtures" / "component_program"
PROJECT = "mlops"
STACK = "test"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
PARTITION = "aws"
NAMING = Naming(project=PROJECT, stack=STACK)
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0f0f0f-1111-2222-3333-444444444444"

_pending: list[Callable[[], object]] = []


def declare(build: Callable[[], object], *, stack: str = STACK, region: str = REGION,
            account_id: str = ACCOUNT) -> PlanResult:
    """Run `build()` as the whole program of `stack` and return what it declared (no provider, no config)."""
    _pending.append(build)
    try:
        return plan_program(PROGRAM, PROJECT, stack, {"aws:region": region, "test:accountId": account_id})
    finally:
        _pending.clear()


def run_pending() -> None:
    """Called by the fixture program: declare what the test handed over."""
    if len(_pending) != 1:
        raise RuntimeError("tests/fixtures/component_program only runs under tests/infra/declare.py")
    _pending[0]()
