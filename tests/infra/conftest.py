"""Shared fixtures: whole stacks planned once per session, and the runtime left as each test found it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from pulumi.runtime.settings import SETTINGS

from infra.plan.model import PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT, plan_program, plan_stack

STACKS = ("shared", "dev", "staging", "prod")


@pytest.fixture(autouse=True)
def pulumi_settings_restored() -> Iterator[None]:
    """As the SDK's own mock tests do: restore the Pulumi runtime's global settings after every test.

    A plan run restores them itself; a test that finds them changed has leaked runtime state into the next.
    """
    saved = dict(vars(SETTINGS))
    yield
    current = dict(vars(SETTINGS))
    vars(SETTINGS).clear()
    vars(SETTINGS).update(saved)
    leaked = sorted(k for k in set(saved) | set(current) if saved.get(k) is not current.get(k))
    assert not leaked, f"the test left Pulumi runtime settings changed: {leaked}"


@pytest.fixture(scope="session")
def plans() -> dict[str, PlanResult]:
    """Every stack of the repository, planned from its real stack file (for whole-stack tests only)."""
    return {stack: plan_stack(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def plan_with() -> Callable[..., PlanResult]:
    """Plan a stack with some config keys replaced (models given as Python objects)."""
    shared_outputs: dict[str, dict] = {}

    def run(stack: str, **overrides: object) -> PlanResult:
        stack_input = load_stack(PROJECT_ROOT, stack)
        config = dict(stack_input.config)
        for key, value in overrides.items():
            # `__aws_region=...` sets aws:region; plain keys are mlops: keys.
            full_key = key.replace("__aws_", "aws:") if key.startswith("__aws_") else f"mlops:{key}"
            config[full_key] = value if isinstance(value, str) else json.dumps(value)
        references = {}
        if stack != "shared":
            if "shared" not in shared_outputs:
                shared_outputs["shared"] = plan_stack("shared").outputs
            references = {config["mlops:sharedStack"]: shared_outputs["shared"]}
        return plan_program(stack_input.program_dir, stack_input.project, stack, config,
                            stack_input.secret_keys, references)

    return run


@pytest.fixture(scope="session")
def pushed_plans(plans: dict[str, PlanResult], plan_with: Callable[..., PlanResult]) -> dict[str, PlanResult]:
    """`plans`, but with dev's churn delivered by push (the dev stack file delivers it by pull, through ACK), for
    tests of the push path that want its all-at-once, single-instance endpoint beside staging's and prod's."""
    models = json.loads(load_stack(PROJECT_ROOT, "dev").config["mlops:models"])
    models["churn"]["deploy"]["delivery"] = "push"
    return {**plans, "dev": plan_with("dev", models=models)}
