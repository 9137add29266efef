"""Assembles one model's SageMaker Pipeline definition (JSON) from its steps, offline."""

from __future__ import annotations

import json
from typing import Any

from infra.core.pipeline import steps
from infra.core.pipeline.sandbox import offline_sdk
from infra.core.pipeline.spec import PipelineSpec


def build_pipeline_definition(spec: PipelineSpec) -> str:
    """Return the pipeline definition JSON for ``spec``, built without any network access.

    The output is canonical JSON (sorted keys, compact separators) so that the same spec gives byte-identical
    output across calls and processes; Pulumi diffs the string, and any spurious difference would show up as
    a pipeline update on every ``pulumi up``.
    """
    with offline_sdk(spec.region, spec.default_bucket) as (sdk, session):
        raw = _pipeline(steps.StepContext.create(sdk, session, spec)).definition()
    return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _pipeline(ctx: steps.StepContext) -> Any:
    """Preprocess -> (Train, Baseline) -> Evaluate [-> LogExperiment] -> CheckMetricGate -> (Register | GateFailed).

    LogExperiment exists only with experiment logging configured; it logs every candidate, also one the gate
    rejects, and Register then stores the report that links the run."""
    preprocess = steps.preprocess_step(ctx)
    train = steps.train_step(ctx, preprocess)
    baseline = steps.baseline_step(ctx, preprocess)
    report = steps.evaluation_report(ctx)
    evaluate = steps.evaluate_step(ctx, preprocess, train, report)
    logged = [steps.log_experiment_step(ctx, evaluate)] if ctx.spec.experiment_logging else []
    register = steps.register_step(ctx, train, evaluate, baseline, *logged)
    gate = steps.gate_step(ctx, report, register, steps.gate_failed_step(ctx))
    return ctx.sdk.Pipeline(
        name=ctx.spec.pipeline_name,
        parameters=ctx.parameters,
        steps=[preprocess, train, baseline, evaluate, *logged, gate],
        sagemaker_session=ctx.session,
        # No implicit SageMaker Experiment/trial per execution; its default also depends on region.
        pipeline_experiment_config=None,
    )
