"""`python -m infra.plan`: what `pulumi preview --policy-pack policies` would declare and decide, offline.

Exit codes: 0 planned and no mandatory violation; 1 a mandatory policy violation; 2 bad input or usage
(unreadable stack file, invalid config, a program that refused to run, a bad policy config).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from infra.plan.project import ProjectError, load_project
from infra.plan.render import render_json, render_mermaid, render_table
from infra.plan.runner import PROJECT_ROOT, ProgramError, plan_stack

EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.plan",
        description="Plan a stack offline under the Pulumi SDK's mock runtime and run the policy pack over it.",
    )
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev (reads stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--stack-file", type=Path, help="plan this stack file instead of the stack's own")
    parser.add_argument("--program", type=Path, help="plan this Pulumi Python program (default: the project's main)")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="folder holding Pulumi.yaml")
    parser.add_argument("--format", choices=("table", "json", "mermaid"), default="table")
    parser.add_argument("--policy-pack", type=Path, help="policy pack folder (default: <project>/policies)")
    parser.add_argument("--policy-config", type=Path,
                        help="policy config file (default: <pack>/config/<environment>.json)")
    parser.add_argument("--no-policy", action="store_true", help="plan only; do not run the policy pack")
    parser.add_argument("--stack-outputs", action="append", default=[], metavar="NAME=FILE.json",
                        help="outputs of a referenced stack that cannot be planned here (repeatable)")
    parser.add_argument("--debug", action="store_true", help="show the traceback when the program crashes")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        references = _stack_outputs(args.stack_outputs)
        load_project(args.project_dir)
        plan = plan_stack(args.stack, args.project_dir, args.stack_file, args.program, references)
    except (ProjectError, _UsageError) as exc:
        return _fail(str(exc))
    except ProgramError as exc:
        if args.debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        return _fail(str(exc))
    violations: list[Any] = []
    policy: dict[str, Any] | None = None
    if not args.no_policy:  # every format is judged: the exit code is the verdict, whatever is rendered
        try:
            violations, policy = _judge(plan, args)
        except _UsageError as exc:
            return _fail(str(exc))
    if args.format == "json":
        sys.stdout.write(render_json(plan, violations, policy))
    elif args.format == "mermaid":
        sys.stdout.write(render_mermaid(plan))
        _report_mandatory(violations)  # the diagram has no place for them; stderr says why the exit is 1
    else:
        sys.stdout.write(render_table(plan, violations, policy))
    return EXIT_VIOLATION if violations and _has_mandatory(violations) else EXIT_OK


def _has_mandatory(violations: list[Any]) -> bool:
    from infra.plan.verdict import has_mandatory  # reached only when the pack ran (it is optional)

    return has_mandatory(violations)


def _report_mandatory(violations: list[Any]) -> None:
    for v in violations:
        if v.enforcement == "mandatory":
            sys.stderr.write(f"mandatory policy violation: {v.policy_name}: {v.message}\n")


def _judge(plan: Any, args: argparse.Namespace) -> tuple[list[Any], dict[str, Any] | None]:
    """Run the pack as `pulumi preview --policy-pack P --policy-pack-config C` would."""
    # The pack is optional for --program users; import only when judging.
    from infra.plan.pack import PackLoadError, load_pack
    from infra.plan.policy_config import PolicyConfigError, default_policy_config_path, load_policy_config
    from infra.plan.verdict import PolicyRunError, evaluate

    pack_dir = args.policy_pack or args.project_dir / "policies"
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        if args.policy_pack:
            raise _UsageError(f"{pack_dir}: not a policy pack (no PulumiPolicy.yaml)")
        return [], None
    environment = _environment_of(plan, args)
    environment_config = default_policy_config_path(pack_dir, environment)
    config_path = args.policy_config or environment_config
    try:
        pack = load_pack(pack_dir)
        # A --policy-config file adjusts the environment's config: rules it does not name keep their level.
        config = load_policy_config(pack, config_path if config_path.is_file() or args.policy_config else None,
                                    environment_config=environment_config)
        violations = evaluate(pack, plan, config)
    except (PolicyConfigError, PackLoadError) as exc:
        raise _UsageError(str(exc)) from None
    except PolicyRunError as exc:
        raise _UsageError(f"the policy pack failed: {exc}") from None
    shown = str(config_path) if config_path.is_file() else "the pack's defaults"
    if args.policy_config and environment_config.is_file() and config_path.resolve() != environment_config.resolve():
        shown += f" over {environment_config}"
    return violations, {"pack": pack.name, "config": shown, "environment": environment}


def _environment_of(plan: Any, args: argparse.Namespace) -> str:
    """The environment whose policy config applies: the stack's `<project>:environment`, else its name."""
    from infra.plan.project import load_stack

    stack_input = load_stack(args.project_dir, args.stack, args.stack_file, args.program)
    return stack_input.config.get(f"{stack_input.project}:environment", plan.stack)


class _UsageError(Exception):
    pass


def _stack_outputs(pairs: list[str]) -> dict[str, dict[str, Any]]:
    outputs: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, file = pair.partition("=")
        if not sep or not name or not file:
            raise _UsageError(f"--stack-outputs {pair!r}: expected NAME=FILE.json")
        try:
            value = json.loads(Path(file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise _UsageError(f"--stack-outputs {name}: cannot read {file}: {exc}") from None
        if not isinstance(value, dict):
            raise _UsageError(f"--stack-outputs {name}: {file} must hold a JSON object of outputs")
        outputs[name] = value
    return outputs


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
