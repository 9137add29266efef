"""The overlays of SageMaker-by-pull models (`gitops/<env>/<model>/` over `gitops/base/sagemaker-endpoint`):
their generated files, and whether the rendered objects say what the stack config says.

`infra.manifests` calls these for an overlay whose model has `target: sagemaker, delivery: pull`; the objects
themselves are defined once, in `infra.core.ack.expected_objects`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.config import SageMakerDeploy, StackConfig, parse_stack_config
from infra.core import ack
from infra.core.arns import Arns, partition_of
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests import objects
from infra.manifests.objects import region_problems
from infra.manifests.overlays import generated_yaml, kustomization_text
from infra.plan.project import load_stack

BASE = "sagemaker-endpoint"
MONITOR_BASE = "sagemaker-monitor"
PATCH_FILES = {"Model": "model-patch.yaml", "EndpointConfig": "endpointconfig-patch.yaml",
               "Endpoint": "endpoint-patch.yaml", "DataQualityJobDefinition": "dataqualityjobdefinition-patch.yaml",
               "MonitoringSchedule": "monitoringschedule-patch.yaml"}
REPLACEMENTS_FILE = "release-replacements.yaml"
CAPTURE_KEY_LINE = re.compile(r"^\s*- CAPTURE_KMS_KEY_ARN=(\S+)\s*$", re.MULTILINE)
KMS_KEY_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/[0-9a-f-]{36}$")


class OverlayError(Exception):
    """An overlay file that cannot be read as expected; the message names the file and the cause."""


def is_pull_overlay(directory: Path) -> bool:
    """Whether the overlay builds on gitops/base/sagemaker-endpoint (rather than the model server)."""
    return f"base/{BASE}" in kustomization_text(directory)


def capture_key(directory: Path) -> str:
    """The shared key ARN on the overlay's `CAPTURE_KMS_KEY_ARN=` line (empty when the line is absent)."""
    found = CAPTURE_KEY_LINE.findall(kustomization_text(directory))
    if len(found) > 1:
        raise OverlayError(f"{directory}/kustomization.yaml: more than one CAPTURE_KMS_KEY_ARN line")
    return found[0] if found else ""


def facts(config: StackConfig, directory: Path, project_root: Path = PROJECT_ROOT) -> ack.PullFacts:
    """What the overlay needs beyond the environment's stack config: the shared stack's account and region
    (from its stack file) and the shared key's ARN (from the overlay's own line)."""
    shared = parse_stack_config(load_stack(project_root, Naming.of_stack(config.shared_stack).stack).config)
    if not config.account_id or not shared.account_id:
        raise OverlayError("SageMaker by pull needs accountId in the environment's and the shared stack file")
    for region in {config.region, shared.region}:
        try:
            partition_of(region)
        except ValueError as exc:
            raise OverlayError(str(exc)) from None
    model = directory.name
    training = shared.trained_models().get(model)
    return ack.PullFacts(environment=config.environment, region=config.region, account_id=config.account_id,
                         shared_account_id=shared.account_id, shared_region=shared.region,
                         capture_kms_key_arn=capture_key(directory), shared_stack=config.shared_stack,
                         owner=config.owner, cost_center=config.cost_center,
                         monitor_image_tag=training.serving_image_tag if training else "",
                         subnet_ids=tuple(config.network.subnet_ids),
                         security_group_ids=tuple(config.network.security_group_ids))


def generated_files(environment: str, model: str, naming: Naming, deploy: SageMakerDeploy,
                    pull: ack.PullFacts) -> dict[str, str]:
    """File name -> content of the overlay's generated files (a JSON patch per object, the version replacements)."""
    try:
        objects = ack.expected_objects(naming, model, deploy, pull)
    except ValueError as exc:
        raise OverlayError(str(exc)) from None
    files = {PATCH_FILES[kind]: generated_yaml(environment, model, ops, width=120)
             for kind, ops in ack.patch_operations(objects).items()}
    files[REPLACEMENTS_FILE] = generated_yaml(environment, model, ack.version_replacements(objects), width=120)
    return files


def disagreements(where: str, manifests: Sequence[dict[str, Any]], naming: Naming, model: str,
                  deploy: SageMakerDeploy, pull: ack.PullFacts, version: int) -> list[str]:
    """Where the rendered ACK objects differ from those the stack config implies; empty when they agree."""
    problems = []
    if deploy.data_capture_percent:
        shared_key = Arns.for_region(pull.shared_region, pull.shared_account_id).kms("key/<id>")
        match = KMS_KEY_ARN.match(pull.capture_kms_key_arn)
        if match is None or (match["partition"], match["region"], match["account"]) != (
                partition_of(pull.shared_region), pull.shared_region, pull.shared_account_id):
            problems.append(f"{where}: CAPTURE_KMS_KEY_ARN must be the shared stack's key ARN "
                            f"({shared_key}); got "
                            f"{pull.capture_kms_key_arn or 'no such line'}")
    try:
        expected = ack.with_version(ack.expected_objects(naming, model, deploy, pull), version)
    except ValueError as exc:
        return [*problems, f"{where}: {exc}"]
    kinds = sorted(str(m.get("kind", "?")) for m in manifests)
    if kinds != sorted(expected):
        monitor = (f" and, with monitoring, {' and '.join(ack.MONITOR_KINDS)} (resource ../../base/{MONITOR_BASE})"
                   if set(ack.MONITOR_KINDS) <= set(expected) else "")
        return [*problems, f"{where}: expected exactly one Model, EndpointConfig and Endpoint{monitor}; "
                           f"rendered {kinds}"]
    namespace = naming.model_namespace(model)
    problems += region_problems(where, manifests, pull.region)
    for manifest in manifests:
        kind, metadata = manifest["kind"], objects.metadata(manifest)
        want = expected[kind]
        if metadata.get("name") != want["name"]:
            problems.append(f"{where}: {kind} is named {metadata.get('name')!r}, not {want['name']!r}")
        if manifest.get("spec") != want["spec"]:
            problems.append(f"{where}: {kind} spec differs from the stack config's; run "
                            "`python -m infra.manifests --write-patches` and review the diff")
        if metadata.get("namespace") != namespace:
            problems.append(f"{where}: {kind} is in namespace {metadata.get('namespace')!r}, not {namespace!r}")
    return problems

