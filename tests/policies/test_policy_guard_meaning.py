"""Issue 17, section 1: names judged instead of meaning, fields read from one place only, things that exist but
never act, and kinds the type lists stopped short of. Every hostile case is new (none is a spelling named in the
issue) and must be a mandatory violation of its rule in prod; every compliant twin must pass the same rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_factory import PlanBuilder, endpoint_stack, of, pipeline, pipeline_definition, run, secure_bucket

from policies.rules.argocd import _flag

Build = Callable[[PlanBuilder], Any]
ARGO_BASE = {"configs": {"cm": {"admin.enabled": False}, "rbac": {"policy.default": "role:readonly"}}}


def _release(values: dict[str, Any], chart: str = "argo-cd", version: str | None = "7.7.3") -> Build:
    def build(b: PlanBuilder) -> None:
        inputs: dict[str, Any] = {"chart": chart, "values": values}
        if version is not None:
            inputs["version"] = version
        b.add("kubernetes:helm.sh/v3:Release", "gitops", inputs, provider=False)

    return build


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _argo(**extra: Any) -> dict[str, Any]:
    return _merge(ARGO_BASE, extra)


def _alb(listen_ports: str | None, **annotations: str) -> dict[str, Any]:
    notes = {"alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:us-east-1:444444444444:certificate/x",
             **annotations}
    if listen_ports is not None:
        notes["alb.ingress.kubernetes.io/listen-ports"] = listen_ports
    return _argo(configs={"params": {"server.insecure": True}},
                 server={"ingress": {"enabled": True, "ingressClassName": "alb", "annotations": notes}})


def _pod(kind: str, api: str, spec_path: list[str], container: dict[str, Any], **pod: Any) -> Build:
    def build(b: PlanBuilder) -> None:
        value: dict[str, Any] = {"containers": [container], **pod}
        for step in reversed(spec_path):
            value = {step: value}
        b.add(f"kubernetes:{api}:{kind}", "workload", value, provider=False)

    return build


_SAFE = {"name": "server", "image": "registry.example/model:2.4.1", "securityContext": {"runAsNonRoot": True},
         "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}


def _with(**changes: Any) -> dict[str, Any]:
    return {**_SAFE, **changes}


def _endpoint_change(change: Callable[[PlanBuilder, dict[str, Any]], Any]) -> Build:
    def build(b: PlanBuilder) -> None:
        change(b, endpoint_stack(b))

    return build


def _inputs(b: PlanBuilder, resource: Any, **changes: Any) -> None:
    b.replace(resource, inputs={**resource.inputs, **changes})


def _bucket_change(change: Callable[[PlanBuilder, dict[str, Any]], Any]) -> Build:
    def build(b: PlanBuilder) -> None:
        change(b, secure_bucket(b, unknown_id=False))

    return build


def _misdirected_block(b: PlanBuilder, parts: dict[str, Any]) -> None:
    """The bucket's public access block names another bucket while taking a value from this one."""
    other = b.add("aws:s3/bucket:Bucket", "scratch", {"bucket": "mlops-scratch-prod"}, {"id": "mlops-scratch-prod"},
                  protect=True)
    b.replace(parts["block"], inputs={**parts["block"].inputs, "bucket": "mlops-scratch-prod"},
              property_dependencies={"bucket": (parts["bucket"].urn,)}, dependencies=(parts["bucket"].urn, other.urn))


