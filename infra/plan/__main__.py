"""`python -m infra.plan`: what `pulumi preview --policy-pack policies` would declare and decide, offline.

Exit codes: 0 planned and no mandatory violation; 1 a mandatory policy violation; 2 bad input or usage
(unreadable stack file, invalid config, a program that refused to run, crashed, exited or timed out, a bad
policy config, or no policy judged the plan under --require-policy); 130 interrupted (Ctrl-C). Every error is
one line on stderr; stdout carries the plan only.

A plan that no policy judged (no pack in the project, or --no-policy) says so on stderr and in the JSON
(`policy.judged: false` with the reason); so does a provider-side component whose objects the plan could not
see (`policy.notJudged`, e.g. a Helm v4 chart). `--require-policy` turns "judged nothing" into exit 2; it is
the default when the environment variable CI is "true" (GitHub Actions and most CI systems set it), so a CI
job can never pass a plan that no rule looked at. An explicit --no-policy still plans only.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from infra.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_VERDICT, add_format_option
from infra.core.paths import PROJECT_ROOT
from infra.plan.cost import CostDiffError, check_cost_base, cost_diff, cost_diff_lines, cost_lines, plan_cost
from infra.plan.inputs import InputError, is_file, read_json
from infra.plan.project import ProjectError, check_stack_name, load_project, stack_name_of
from infra.plan.render import render_json, render_mermaid, render_table, to_document
from infra.plan.runner import DEFAULT_TIMEOUT_SECONDS, ProgramError, plan_stack

EXIT_VIOLATION, EXIT_BAD_INPUT = EXIT_VERDICT, EXIT_ERROR


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line like every other error of this tool (still exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m infra.plan",
        description="Plan a stack offline under the Pulumi SDK's mock runtime and run the policy pack over it.",
    )
    parser.add_argument("--stack", help="stack name, e.g. dev (reads stacks/Pulumi.<stack>.yaml); "
                        "default: the name in --stack-file's Pulumi.<stack>.yaml")
    parser.add_argument("--stack-file", type=Path, help="plan this stack file instead of the stack's own")
    parser.add_argument("--program", type=Path, help="plan this Pulumi Python program (default: the project's main)")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="folder holding Pulumi.yaml")
    add_format_option(parser, "mermaid", help_text="text: a table for people (the default); json for machines; "
                      "mermaid: a diagram (`table` is read as text)")
    parser.add_argument("--policy-pack", type=Path, help="policy pack folder (default: <project>/policies)")
    parser.add_argument("--policy-config", type=Path,
                        help="policy config file (default: <pack>/config/<environment>.json)")
    parser.add_argument("--no-policy", action="store_true", help="plan only; do not run the policy pack")
    parser.add_argument("--require-policy", action=argparse.BooleanOptionalAction, default=None,
                        help="exit 2 when no policy pack judged the plan (default: on when CI=true)")
    parser.add_argument("--stack-outputs", action="append", default=[], metavar="NAME=FILE.json",
                        help="outputs of a referenced stack that cannot be planned here (repeatable)")
    parser.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                        help=f"stop a program that runs longer (default {DEFAULT_TIMEOUT_SECONDS:g})")
    parser.add_argument("--cost-diff", type=Path, metavar="BASE.json",
                        help="show the monthly cost change against a previous plan's --format json output")
    parser.add_argument("--debug", action="store_true", help="show the traceback when the program crashes")
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: give more than 0 and at most 86400 seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return EXIT_INTERRUPTED


def _main(args: argparse.Namespace) -> int:
    try:
        args.stack = _stack_name(args)
        references = _stack_outputs(args.stack_outputs)
        base = _cost_base(args.cost_diff)  # read before planning: a bad file fails at once
        load_project(args.project_dir)
        plan = plan_stack(args.stack, args.project_dir, args.stack_file, args.program, references, args.timeout)
    except (ProjectError, _UsageError) as exc:
        return _fail(str(exc))
    except ProgramError as exc:
        if args.debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        return _fail(str(exc))
    violations: list[Any] = []
    require = _require_policy(args)
    if args.no_policy and args.require_policy:
        return _fail("--no-policy contradicts --require-policy")
    if args.no_policy:
        policy: dict[str, Any] = {"judged": False, "reason": "--no-policy: the policy pack was not run"}
    else:  # every format is judged: the exit code is the verdict, whatever is rendered
        try:
            violations, policy = _judge(plan, args)
        except _UsageError as exc:
            return _fail(str(exc))
    policy["notJudged"] = [{"urn": n.urn, "type": n.type, "reason": n.reason} for n in plan.not_expanded]
    _warn_unjudged(plan, policy)
    if require and not policy["judged"]:
        return _fail(f"--require-policy: no policy judged this plan ({policy['reason']})")
    try:
        cost, diff = _cost(plan, violations, policy, args.cost_diff, base)
    except _UsageError as exc:
        return _fail(str(exc))
    if args.format == "json":
        sys.stdout.write(render_json(plan, violations, policy, cost, {"costDiff": diff} if diff else None))
    elif args.format == "mermaid":
        sys.stdout.write(render_mermaid(plan))
        _report_mandatory(violations)  # the diagram has no place for them; stderr says why the exit is 1
    else:
        lines = cost_lines(cost) + ([""] + cost_diff_lines(diff, str(args.cost_diff)) if diff else [])
        sys.stdout.write(render_table(plan, violations, policy, lines))
    return EXIT_VIOLATION if violations and _has_mandatory(violations) else EXIT_OK


def _require_policy(args: argparse.Namespace) -> bool:
    if args.require_policy is not None:
        return args.require_policy
    return not args.no_policy and os.environ.get("CI", "").strip().lower() == "true"


def _warn_unjudged(plan: Any, policy: dict[str, Any]) -> None:
    """Say loudly, on stderr, what no rule looked at: the whole plan, or the objects of some components."""
    if not policy["judged"]:
        sys.stderr.write(f"WARNING: NO POLICY JUDGED THIS PLAN: {policy['reason']}\n")
    for item in plan.not_expanded:
        sys.stderr.write(f"WARNING: NOT JUDGED: {item.type} {item.urn.rsplit('::', 1)[-1]}: {item.reason}\n")


def _cost_base(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        base = read_json(path, f"--cost-diff {path}")
        check_cost_base(base)
    except InputError as exc:
        raise _UsageError(str(exc)) from None
    except CostDiffError as exc:
        raise _UsageError(f"--cost-diff {path}: {exc}") from None
    return base


def _cost(plan: Any, violations: list[Any], policy: dict[str, Any] | None, base_path: Path | None,
          base: Any) -> tuple[Any, dict[str, Any] | None]:
    """The plan's cost estimate and, with --cost-diff, its change against the base plan's JSON."""
    cost = plan_cost(plan)
    if base is None:
        return cost, None
    return cost, cost_diff(base, to_document(plan, violations, policy, cost))


def _has_mandatory(violations: list[Any]) -> bool:
    from infra.plan.verdict import has_mandatory  # reached only when the pack ran (it is optional)

    return has_mandatory(violations)


def _report_mandatory(violations: list[Any]) -> None:
    for v in violations:
        if v.enforcement == "mandatory":
            sys.stderr.write(f"mandatory policy violation: {v.policy_name}: {v.message}\n")


def _judge(plan: Any, args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    """Run the pack as `pulumi preview --policy-pack P --policy-pack-config C` would."""
    # The pack is optional for --program users; import only when judging.
    from infra.plan.pack import PackLoadError, load_pack
    from infra.plan.policy_config import PolicyConfigError, default_policy_config_path, load_policy_config
    from infra.plan.verdict import PolicyRunError, evaluate

    pack_dir = args.policy_pack or args.project_dir / "policies"
    if not is_file(pack_dir / "PulumiPolicy.yaml"):
        if args.policy_pack:
            raise _UsageError(f"{pack_dir}: not a policy pack (no PulumiPolicy.yaml)")
        return [], {"judged": False, "reason": f"no policy pack at {pack_dir} (no PulumiPolicy.yaml)"}
    environment = _environment_of(plan, args)
    environment_config = default_policy_config_path(pack_dir, environment)
    config_path = args.policy_config or environment_config
    try:
        pack = load_pack(pack_dir)
        # A --policy-config file adjusts the environment's config: rules it does not name keep their level.
        config = load_policy_config(pack, config_path if is_file(config_path) or args.policy_config else None,
                                    environment_config=environment_config)
        violations = evaluate(pack, plan, config)
    except (PolicyConfigError, PackLoadError) as exc:
        raise _UsageError(str(exc)) from None
    except PolicyRunError as exc:
        raise _UsageError(f"the policy pack failed: {exc}") from None
    shown = _shown_path(config_path, args.project_dir) if is_file(config_path) else "the pack's defaults"
    if args.policy_config and is_file(environment_config) and config_path.resolve() != environment_config.resolve():
        shown += f" over {_shown_path(environment_config, args.project_dir)}"
    return violations, {"judged": True, "pack": pack.name, "config": shown, "environment": environment}


def _environment_of(plan: Any, args: argparse.Namespace) -> str:
    """The environment whose policy config applies: the stack's `<project>:environment`, else its name."""
    from infra.plan.project import load_stack

    stack_input = load_stack(args.project_dir, args.stack, args.stack_file, args.program)
    return stack_input.config.get(f"{stack_input.project}:environment", plan.stack)


