"""Offline plan scaling: how long planning the prod stack takes as the number of served models grows.

    .venv/bin/python benchmarks/plan_scaling.py [--models 1,10,50] [--reps 5] [--json OUT.json] [--profile 50]

Why: the offline plan (``infra.plan``) runs in CI on every change and under the policy tests, so its cost must
stay proportional to what the program declares. Absolute seconds say little on a shared 2-core runner, so each
figure sits beside a *floor* measured in the same run: a trivial Pulumi program that registers exactly as many
resources (``pulumi.CustomResource("test:index:Trivial", f"r{i:04d}", {"value": i})``, no provider, no parent,
no outputs) through the same ``plan_program`` harness and the same SDK mock runtime. Whatever the prod program
costs beyond that floor is the program's own doing (its Outputs, applies, StackReference reads, serialization
of richer inputs). Targets (from the issue): within 1.5x of the floor, and linear in the number of models.
A second, *typed* floor registers the same number of ``aws.sns.Topic(f"r{i:04d}")`` (no args): it separates what
any pulumi_aws resource costs (a typed resource resolves every output property the provider schema declares)
from what the program adds on top.

What is timed: only ``plan_program(...)`` of the prod program. The prod config is the real
``stacks/Pulumi.prod.yaml`` (via ``load_stack``) with ``mlops:models`` replaced by N copies of its ``churn``
SageMaker model (``m001``..). The shared StackReference is given as plain outputs: the shared stack is planned
once per N (untimed) with N copies of its ``churn`` training model, and its outputs are passed through
``stack_references``. So the timed run is the prod program alone.

Method: one untimed warm-up of every variant (imports, lazily loaded provider modules), then ``--reps``
interleaved repetitions (real, floor and typed floor back to back per N, their order rotating every repetition),
medians reported. "resources" counts what the run registered, its root stack excluded (every floor has one too).
The cold first run is measured separately in a fresh interpreter per N (only ``infra.plan.runner`` imported
beforehand). Garbage-collector pauses inside each timed run are clocked through ``gc.callbacks`` and reported as
a share of the run.

Diagnostics: ``--profile N`` cProfiles one warm N-model run (the program's thread only) and prints the top
functions; ``--program DIR`` plans another program directory with the same configs (a candidate fix, say);
``--gc off|freeze`` applies a collector policy around every timed run, real and floors alike, to try one before
putting it into the runner.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.plan.project import load_stack  # noqa: E402
from infra.plan.runner import PROJECT_ROOT, PlanResult, plan_program  # noqa: E402

PROD, SHARED, TEMPLATE_MODEL = "prod", "shared", "churn"
FLOOR_PROJECT, FLOOR_COUNT_KEY = "floor", "floor:count"
FLOOR_PROGRAM = '''"""Floor for benchmarks/plan_scaling.py: N trivial custom resources, nothing else."""
import pulumi

for i in range(int(pulumi.Config("floor").require("count"))):
    pulumi.CustomResource("test:index:Trivial", f"r{i:04d}", {"value": i})
'''
TYPED_FLOOR_PROGRAM = '''"""Typed floor for benchmarks/plan_scaling.py: N pulumi_aws resources without arguments."""
import pulumi
import pulumi_aws as aws

for i in range(int(pulumi.Config("floor").require("count"))):
    aws.sns.Topic(f"r{i:04d}")
'''
TARGET_RATIO = 1.5
ROOT_STACK = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Variant:
    """One N-model prod plan, ready to time: its config and the shared stack's outputs it references."""

    models: int
    program_dir: Path
    project: str
    config: dict[str, str]
    secret_keys: tuple[str, ...]
    stack_references: dict[str, dict[str, Any]]


@dataclass
class Timing:
    """Wall seconds of one timed run, and how much of it the garbage collector took."""

    seconds: float
    gc_seconds: float
    full_collections: int


