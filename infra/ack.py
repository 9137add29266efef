"""SageMaker by pull: what the ACK SageMaker controller is given, pure (strings and dicts in and out).

A model with `deploy.target: sagemaker` and `delivery: pull` is served by ACK objects (`Model`,
`EndpointConfig`, `Endpoint`, `sagemaker.services.k8s.aws/v1alpha1`) that Argo CD syncs from
`gitops/<env>/<model>/`. This module holds everything about them that must agree between the program, the
overlays and CI, so that each is written once:

- `expected_objects`: the three objects the stack config implies, for `python -m infra.manifests
  --write-patches` to write into the overlay's generated patch, and for CI to compare with the rendered overlay.
  ACK cannot update a `Model` or an `EndpointConfig`, so their names carry a digest of their content and, last,
  the package version (`...-v<n>`): a release makes new ones and the `Endpoint` switches `endpointConfigName`.
  The version comes from the overlay's promotion line through Kustomize replacements (`version_replacements`),
  so promotion stays one line while the digest covers everything else.
- `sagemaker_view`: the ONE adapter from an ACK object to the inputs the policy pack's SageMaker rules read
  (the `aws:sagemaker/*` shapes of the push path), so CI judges Git with the same rule code.
- `controller_values`, `controller_statements`: the controller's chart values and least-privilege IAM.
- `ARGOCD_RESOURCE_CUSTOMIZATIONS`: how Argo CD judges ACK health (`ACK.ResourceSynced`) and which fields the
  controller writes back (ignored in diffs).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from infra.config import SageMakerDeploy
from infra.naming import Naming, model_tags, stack_tags
from infra.rollout import describe_steps

API_VERSION = "sagemaker.services.k8s.aws/v1alpha1"
GROUP = "sagemaker.services.k8s.aws"
KINDS = ("Model", "EndpointConfig", "Endpoint")
"""The ACK kinds a pulled endpoint's directory holds; Argo CD's project allows exactly these (and no others)."""
CHART = "oci://public.ecr.aws/aws-controllers-k8s/sagemaker-chart"
CHART_VERSION = "1.9.1"
"""The controller's chart (app 1.9.1, ACK runtime v0.62.0); tests/gitops/crds/ holds its CRDs."""
NAMESPACE = "ack-system"
SERVICE_ACCOUNT = "ack-sagemaker-controller"
"""The chart's service account; the controller's IRSA trust names exactly it."""
VARIANT = "AllTraffic"
VERSION_PLACEHOLDER = "VERSION"
"""Stands for the package version in the generated patch; the promotion line replaces it when rendering."""
_ROUTING_TYPE = {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}


@dataclass(frozen=True)
class PullFacts:
    """What an overlay needs that the environment's stack config alone does not say."""

    environment: str
    region: str
    account_id: str
    shared_account_id: str
    shared_region: str
    capture_kms_key_arn: str
    """The shared stack's key (`pulumi stack output kms_key_arn -s shared`): captured data is written with it."""
    owner: str = "ml-platform"
    cost_center: str = "ml-0000"


