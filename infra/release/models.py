"""`models`: the models a stack declares, so the workflows take their matrix from the stack config.

A model exists once, in `stacks/Pulumi.<stack>.yaml`; `train.yml` asks this command instead of listing names,
so a model added to the shared stack is trained by the workflow without editing it (docs/delivery.md).
"""

from __future__ import annotations

from pathlib import Path

from infra.release import stacks
from infra.release.outcome import Outcome


def run(project_dir: Path, stack: str | None, model: str | None) -> Outcome:
    """Every model of `stack` (default: the shared stack), or just `model` after checking the stack has it."""
    target = stacks.load(project_dir, stack) if stack else stacks.load_shared(project_dir)
    if model:
        target.model(model)  # a model the stack does not declare is bad input (exit 2, naming the stack's models)
        names = [model]
    else:
        names = sorted(target.config.models)
    out = Outcome("models", data={"stack": target.name, "models": names})
    for name in names:
        out.say(name)
    return out