@dataclass
class Row:
    """Measured figures for one N."""

    models: int
    resources: int
    real: list[Timing] = field(default_factory=list)
    floor: list[Timing] = field(default_factory=list)
    typed: list[Timing] = field(default_factory=list)
    cold_s: float | None = None

    @staticmethod
    def _median(timings: list[Timing]) -> float:
        return statistics.median(t.seconds for t in timings)

    @property
    def real_s(self) -> float:
        return self._median(self.real)

    @property
    def floor_s(self) -> float:
        return self._median(self.floor)

    @property
    def typed_s(self) -> float:
        return self._median(self.typed)

    def ms_per_resource(self, seconds: float) -> float:
        return 1000 * seconds / self.resources

    @property
    def ratio(self) -> float:
        return self.real_s / self.floor_s

    @property
    def real_gc_share(self) -> float:
        return statistics.median(t.gc_seconds / t.seconds for t in self.real)

    def summary(self) -> dict[str, Any]:
        return {
            "models": self.models, "resources": self.resources, "cold_first_run_s": self.cold_s,
            "real_median_s": self.real_s, "floor_median_s": self.floor_s, "typed_floor_median_s": self.typed_s,
            "real_ms_per_resource": self.ms_per_resource(self.real_s),
            "floor_ms_per_resource": self.ms_per_resource(self.floor_s),
            "typed_floor_ms_per_resource": self.ms_per_resource(self.typed_s),
            "ratio_real_floor": self.ratio, "ratio_real_typed_floor": self.real_s / self.typed_s,
            "real_gc_share": self.real_gc_share,
            "samples": {"real": [asdict(t) for t in self.real], "floor": [asdict(t) for t in self.floor],
                        "typed_floor": [asdict(t) for t in self.typed]},
        }