def digest(content: Any) -> str:
    """A short stable digest of an object's content (without the version), for its immutable name."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10]


def _tags(naming: Naming, model: str, facts: PullFacts, extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    tags = {**stack_tags(stack=naming.stack, environment=facts.environment, owner=facts.owner,
                         cost_center=facts.cost_center), **model_tags(model), **(extra or {})}
    tags["managed-by"] = "argocd-ack"
    del tags["pulumi-stack"]  # Not Pulumi's: the deploy role's tag-scoped rights must not reach these.
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def expected_objects(naming: Naming, model: str, deploy: SageMakerDeploy, facts: PullFacts) -> dict[str, dict]:
    """kind -> {"name": ..., "spec": ...} of the three ACK objects, with VERSION where the version goes."""
    shared = Naming(naming.project, "shared")
    package = (f"arn:aws:sagemaker:{facts.shared_region}:{facts.shared_account_id}:model-package/"
               f"{shared.package_group(model)}/{VERSION_PLACEHOLDER}")
    model_spec: dict[str, Any] = {
        "executionRoleARN": f"arn:aws:iam::{facts.account_id}:role/{naming.serving_role(model)}",
        "primaryContainer": {"modelPackageName": package},
        "enableNetworkIsolation": True,
    }
    model_name = naming.pulled_model(model, digest(model_spec), VERSION_PLACEHOLDER)
    model_spec = {"modelName": model_name, **model_spec, "tags": _tags(naming, model, facts)}

    if deploy.serverless is not None:
        variant: dict[str, Any] = {"variantName": VARIANT, "modelName": model_name,
                                   "serverlessConfig": {"memorySizeInMB": deploy.serverless.memory_size_mb,
                                                        "maxConcurrency": deploy.serverless.max_concurrency}}
    else:
        variant = {"variantName": VARIANT, "modelName": model_name, "instanceType": deploy.instance_type,
                   "initialInstanceCount": deploy.release_instance_count(), "initialVariantWeight": 1}
    config_spec: dict[str, Any] = {"productionVariants": [variant]}
    if deploy.serverless is None:
        # The environment key, by alias ARN (same account): SageMaker accepts an alias for KmsKeyId.
        config_spec["kmsKeyID"] = f"arn:aws:kms:{facts.region}:{facts.account_id}:{naming.kms_alias()}"
    if deploy.data_capture_percent:
        bucket = shared.bucket("capture", facts.shared_account_id)
        config_spec["dataCaptureConfig"] = {
            "enableCapture": True,
            "initialSamplingPercentage": deploy.data_capture_percent,
            "destinationS3URI": f"s3://{bucket}/{Naming.capture_prefix(facts.environment, model)}",
            "kmsKeyID": facts.capture_kms_key_arn,
            "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
            "captureContentTypeHeader": {"csvContentTypes": ["text/csv"], "jsonContentTypes": ["application/json"]},
        }
    config_name = naming.pulled_endpoint_config(model, digest(config_spec), VERSION_PLACEHOLDER)
    config_spec = {"endpointConfigName": config_name, **config_spec, "tags": _tags(naming, model, facts)}

    endpoint_spec: dict[str, Any] = {"endpointName": naming.endpoint(model), "endpointConfigName": config_name}
    extra_tags = {}
    if deploy.serverless is None:
        rollout, steps = deploy.rollout, deploy.traffic_steps()
        routing: dict[str, Any] = {"type_": _ROUTING_TYPE[rollout.strategy],
                                   "waitIntervalInSeconds": rollout.wait_seconds}
        if rollout.strategy != "all-at-once":
            size = {"type_": "INSTANCE_COUNT", "value": steps[0].instances}
            routing["canarySize" if rollout.strategy == "canary" else "linearStepSize"] = size
        endpoint_spec["deploymentConfig"] = {
            "blueGreenUpdatePolicy": {
                "trafficRoutingConfiguration": routing,
                "terminationWaitInSeconds": rollout.termination_wait_seconds,
                "maximumExecutionTimeoutInSeconds": rollout.max_execution_seconds,
            },
            # The alarms are Pulumi's (SageMakerEndpoint declares them for both deliveries); only names go here.
            "autoRollbackConfiguration": {"alarms": [{"alarmName": naming.alarm(model, signal)}
                                                     for signal in ALARM_SIGNALS]},
        }
        extra_tags = {"release-instance-count": str(deploy.release_instance_count()),
                      "traffic-steps": describe_steps(steps)}
    endpoint_spec["tags"] = _tags(naming, model, facts, extra_tags)
    return {
        "Model": {"name": model_name, "spec": model_spec},
        "EndpointConfig": {"name": config_name, "spec": config_spec},
        "Endpoint": {"name": naming.endpoint(model), "spec": endpoint_spec},
    }


ALARM_SIGNALS = ("5xx-errors", "model-errors", "latency-p99")
"""The rollback alarms of an endpoint, in the order SageMakerEndpoint declares them."""


def with_version(objects: dict[str, dict], version: int) -> dict[str, dict]:
    """The objects as the overlay renders them once the promotion line says `version`."""
    text = json.dumps(objects).replace(f"-v{VERSION_PLACEHOLDER}", f"-v{version}")
    return json.loads(text.replace(f"/{VERSION_PLACEHOLDER}", f"/{version}"))


def version_replacements(objects: dict[str, dict]) -> list[dict[str, Any]]:
    """Kustomize replacements that carry the promotion line's version into every place it belongs.

    A replacement with a delimiter splits the target string and replaces one part: names end in `-v<n>`, so the
    part after the last `-v` is the version; the package ARN ends in `/<n>`.
    """
    def suffix(name: str) -> dict[str, Any]:
        return {"delimiter": "-v", "index": name.count("-v")}

    model, config = objects["Model"]["name"], objects["EndpointConfig"]["name"]
    return [{
        "source": {"kind": "ConfigMap", "name": "release", "fieldPath": "data.MODEL_PACKAGE_VERSION"},
        "targets": [
            {"select": {"kind": "Model"}, "fieldPaths": ["spec.primaryContainer.modelPackageName"],
             "options": {"delimiter": "/", "index": 2}},
            {"select": {"kind": "Model"}, "fieldPaths": ["metadata.name", "spec.modelName"], "options": suffix(model)},
            {"select": {"kind": "EndpointConfig"}, "fieldPaths": ["spec.productionVariants.0.modelName"],
             "options": suffix(model)},
            {"select": {"kind": "EndpointConfig"}, "fieldPaths": ["metadata.name", "spec.endpointConfigName"],
             "options": suffix(config)},
            {"select": {"kind": "Endpoint"}, "fieldPaths": ["spec.endpointConfigName"], "options": suffix(config)},
        ],
    }]


def patch_operations(objects: dict[str, dict]) -> dict[str, list[dict[str, Any]]]:
    """kind -> the JSON patch that turns the base's skeleton into this model's object."""
    return {kind: [{"op": "replace", "path": "/metadata/name", "value": o["name"]},
                   {"op": "replace", "path": "/spec", "value": o["spec"]}]
            for kind, o in objects.items()}


# -- the one adapter from ACK to the policy pack's SageMaker shapes ------------------------------------------------
SAGEMAKER_TYPES = {
    "Model": "aws:sagemaker/model:Model",
    "EndpointConfig": "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "Endpoint": "aws:sagemaker/endpoint:Endpoint",
}
_ACRONYM = re.compile(r"(ARN|URI|ID|MB)(s?)$")


def _key(key: str) -> str:
    """ACK's Go-style field names to the Pulumi provider's: `type_` -> `type`, `...ARN`/`URI`/`ID`/`MB` ->
    `...Arn`/`Uri`/`Id`/`Mb` (the provider camel-cases acronyms, ACK keeps them upper case)."""
    key = key.removesuffix("_")
    return _ACRONYM.sub(lambda m: m.group(1).capitalize() + m.group(2), key)


def _renamed(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def sagemaker_view(manifest: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The ONE adapter: an ACK object as (Pulumi type, inputs) in the shape `policies/rules/sagemaker.py` reads,
    or None for any other object.

    Field by field the ACK spec is the SageMaker API, as are the provider's inputs; only spelling differs
    (`_key`), plus three renames the provider makes: the resource's own name field becomes `name`, an endpoint
    configuration's top-level `kmsKeyId` is `kmsKeyArn`, and ACK 1.9.1 has no shadow variants (so
    `shadowProductionVariants` is absent, as in a push config without shadow).
    """
    if manifest.get("apiVersion") != API_VERSION or manifest.get("kind") not in SAGEMAKER_TYPES:
        return None
    kind = manifest["kind"]
    inputs = _renamed(manifest.get("spec") or {})
    own_name = {"Model": "modelName", "EndpointConfig": "endpointConfigName", "Endpoint": "endpointName"}[kind]
    inputs["name"] = inputs.pop(own_name, None)
    if kind == "EndpointConfig" and "kmsKeyId" in inputs:
        inputs["kmsKeyArn"] = inputs.pop("kmsKeyId")
    return SAGEMAKER_TYPES[kind], inputs