class _UsageError(Exception):
    pass


def _stack_name(args: argparse.Namespace) -> str:
    """`--stack`, else the name in a `--stack-file` called `Pulumi.<stack>.yaml`, as the Pulumi CLI reads it."""
    if args.stack is not None:
        return check_stack_name(args.stack)
    inferred = stack_name_of(args.stack_file) if args.stack_file is not None else None
    if inferred is None:
        if args.stack_file is None:
            raise _UsageError("--stack is required (or a --stack-file named Pulumi.<stack>.yaml)")
        raise _UsageError(f"--stack is required: {args.stack_file.name} is not named Pulumi.<stack>.yaml")
    return check_stack_name(inferred)


def _stack_outputs(pairs: list[str]) -> dict[str, dict[str, Any]]:
    outputs: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, file = pair.partition("=")
        if not sep or not name or not file:
            raise _UsageError(f"--stack-outputs {pair!r}: expected NAME=FILE.json")
        try:
            value = read_json(Path(file), f"--stack-outputs {name}: {file}")
        except InputError as exc:
            raise _UsageError(str(exc)) from None
        if not isinstance(value, dict):
            raise _UsageError(f"--stack-outputs {name}: {file} must hold a JSON object of outputs")
        outputs[name] = value
    return outputs


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return EXIT_BAD_INPUT


def _shown_path(path: Path, project_dir: Path) -> str:
    """A file as the plan document names it: relative to the project when inside it, so the same plan reads the
    same in every checkout (CI diffs plans); as given otherwise."""
    resolved, project = path.resolve(), Path(project_dir).resolve()
    return str(resolved.relative_to(project)) if resolved.is_relative_to(project) else str(path)


if __name__ == "__main__":
    sys.exit(main())