class _GcClock:
    """Adds up the collector's pauses while installed (gc.callbacks run on the collecting thread, any thread)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full_collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full_collections += info["generation"] == 2


GC_MODE = "on"
"""`--gc`: 'on' (as the runner is), 'freeze' or 'off' during each run, to try a runner-side collector policy."""


def _timed(work: Callable[[], PlanResult]) -> tuple[Timing, PlanResult]:
    gc.collect()
    clock = _GcClock()
    gc.callbacks.append(clock)
    if GC_MODE == "freeze":
        gc.freeze()
    elif GC_MODE == "off":
        gc.disable()
    try:
        start = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
        gc.unfreeze()
        gc.callbacks.remove(clock)
    return Timing(seconds, clock.seconds, clock.full_collections), result


def registered(result: PlanResult) -> int:
    """Resources a run registered, the root stack excluded (the floors have one of their own)."""
    return sum(1 for r in result.resources if r.type != ROOT_STACK)


def _with_models(config: dict[str, str], n: int) -> dict[str, str]:
    """`config` with `mlops:models` replaced by N copies (m001..) of its churn model."""
    models = json.loads(config["mlops:models"])
    template = models[TEMPLATE_MODEL]
    return {**config, "mlops:models": json.dumps({f"m{i:03d}": template for i in range(1, n + 1)})}


def build_variant(n: int, program_dir: Path | None = None) -> Variant:
    """The prod stack with N SageMaker models, its shared stack planned (untimed) with N matching models."""
    shared = load_stack(PROJECT_ROOT, SHARED)
    shared_result = plan_program(
        shared.program_dir, shared.project, SHARED, _with_models(shared.config, n), shared.secret_keys
    )
    prod = load_stack(PROJECT_ROOT, PROD)
    config = _with_models(prod.config, n)
    deploys = {m["deploy"]["target"] for m in json.loads(config["mlops:models"]).values()}
    assert deploys == {"sagemaker"}, deploys
    return Variant(
        models=n,
        program_dir=program_dir or prod.program_dir,
        project=prod.project,
        config=config,
        secret_keys=prod.secret_keys,
        stack_references={config["mlops:sharedStack"]: dict(shared_result.outputs)},
    )


def run_real(variant: Variant) -> tuple[Timing, PlanResult]:
    return _timed(lambda: plan_program(
        variant.program_dir, variant.project, PROD, variant.config, variant.secret_keys, variant.stack_references
    ))


def run_floor(floor_dir: Path, count: int) -> tuple[Timing, PlanResult]:
    return _timed(lambda: plan_program(floor_dir, FLOOR_PROJECT, "bench", {FLOOR_COUNT_KEY: str(count)}))


def cold_first_run(variant: Variant) -> float:
    """Seconds of the first prod plan in a fresh interpreter (this script re-run in `--cold-probe` mode)."""
    with tempfile.TemporaryDirectory(prefix="plan-scaling-cold-") as tmp:
        spec = Path(tmp) / "variant.json"
        spec.write_text(json.dumps({**asdict(variant), "program_dir": str(variant.program_dir)}))
        command = [sys.executable, __file__, "--gc", GC_MODE, "--cold-probe", str(spec)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def _cold_probe(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    variant = Variant(**{**spec, "program_dir": Path(spec["program_dir"]), "secret_keys": tuple(spec["secret_keys"])})
    timing, result = run_real(variant)
    print(json.dumps({"seconds": timing.seconds, "resources": registered(result)}))


def profile_run(variant: Variant, top: int) -> str:
    """cProfile one warm prod plan, on the runner's plan thread only (not the SDK's executor threads).

    cProfile clocks wall time, so a collector pause is charged to whichever function allocated at that moment.
    """
    profiler = cProfile.Profile()

    def on_new_thread(*_: object) -> None:
        sys.setprofile(None)
        if threading.current_thread().name == "offline-plan":
            profiler.enable()

    run_real(variant)  # warm
    threading.setprofile(on_new_thread)
    try:
        timing, _ = run_real(variant)
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    buffer = io.StringIO()
    buffer.write(
        f"# cProfile of one {variant.models}-model prod plan: {timing.seconds:.2f} s profiled, of which "
        f"{timing.gc_seconds:.2f} s in the garbage collector ({timing.full_collections} full collections)\n"
    )
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buffer.getvalue()


def scaling_exponent(a: Row, b: Row) -> float:
    """k in time ~ resources**k between two sizes: 1.0 is linear, 2.0 quadratic."""
    return math.log(b.real_s / a.real_s) / math.log(b.resources / a.resources)


def markdown_table(rows: list[Row]) -> str:
    base = rows[0]
    lines = [
        "| models | resources | real s | floor s | real ms/res | floor ms/res | **real / floor** "
        f"| typed floor ms/res | real / typed | GC share (real) | ms/res vs N={base.models} "
        "| k (t ~ res^k) | cold first run s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base_ms = base.ms_per_resource(base.real_s)
    for i, row in enumerate(rows):
        exponent = f"{scaling_exponent(rows[i - 1], row):.2f}" if i else "-"
        cold = f"{row.cold_s:.2f}" if row.cold_s is not None else "-"
        real_ms = row.ms_per_resource(row.real_s)
        lines.append(
            f"| {row.models} | {row.resources} | {row.real_s:.3f} | {row.floor_s:.3f} | {real_ms:.2f} "
            f"| {row.ms_per_resource(row.floor_s):.2f} | **{row.ratio:.2f}x** | {row.ms_per_resource(row.typed_s):.2f} "
            f"| {row.real_s / row.typed_s:.2f}x | {row.real_gc_share:.0%} | {real_ms / base_ms:.2f}x "
            f"| {exponent} | {cold} |"
        )
    return "\n".join(lines)


def assessment(rows: list[Row]) -> list[str]:
    worst = max(rows, key=lambda r: r.ratio)
    first, last = rows[0], rows[-1]
    growth = last.ms_per_resource(last.real_s) / first.ms_per_resource(first.real_s)
    floor_growth = last.ms_per_resource(last.floor_s) / first.ms_per_resource(first.floor_s)
    exponents = [scaling_exponent(a, b) for a, b in zip(rows, rows[1:], strict=False)]
    return [
        f"within {TARGET_RATIO}x of the floor: {'yes' if worst.ratio <= TARGET_RATIO else 'NO'} "
        f"(worst {worst.ratio:.2f}x at {worst.models} models)",
        f"linear: ms/resource grows {growth:.2f}x from {first.models} to {last.models} models "
        f"(floor: {floor_growth:.2f}x); k between sizes: {', '.join(f'{e:.2f}' for e in exponents) or '-'}",
    ]


def environment() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pulumi": version("pulumi"),
        "pulumi_aws": version("pulumi_aws"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "infra_dirty": bool(_git("status", "--porcelain", "--", "infra", "stacks", "Pulumi.yaml")),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def measure(variants: list[Variant], reps: int, colds: dict[int, float]) -> list[Row]:
    """Warm every variant once, then `reps` interleaved rounds of real / floor / typed floor (order rotating)."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="plan-scaling-floor-") as tmp:
        floor_dir, typed_dir = Path(tmp, "floor"), Path(tmp, "typed")
        for directory, program in ((floor_dir, FLOOR_PROGRAM), (typed_dir, TYPED_FLOOR_PROGRAM)):
            directory.mkdir()
            (directory / "__main__.py").write_text(program)
        for variant in variants:  # warm-up, and the resource count the floors must match
            _, result = run_real(variant)
            count = registered(result)
            for directory in (floor_dir, typed_dir):
                assert registered(run_floor(directory, count)[1]) == count
            rows.append(Row(variant.models, count, cold_s=colds.get(variant.models)))
        kinds = ["real", "floor", "typed"]
        for rep in range(reps):
            for variant, row in zip(variants, rows, strict=True):
                for kind in kinds[rep % 3:] + kinds[:rep % 3]:
                    if kind == "real":
                        timing, result = run_real(variant)
                        assert registered(result) == row.resources
                        row.real.append(timing)
                    elif kind == "floor":
                        row.floor.append(run_floor(floor_dir, row.resources)[0])
                    else:
                        row.typed.append(run_floor(typed_dir, row.resources)[0])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--models", default="1,10,50", help="comma-separated model counts (default 1,10,50)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per N and kind (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures and raw samples as JSON ('-': stdout)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold first runs (fresh interpreters)")
    parser.add_argument("--profile", type=int, metavar="N", help="after the table, cProfile one warm N-model run")
    parser.add_argument("--program", type=Path, help="program dir to plan instead of infra/ (e.g. a candidate fix)")
    parser.add_argument("--gc", choices=["on", "freeze", "off"], default="on",
                        help="collector during each timed run, real and floors alike (default on, as the runner)")
    parser.add_argument("--cold-probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global GC_MODE
    GC_MODE = args.gc
    if args.cold_probe:
        _cold_probe(args.cold_probe)
        return 0

    started = time.perf_counter()
    counts = sorted({int(n) for n in args.models.split(",")})
    variants = [build_variant(n, args.program) for n in counts]
    colds = {} if args.no_cold else {v.models: cold_first_run(v) for v in variants}
    rows = measure(variants, args.reps, colds)
    elapsed = time.perf_counter() - started

    env = environment()
    print(f"Offline plan scaling, prod stack ({args.program or 'infra/'}), gc {args.gc}, medians of {args.reps} reps, "
          f"{env['date']}, "
          f"{env['nproc']} cores, Python {env['python']}, pulumi {env['pulumi']}, pulumi_aws {env['pulumi_aws']}, "
          f"commit {env['commit']}{' + uncommitted infra/ changes' if env['infra_dirty'] else ''}\n")
    print(markdown_table(rows))
    print()
    for line in assessment(rows):
        print(f"- {line}")
    print(f"\nbenchmark time: {elapsed:.1f} s")

    if args.json:
        document = {
            "environment": env, "reps": args.reps, "program": str(args.program or "infra/"), "gc": args.gc,
            "elapsed_s": elapsed,
            "floor": "pulumi.CustomResource('test:index:Trivial', f'r{i:04d}', {'value': i}) x resources",
            "typed_floor": "aws.sns.Topic(f'r{i:04d}') x resources",
            "rows": [row.summary() for row in rows], "assessment": assessment(rows),
        }
        text = json.dumps(document, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")

    if args.profile:
        print()
        print(profile_run(build_variant(args.profile, args.program), top=25))
    return 0


if __name__ == "__main__":
    sys.exit(main())
