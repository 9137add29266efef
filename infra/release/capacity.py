"""`live-capacity`: the live instance count of each autoscaled SageMaker endpoint a stack delivers by push, as the
config that `pulumi up` starts the next release at (`mlops:liveInstanceCounts`).

The Pulumi provider cannot send `RetainAllVariantProperties` with UpdateEndpoint, so a blue/green release would
provision its green fleet at the configuration's `instanceCount`, whatever autoscaling has raised the live count
to. deploy.yml runs this command before `pulumi up` and hands its `configMap` to the Pulumi action's `config-map`
input; the program then starts the release at that count, bounded by [instanceCount, autoscaling.maxCapacity]
(see `SageMakerDeploy.release_instance_count`). An endpoint that does not exist yet (the first deploy) has no
live count and is left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.core.serving import VARIANT
from infra.release import stacks
from infra.release.aws import Aws, expect
from infra.release.errors import AwsError, UsageError
from infra.release.outcome import Outcome

CONFIG_KEY = "mlops:liveInstanceCounts"


def run(project_dir: Path, stack: str) -> Outcome:
    target = stacks.load(project_dir, stack)
    if target.config.kind != "environment":
        raise UsageError(f"--stack {stack}: the shared stack has no endpoints; read an environment stack")
    aws = Aws(target.config.region)
    counts: dict[str, int] = {}
    out = Outcome("live-capacity", data={"stack": stack})
    for model, deploy in sorted(target.config.sagemaker_models().items()):
        if deploy.delivery != "push" or deploy.autoscaling is None:
            continue
        name = target.naming.endpoint(model)
        try:
            live = aws.call("sagemaker", "describe_endpoint", f"endpoint {name}", read=_primary_count,
                            EndpointName=name)
        except AwsError as exc:
            if exc.code == "ValidationException" and "not find" in str(exc).lower():
                out.say(f"{model}: endpoint {name} does not exist yet; the release starts at instanceCount "
                        f"{deploy.instance_count}")
                continue
            raise
        if live is None:
            out.say(f"{model}: endpoint {name} reports no live instance count; the release starts at instanceCount")
            continue
        counts[model] = live
        start = deploy.at_live_count(live).release_instance_count()
        out.say(f"{model}: {live} live instance(s) on {name}; the release starts at {start} (instanceCount "
                f"{deploy.instance_count}, maxCapacity {deploy.autoscaling.max_capacity})")
    if not counts:
        out.say(f"stack {stack}: no autoscaled endpoint with a live count; nothing to pass")
    out.data["counts"] = counts
    out.data["configMap"] = config_map(counts)
    return out


def config_map(counts: dict[str, int]) -> str:
    """The Pulumi action's `config-map` input (YAML; JSON is YAML): empty when there is nothing to pass."""
    if not counts:
        return ""
    return json.dumps({CONFIG_KEY: {"value": json.dumps(counts, sort_keys=True), "secret": False}},
                      separators=(",", ":"))


def _primary_count(answer: dict[str, Any]) -> int | None:
    """The primary variant's CurrentInstanceCount in a DescribeEndpoint answer (None while it has none)."""
    for variant in expect(answer, "ProductionVariants", list, required=False) or []:
        if expect(variant, "VariantName") == VARIANT:
            count = expect(variant, "CurrentInstanceCount", int, required=False)
            if count is not None and count < 0:
                raise ValueError(f"CurrentInstanceCount {count} is negative")
            return count
    return None