def _tuning_step(b: PlanBuilder) -> None:
    definition = pipeline_definition()
    definition["Steps"].append({"Name": "Tune", "Type": "Tuning", "Arguments": {"TrainingJobDefinition": {
        "HyperParameterTuningResourceConfig": {"InstanceConfigs": [
            {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
            {"InstanceType": {"Get": "Parameters.TuneInstance"}, "InstanceCount": 1}]},
        "EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True,
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}})
    definition["Parameters"].append({"Name": "TuneInstance", "Type": "String", "DefaultValue": "ml.p4de.24xlarge"})
    pipeline(b, definition)


HOSTILE: list[tuple[str, str, str, Build, str]] = [
    # names judged instead of meaning
    ("names", "--insecure=1 (Go's ParseBool)", "argocd-hardened",
     _release(_argo(server={"extraArgs": ["--loglevel=info", "--insecure=1"]})), "insecure"),
    ("names", "ARGOCD_SERVER_INSECURE in the server's env", "argocd-hardened",
     _release(_argo(server={"env": [{"name": "ARGOCD_SERVER_INSECURE", "value": "TRUE"}]})), "insecure"),
    ("names", "ALB with a certificate but only an HTTP listener", "argocd-hardened",
     _release(_alb('[{"HTTP": 8080}]')), "insecure"),
    ("names", "ALB with HTTP and HTTPS listeners and no redirect", "argocd-hardened",
     _release(_alb('[{"HTTP": 80}, {"HTTPS": 443}]')), "insecure"),
    ("names", "Argo CD from a chart archive URL", "argocd-hardened",
     _release({"configs": {"cm": {"admin.enabled": True}}},
              chart="https://charts.example/releases/argo-cd-7.7.3.tgz", version=None), "admin account"),
    ("names", "Argo CD values in a renamed chart", "argocd-hardened",
     _release(_argo(configs={"rbac": {"policy.default": "role:admin"}}), chart="internal/gitops-server"),
     "default role"),
    ("names", "a chart archive whose name carries no version", "helm-chart-version-pinned",
     _release(ARGO_BASE, chart="https://charts.example/argo-cd-stable.tgz", version=None), "no exact version"),
    ("names", "an image on a branch tag", "k8s-model-server-hardened",
     _pod("Deployment", "apps/v1", ["spec", "template", "spec"], _with(image="registry.example/model:release")),
     "moving tag 'release'"),
    ("names", "an AWS-managed policy whose name sounds harmless", "iam-no-admin-managed-policy",
     lambda b: b.add("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "logs",
                     {"role": "worker", "policyArn": "arn:aws:iam::aws:policy/AWSLambdaExecute"}), "(logs:*)"),
    # fields read from one place only
    ("fields", "a GPU instance group in a training job", "sagemaker-instance-cost-guard",
     lambda b: b.add("aws:sagemaker/trainingJob:TrainingJob", "train", {"resourceConfig": {"instanceGroups": [
         {"instanceGroupName": "a", "instanceType": "ml.m5.xlarge", "instanceCount": 1},
         {"instanceGroupName": "b", "instanceType": "ml.p4d.24xlarge", "instanceCount": 1}]}}), "ml.p4d.24xlarge"),
    ("fields", "a tuning step's instance configs through a parameter", "sagemaker-instance-cost-guard",
     _tuning_step, "ml.p4de.24xlarge"),
    ("fields", "managed instance scaling beyond the ceiling", "sagemaker-instance-cost-guard",
     _endpoint_change(lambda b, p: _inputs(b, p["config"], productionVariants=[
         {**p["config"].inputs["productionVariants"][0],
          "managedInstanceScaling": {"status": "ENABLED", "minInstanceCount": 1, "maxInstanceCount": 40}}])),
     "asks for 40 instances"),
    ("fields", "a bucket's own grants to authenticated users", "s3-public-access-blocked",
     _bucket_change(lambda b, p: _inputs(b, p["bucket"], grants=[
         {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
          "permissions": ["READ"]}])), "AuthenticatedUsers"),
    ("fields", "a public access block that names another bucket", "s3-public-access-blocked",
     _bucket_change(_misdirected_block), "bucket 'artifacts' has no aws.s3.BucketPublicAccessBlock"),
    # things that exist but never act
    ("inert", "the only alarm watches another namespace", "sagemaker-endpoint-operability",
     _endpoint_change(lambda b, p: _inputs(b, p["alarm"], namespace="AWS/ApplicationELB")), "CloudWatch alarm"),
    ("inert", "the rollback alarm watches another namespace", "sagemaker-endpoint-safe-deployment",
     _endpoint_change(lambda b, p: _inputs(b, p["alarm"], namespace="Custom/Churn")), "auto-rollback alarm"),
    ("inert", "an alarm with its actions disabled", "sagemaker-endpoint-operability",
     _endpoint_change(lambda b, p: _inputs(b, p["alarm"], actionsEnabled=False)), "nobody hears"),
    ("inert", "a scaling target that suspends scaling out", "sagemaker-endpoint-operability",
     _endpoint_change(lambda b, p: _inputs(b, p["target"], suspendedState={"dynamicScalingOutSuspended": True})),
     "never scales"),
    ("inert", "a memory limit of 0Gi", "k8s-model-server-hardened",
     _pod("StatefulSet", "apps/v1", ["spec", "template", "spec"],
          _with(resources={"limits": {"cpu": "500m", "memory": "0Gi"}})), "limit of 0"),
    ("inert", "admin disabled in a ConfigMap the chart does not create", "argocd-hardened",
     _release(_argo(configs={"cm": {"create": False}})), "configs.cm.create: false"),
    ("inert", "policy.csv lets the read-only default role sync", "argocd-hardened",
     _release(_argo(configs={"rbac": {"policy.csv": "p, role:readonly, applications, sync, */*, allow\n"}})),
     "lets write"),
    ("inert", "policy.csv makes the read-only default role inherit another", "argocd-hardened",
     _release(_argo(configs={"rbac": {"policy.csv": "g, role:readonly, role:deployer\n"}})), "inherits"),
    # kinds the type list stopped short of
    ("kinds", "a CronJob", "k8s-model-server-hardened",
     _pod("CronJob", "batch/v1", ["spec", "jobTemplate", "spec", "template", "spec"],
          _with(securityContext={"runAsUser": 0})), "may run as root"),
    ("kinds", "a ReplicaSet patch", "k8s-model-server-hardened",
     _pod("ReplicaSetPatch", "apps/v1", ["spec", "template", "spec"], _with(resources={})), "no resource limit"),
    ("kinds", "a KServe predictor's model container", "k8s-model-server-hardened",
     lambda b: b.add("kubernetes:serving.kserve.io/v1beta1:InferenceService", "churn", {"spec": {"predictor": {
         "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://models/churn",
                   "resources": {"limits": {"cpu": "1"}}}}}}, provider=False), "memory"),
]

COMPLIANT: list[tuple[str, str, str, Build]] = [
    ("names", "--insecure=false", "argocd-hardened", _release(_argo(server={"extraArgs": ["--insecure=false"]}))),
    ("names", "ALB with HTTPS only", "argocd-hardened", _release(_alb('[{"HTTPS": 443}]'))),
    ("names", "ALB redirecting HTTP to HTTPS", "argocd-hardened",
     _release(_alb('[{"HTTP": 80}, {"HTTPS": 443}]', **{"alb.ingress.kubernetes.io/ssl-redirect": "443"}))),
    ("names", "a chart archive with its version in the name", "helm-chart-version-pinned",
     _release(ARGO_BASE, chart="https://charts.example/argo-cd-7.7.3.tgz", version=None)),
    ("names", "an image by version tag with a suffix", "k8s-model-server-hardened",
     _pod("Deployment", "apps/v1", ["spec", "template", "spec"], _with(image="registry.example/model:v2.4-cuda12"))),
    ("names", "a read-only AWS-managed policy", "iam-no-admin-managed-policy",
     lambda b: b.add("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "read",
                     {"role": "worker", "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"})),
    ("fields", "instance groups inside the allow-list", "sagemaker-instance-cost-guard",
     lambda b: b.add("aws:sagemaker/trainingJob:TrainingJob", "train", {"resourceConfig": {"instanceGroups": [
         {"instanceGroupName": "a", "instanceType": "ml.m5.xlarge", "instanceCount": 2}]}})),
    ("fields", "a bucket grant to its owner only", "s3-public-access-blocked",
     _bucket_change(lambda b, p: _inputs(b, p["bucket"], grants=[
         {"type": "CanonicalUser", "id": "abc123", "permissions": ["FULL_CONTROL"]}]))),
    ("inert", "an instance-metrics alarm", "sagemaker-endpoint-operability",
     _endpoint_change(lambda b, p: _inputs(b, p["alarm"], namespace="/aws/sagemaker/Endpoints",
                                           metricName="CPUUtilization"))),
    ("inert", "scaling in suspended only for scheduled actions", "sagemaker-endpoint-operability",
     _endpoint_change(lambda b, p: _inputs(b, p["target"], suspendedState={"scheduledScalingSuspended": True}))),
    ("inert", "policy.csv granting writes to a named role, not the default", "argocd-hardened",
     _release(_argo(configs={"rbac": {"policy.csv": "p, role:deployer, applications, sync, */*, allow\n"
                                                    "p, role:readonly, applications, get, */*, allow\n"}}))),
    ("kinds", "a hardened KServe predictor", "k8s-model-server-hardened",
     lambda b: b.add("kubernetes:serving.kserve.io/v1beta1:InferenceService", "churn", {"spec": {"predictor": {
         "securityContext": {"runAsNonRoot": True},
         "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://models/churn",
                   "resources": {"limits": {"cpu": "1", "memory": "2Gi"}}}}}}, provider=False)),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[f"{c[0]}: {c[1]}" for c in HOSTILE])