# -- the controller --------------------------------------------------------------------------------------------------
def controller_values(region: str, role_arn: Any) -> dict[str, Any]:
    """Chart values: this region, IRSA, only the three kinds reconciled, no cross-account or cross-namespace."""
    return {
        "aws": {"region": region},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                           "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        # Only what a pulled endpoint needs; the other 23 SageMaker kinds stay unreconciled.
        "reconcile": {"resources": list(KINDS)},
        # CARM would let an annotated namespace act in another account; nothing here needs it.
        "enableCARM": False,
        "enableCrossNamespace": False,
        # Deleting an Endpoint object deletes the endpoint (as `pulumi destroy` would); Model and EndpointConfig
        # objects carry `services.k8s.aws/deletion-policy: retain` in gitops/base/sagemaker-endpoint, because an
        # endpoint SageMaker rolled back stands on the previous configuration (as on the push path).
        "deletionPolicy": "delete",
        "resources": {"requests": {"memory": "64Mi", "cpu": "50m"}, "limits": {"memory": "128Mi", "cpu": "100m"}},
    }


def controller_statements(naming: Naming, region: str, account_id: str, models: list[str],
                          serving_role_arns: list[Any], kms_key_arn: Any) -> list[dict[str, Any]]:
    """The controller's policy: SageMaker calls on exactly the pulled models' names, PassRole of exactly their
    serving roles, and the KMS grant SageMaker makes on the environment key for the endpoint volumes."""
    arn, shared = f"arn:aws:sagemaker:{region}:{account_id}", Naming(naming.project, "shared")
    tag_actions = ["sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"]
    return [
        {"Sid": "ManagePulledModels", "Effect": "Allow",
         "Action": sorted(["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel",
                           *tag_actions]),
         "Resource": [f"{arn}:model/{naming.pulled_resources(m)}" for m in models]},
        {"Sid": "ManagePulledEndpointConfigs", "Effect": "Allow",
         "Action": sorted(["sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig",
                           "sagemaker:DeleteEndpointConfig", *tag_actions]),
         "Resource": [f"{arn}:endpoint-config/{naming.pulled_resources(m)}" for m in models]},
        {"Sid": "ManagePulledEndpoints", "Effect": "Allow",
         "Action": sorted(["sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint",
                           "sagemaker:DeleteEndpoint", *tag_actions]),
         # CreateEndpoint and UpdateEndpoint are authorized on the endpoint configuration they name as well.
         "Resource": [*(f"{arn}:endpoint/{naming.endpoint(m)}" for m in models),
                      *(f"{arn}:endpoint-config/{naming.pulled_resources(m)}" for m in models)]},
        # CreateModel from a package reads the package (registered in the shared stack, maybe another account).
        {"Sid": "ReadRegisteredPackages", "Effect": "Allow", "Action": ["sagemaker:DescribeModelPackage"],
         "Resource": [f"arn:aws:sagemaker:{region}:*:model-package/{shared.package_group(m)}/*" for m in models]},
        {"Sid": "PassServingRoles", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": serving_role_arns,
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        # SageMaker creates a grant on the environment key for the endpoint's volumes, as the caller.
        {"Sid": "LetSageMakerUseTheEnvironmentKey", "Effect": "Allow", "Action": ["kms:CreateGrant"],
         "Resource": [kms_key_arn], "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    ]


# -- Argo CD -------------------------------------------------------------------------------------------------------
HEALTH_LUA = """\
hs = {status = "Progressing", message = "waiting for the ACK controller (ACK.ResourceSynced)"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "ACK.Terminal" and c.status == "True" then
      return {status = "Degraded", message = c.message}
    end
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "ACK.Recoverable" and c.status == "True" then
      hs = {status = "Degraded", message = c.message}
    end
    if c.type == "ACK.ResourceSynced" then
      if c.status == "True" then
        return {status = "Healthy", message = c.message}
      end
      hs.message = c.message or hs.message
    end
  end
end
return hs
"""
"""Healthy once ACK says the AWS resource matches the spec (`ACK.ResourceSynced` True; for an Endpoint that
means InService on the wanted configuration); Degraded on a terminal error, e.g. `EndpointUpdateError` after
SageMaker rolled a release back; Progressing while the controller works (an Endpoint is Updating)."""

IGNORED_FIELDS = {
    # Late-initialized by the controller (generator.yaml of sagemaker-controller v1.9.1: `late_initialize`).
    "Model": ["/spec/enableNetworkIsolation"],
    "EndpointConfig": ["/spec/enableNetworkIsolation"],
    # The controller records the configuration of its last update attempt (pkg/resource/endpoint/hooks.go).
    "Endpoint": ["/metadata/annotations/sagemaker.services.k8s.aws~1last-endpoint-config-for-update"],
}
"""Fields the controller writes back; Argo CD must not call them drift (nor undo them on self-heal)."""


def argocd_resource_customizations() -> dict[str, str]:
    """`argocd-cm` keys (chart values `configs.cm`) for the three ACK kinds: health and ignored differences."""
    cm = {}
    for kind in KINDS:
        cm[f"resource.customizations.health.{GROUP}_{kind}"] = HEALTH_LUA
        cm[f"resource.customizations.ignoreDifferences.{GROUP}_{kind}"] = (
            "jsonPointers:\n" + "".join(f"- {p}\n" for p in IGNORED_FIELDS[kind]))
    return cm
