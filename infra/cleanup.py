"""Delete old generations of endpoint configurations and models that `pulumi up` retained.

Why they are retained: `pulumi up` returns as soon as an endpoint is InService, even when SageMaker rolled the
release back to the previous configuration, and it would then delete that previous configuration, leaving the
endpoint on a configuration that no longer exists (and unable to roll back again). So the program declares
endpoint configurations and models with `retain_on_delete`; Pulumi forgets them instead of deleting them, and
this tool removes the ones no endpoint can return to:

- it keeps every configuration an endpoint uses now or is deploying to, the `--keep` newest other ones
  (at least 1, so the one the last `pulumi up` made is never deleted), and every model those configurations
  name;
- it deletes the other configurations and models of this stack's served models, found by the names
  `infra.core.naming.Naming` gives them and confirmed by their `model` tag;
- it leaves a model alone while its endpoint is updating or rolling back.

Usage: `python -m infra.cleanup --stack prod [--keep 2] [--dry-run] [--format json]`. Credentials come from
the usual AWS chain (CI uses the stack's deploy role); `AWS_ENDPOINT_URL` points it at an emulator.
Exit codes (`infra.cli`): 0 done (or nothing to do); 2 bad input, or an AWS call refused or unreachable (no
verdict: nothing is judged here, so this tool never exits 1).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.cli import EXIT_ERROR, EXIT_OK, add_format_option
from infra.config import ConfigError, parse_stack_config
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT

_DIGEST = "ffffffffff"
_VERSION = 987654321
_SETTLED = {"InService", "Failed", "OutOfService"}


@dataclass
class ModelCleanup:
    """What the tool decided for one served model."""

    model: str
    endpoint: str
    endpoint_status: str | None
    in_use: list[str] = field(default_factory=list)
    keep_configs: list[str] = field(default_factory=list)
    delete_configs: list[str] = field(default_factory=list)
    keep_models: list[str] = field(default_factory=list)
    delete_models: list[str] = field(default_factory=list)
    skipped: str | None = None


def config_pattern(naming: Naming, model: str) -> re.Pattern[str]:
    """Every endpoint configuration name `Naming.endpoint_config` gives this model, whatever the digest."""
    return re.compile(re.escape(naming.endpoint_config(model, _DIGEST)).replace(_DIGEST, "[0-9a-f]{10}") + "$")


def model_pattern(naming: Naming, model: str) -> re.Pattern[str]:
    """Every SageMaker model name `Naming.sagemaker_model` gives this model (primary or shadow, any version)."""
    templates = [naming.sagemaker_model(model, _VERSION, _DIGEST, variant) for variant in ("", "shadow")]
    alternatives = [re.escape(t).replace(str(_VERSION), "[0-9]+").replace(_DIGEST, "[0-9a-f]{10}") for t in templates]
    return re.compile("(?:" + "|".join(alternatives) + ")$")


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page[key]


def _tagged_for(client: Any, arn: str, model: str) -> bool:
    tags = {t["Key"]: t["Value"] for t in _paged(client, "list_tags", "Tags", ResourceArn=arn)}
    return tags.get("model") == model


def _endpoint(client: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return client.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFound"):
            return None
        raise


def plan_model(client: Any, naming: Naming, model: str, keep: int) -> ModelCleanup:
    """Decide, without deleting anything, which configurations and models of `model` go."""
    endpoint_name = naming.endpoint(model)
    endpoint = _endpoint(client, endpoint_name)
    status = endpoint.get("EndpointStatus") if endpoint else None
    result = ModelCleanup(model, endpoint_name, status)
    if endpoint is not None and status not in _SETTLED:
        result.skipped = f"endpoint {endpoint_name} is {status}; a rollback may still need any configuration"
        return result
    if endpoint is not None:
        pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        result.in_use = sorted({endpoint["EndpointConfigName"], *([pending] if pending else [])})
    pattern = config_pattern(naming, model)
    configs = sorted(
        (c for c in _paged(client, "list_endpoint_configs", "EndpointConfigs", NameContains=naming.endpoint(model))
         if pattern.match(c["EndpointConfigName"]) and _tagged_for(client, c["EndpointConfigArn"], model)),
        key=lambda c: c["CreationTime"], reverse=True,
    )
    newest = [c["EndpointConfigName"] for c in configs if c["EndpointConfigName"] not in result.in_use][:keep]
    kept = set(result.in_use) | set(newest)
    result.keep_configs = sorted(kept)
    result.delete_configs = sorted(c["EndpointConfigName"] for c in configs if c["EndpointConfigName"] not in kept)
    referenced: set[str] = set()
    for name in kept:
        referenced |= referenced_models(client.describe_endpoint_config(EndpointConfigName=name))
    models = [m for m in _paged(client, "list_models", "Models", NameContains=naming.endpoint(model))
              if model_pattern(naming, model).match(m["ModelName"]) and _tagged_for(client, m["ModelArn"], model)]
    result.keep_models = sorted(m["ModelName"] for m in models if m["ModelName"] in referenced)
    result.delete_models = sorted(m["ModelName"] for m in models if m["ModelName"] not in referenced)
    return result


def referenced_models(described: dict[str, Any]) -> set[str]:
    """The models a DescribeEndpointConfig answer names: production and shadow variants alike."""
    variants = [*described.get("ProductionVariants", []), *described.get("ShadowProductionVariants", [])]
    return {v["ModelName"] for v in variants if v.get("ModelName")}


def apply(client: Any, plan: ModelCleanup) -> None:
    """Delete configurations first (they name the models), then the models."""
    for name in plan.delete_configs:
        client.delete_endpoint_config(EndpointConfigName=name)
    for name in plan.delete_models:
        client.delete_model(ModelName=name)


def render(plans: list[ModelCleanup], dry_run: bool) -> str:
    verb = "would delete" if dry_run else "deleted"
    lines = []
    for plan in plans:
        if plan.skipped:
            lines.append(f"{plan.model}: skipped: {plan.skipped}")
            continue
        lines.append(f"{plan.model}: endpoint {plan.endpoint} ({plan.endpoint_status or 'absent'}) uses "
                     f"{', '.join(plan.in_use) or 'nothing'}")
        lines += [f"  keep   {name}" for name in plan.keep_configs + plan.keep_models]
        lines += [f"  {verb} {name}" for name in plan.delete_configs + plan.delete_models]
    return "\n".join(lines)


def _load(project_dir: Path, stack: str) -> tuple[str, Naming, list[str]]:
    from infra.plan.project import ProjectError, load_stack

    try:
        stack_input = load_stack(project_dir, stack)
        config = parse_stack_config(stack_input.config)
    except (ProjectError, ConfigError) as exc:
        raise ValueError(str(exc)) from None
    return config.region, Naming(project=stack_input.project, stack=stack), sorted(config.sagemaker_models())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cleanup", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the environment stack, e.g. prod")
    parser.add_argument("--keep", type=int, default=2, help="newest unused configurations to keep (>= 1)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be deleted, delete nothing")
    add_format_option(parser)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT)
    args = parser.parse_args(argv)
    if args.keep < 1:
        print("infra.cleanup: --keep must be at least 1 (the configuration the last `pulumi up` made)",
              file=sys.stderr)
        return EXIT_ERROR
    try:
        region, naming, models = _load(args.project_dir, args.stack)
    except ValueError as exc:
        print(f"infra.cleanup: {exc}", file=sys.stderr)
        return EXIT_ERROR
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("sagemaker", region_name=region)
    try:
        plans = [plan_model(client, naming, model, args.keep) for model in models]
        if not args.dry_run:
            for plan in plans:
                apply(client, plan)
    except (BotoCoreError, ClientError) as exc:
        print(f"infra.cleanup: AWS refused: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps({"stack": args.stack, "dryRun": args.dry_run, "models": [asdict(p) for p in plans]},
                         indent=2, sort_keys=True))
    else:
        print(render(plans, args.dry_run) or f"{args.stack}: no SageMaker endpoints")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