def test_hostile_case_is_a_mandatory_violation_in_prod(case: tuple[str, str, str, Build, str]) -> None:
    _, name, rule, build, expect = case
    b = PlanBuilder()
    build(b)
    found = of(run(b.plan()), rule)
    assert found and all(v.enforcement == "mandatory" for v in found), f"{rule} let '{name}' pass"
    assert any(expect in v.message for v in found), [v.message for v in found]


@pytest.mark.parametrize("case", COMPLIANT, ids=[f"{c[0]}: {c[1]}" for c in COMPLIANT])
def test_compliant_twin_passes(case: tuple[str, str, str, Build]) -> None:
    _, _, rule, build = case
    b = PlanBuilder()
    build(b)
    assert [v.message for v in of(run(b.plan()), rule)] == []


# --- the flag as a set of spellings (property) -------------------------------------------------------------

_TRUE = ["1", "t", "T", "TRUE", "true", "True"]
_FALSE = ["0", "f", "F", "FALSE", "false", "False"]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(before=st.lists(st.sampled_from(["--loglevel=debug", "--insecure=false", "--insecure", "--x=1"]), max_size=3),
       last=st.one_of(st.just("--insecure"), st.sampled_from(_TRUE).map(lambda v: f"--insecure={v}"),
                      st.sampled_from(_FALSE).map(lambda v: f"--insecure={v}")))
def test_the_last_insecure_flag_decides_in_every_spelling(before: list[str], last: str) -> None:
    expected = last == "--insecure" or last.split("=", 1)[1] in _TRUE
    assert _flag([*before, last, "--loglevel=info"], "insecure") is expected
