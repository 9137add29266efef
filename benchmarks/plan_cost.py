"""What pricing adds to the offline plan: the cost estimate and the budget rule, against the plan itself.

    .venv/bin/python benchmarks/plan_cost.py [--models 1,10,50] [--reps 5] [--json OUT.json]

Why: `python -m infra.plan` now prices every resource and the pack runs `monthly-budget`; the issue's target is
that pricing adds under 10 % to the plan's time at 50 models.

What is timed, per N (the prod stack serving N copies of its churn model, built as in benchmarks/plan_scaling.py):
- **plan**: `plan_program(...)` of the prod program (what the plan costs before anything is judged or priced);
- **verdict**: `evaluate(pack, plan, config)` with prod's policy config, every rule but `monthly-budget`;
- **cost**: `plan_cost(plan)` plus putting it into the JSON document (`to_document(..., cost=...)` minus
  `to_document(...)` alone), i.e. what the table/JSON output adds;
- **rule**: `evaluate` of a pack holding only `monthly-budget` minus `evaluate` of a pack holding one stack rule
  that does nothing (the request building both share cancels out): the rule's own work, its stack view and its
  estimate;
- **import**: a fresh interpreter importing the plan's modules with `infra.plan.cost` minus without it (what
  the cost model's imports add to every `python -m infra.plan` run), once per N-independent measurement.
Pricing overhead = (cost + rule + import) / (plan + verdict): the share pricing adds to what
`python -m infra.plan` did before. Medians of --reps interleaved repetitions after one untimed warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from plan_scaling import build_variant, environment, run_real  # noqa: E402
from pulumi_policy import StackValidationPolicy  # noqa: E402

from infra.plan.cost import plan_cost  # noqa: E402
from infra.plan.pack import LoadedPack, load_pack  # noqa: E402
from infra.plan.policy_config import default_policy_config_path, load_policy_config  # noqa: E402
from infra.plan.render import to_document  # noqa: E402
from infra.plan.verdict import evaluate  # noqa: E402

TARGET = 0.10
BUDGET_RULE = "monthly-budget"


def _without_budget(pack: LoadedPack) -> LoadedPack:
    return replace(pack, policies=tuple(p for p in pack.policies if p.name != BUDGET_RULE))


def _only_budget(pack: LoadedPack) -> LoadedPack:
    return replace(pack, policies=tuple(p for p in pack.policies if p.name == BUDGET_RULE))


_IMPORTS = "import infra.plan.render, infra.plan.runner, infra.plan.verdict"


def import_seconds(reps: int) -> float:
    """Median extra seconds a fresh interpreter spends importing infra.plan.cost beside the plan's modules."""
    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return time.perf_counter() - start

    with_cost, without = [], []
    for _ in range(reps):
        without.append(once(_IMPORTS))
        with_cost.append(once(_IMPORTS + ", infra.plan.cost"))
    return max(0.0, statistics.median(with_cost) - statistics.median(without))


def measure(models: int, reps: int, imports_s: float) -> dict[str, Any]:
    variant = build_variant(models)
    pack = load_pack(ROOT / "policies")
    without, only = _without_budget(pack), _only_budget(pack)
    # the baseline: a stack rule that does nothing (a pack needs one rule), so only the shared request building
    empty = replace(pack, policies=(StackValidationPolicy(name="noop", description="does nothing",
                                                          validate=lambda args, report: None),))
    config_path = default_policy_config_path(ROOT / "policies", "prod")
    config = load_policy_config(pack, config_path)
    config_without = {k: v for k, v in config.items() if k != BUDGET_RULE}
    _, plan = run_real(variant)  # warm-up
    evaluate(pack, plan, config)
    samples: dict[str, list[float]] = {"plan": [], "verdict": [], "rule": [], "cost": [], "doc": []}
    for _ in range(reps):
        timing, plan = run_real(variant)
        samples["plan"].append(timing.seconds)
        start = time.perf_counter()
        evaluate(without, plan, config_without)
        samples["verdict"].append(time.perf_counter() - start)
        start = time.perf_counter()
        evaluate(only, plan, config)
        middle = time.perf_counter()
        evaluate(empty, plan, {})
        samples["rule"].append((middle - start) - (time.perf_counter() - middle))
        start = time.perf_counter()
        report = plan_cost(plan)
        samples["cost"].append(time.perf_counter() - start)
        start = time.perf_counter()
        to_document(plan)
        plain = time.perf_counter() - start
        start = time.perf_counter()
        to_document(plan, cost=report)
        samples["doc"].append(max(0.0, time.perf_counter() - start - plain))
    med = {k: statistics.median(v) for k, v in samples.items()}
    rule = max(0.0, med["rule"])
    base = med["plan"] + med["verdict"]
    added = med["cost"] + med["doc"] + rule + imports_s
    return {
        "models": models,
        "resources": len(plan.resources),
        "plan_s": round(med["plan"], 4),
        "verdict_s": round(med["verdict"], 4),
        "cost_s": round(med["cost"] + med["doc"], 4),
        "rule_s": round(rule, 4),
        "import_s": round(imports_s, 4),
        "overhead": round(added / base, 4),
        "overhead_vs_plan_only": round((med["cost"] + med["doc"]) / med["plan"], 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="1,10,50")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    imports_s = import_seconds(args.reps)
    rows = [measure(int(n), args.reps, imports_s) for n in args.models.split(",")]
    print("| models | resources | plan s | verdict s | cost s | budget rule s | import s | pricing overhead "
          "| cost / plan |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['models']} | {r['resources']} | {r['plan_s']:.3f} | {r['verdict_s']:.3f} | {r['cost_s']:.4f} | "
              f"{r['rule_s']:.4f} | {r['import_s']:.3f} | **{r['overhead']:.1%}** | {r['overhead_vs_plan_only']:.1%} |")
    worst = max(r["overhead"] for r in rows if r["models"] == max(x["models"] for x in rows))
    verdict = "met" if worst < TARGET else "missed"
    print(f"\nTarget (pricing adds < {TARGET:.0%} at the largest N): {verdict} ({worst:.1%})")
    if args.json:
        args.json.write_text(json.dumps({"when": datetime.now(UTC).isoformat(timespec="seconds"),
                                         "environment": environment(), "rows": rows}, indent=2))
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
