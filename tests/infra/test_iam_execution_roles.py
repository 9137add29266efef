"""The SageMaker execution roles may do what their jobs do, and no more (issue 7 §2).

Pipeline role: every step of the planned pipeline definition is read for what its job touches (the data it
reads, the artifacts it writes, the images it pulls or resolves, the keys, the package group it registers
into), with every `Get`/`Join` the definition holds resolved for one example execution. Serving role: what
SageMaker does for an endpoint as that role (pull the serving image, read the artifacts the pipeline wrote,
decrypt them, log, report metrics, write captured traffic). Each action of `tests/infra/iam_actions.py` is
evaluated against the role's policy documents on the ARN AWS would check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from iam_actions import (
    PIPELINE_JOB_NEEDS,
    SCHEDULE_NEEDS,
    SERVING_CAPTURE_NEEDS,
    SERVING_NEEDS,
    VPC_NEEDS,
    Need,
    TypeNeeds,
)
from iam_arns import StackFacts
from iam_eval import granted_actions, is_allowed

from infra.core.naming import Naming
from infra.plan.model import PlanResult

EXECUTION_ID = "exec0example"
"""Stands for `Execution.PipelineExecutionId`: any execution writes under its own id."""

ENVIRONMENTS = ("dev", "staging", "prod")


# -- reading a pipeline definition -----------------------------------------------------------------------------
class Definition:
    """A pipeline definition's steps (nested condition branches included) with their values resolved."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.values: dict[str, Any] = {f"Parameters.{p['Name']}": p.get("DefaultValue")
                                       for p in definition.get("Parameters", [])}
        self.values["Execution.PipelineExecutionId"] = EXECUTION_ID
        self.steps = list(_walk(definition["Steps"]))
        for step in self.steps:  # steps come in dependency order in the definitions built here
            self._record_properties(step)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and "Get" in value:
            if value["Get"] not in self.values:
                raise KeyError(f"cannot resolve {value['Get']!r}; teach tests/infra/test_iam_execution_roles.py")
            return self.values[value["Get"]]
        if isinstance(value, dict) and "Std:Join" in value:
            join = value["Std:Join"]
            return join["On"].join(str(self.resolve(v)) for v in join["Values"])
        return value

    def _record_properties(self, step: dict[str, Any]) -> None:
        name, args = step["Name"], step.get("Arguments", {})
        if step["Type"] == "Processing":
            for output in args.get("ProcessingOutputConfig", {}).get("Outputs", []):
                key = f"Steps.{name}.ProcessingOutputConfig.Outputs['{output['OutputName']}'].S3Output.S3Uri"
                self.values[key] = self.resolve(output["S3Output"]["S3Uri"])
        if step["Type"] == "Training":
            path = self.resolve(args["OutputDataConfig"]["S3OutputPath"])
            self.values[f"Steps.{name}.ModelArtifacts.S3ModelArtifacts"] = (
                f"{path}/{job_name(name)}/output/model.tar.gz")

    def slots(self, step: dict[str, Any]) -> dict[str, list[str]]:
        """What the step's job touches, by the slot names of the action table (URIs, images, keys, roles)."""
        args, kind = step.get("Arguments", {}), step["Type"]
        if kind == "Processing":
            inputs = [i["S3Input"]["S3Uri"] for i in args.get("ProcessingInputs", [])]
            outputs = [o["S3Output"]["S3Uri"] for o in args.get("ProcessingOutputConfig", {}).get("Outputs", [])]
            images = [args["AppSpecification"]["ImageUri"]]
            keys = [args.get("ProcessingOutputConfig", {}).get("KmsKeyId"),
                    args["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId")]
        elif kind == "Training":
            inputs = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in args.get("InputDataConfig", [])]
            outputs = [args["OutputDataConfig"]["S3OutputPath"]]
            images = [args["AlgorithmSpecification"]["TrainingImage"]]
            keys = [args["OutputDataConfig"].get("KmsKeyId"), args["ResourceConfig"].get("VolumeKmsKeyId")]
        elif kind == "RegisterModel":
            containers = args["InferenceSpecification"]["Containers"]
            inputs = [c["ModelDataUrl"] for c in containers if "ModelDataUrl" in c]
            inputs += [m["S3Uri"] for group in args.get("ModelMetrics", {}).values() for m in group.values()]
            outputs, images, keys = [], [c["Image"] for c in containers], []
        else:
            return {}
        return {
            "input": [self.resolve(u) for u in inputs],
            "output": [self.resolve(u) for u in outputs],
            "image": [self.resolve(i) for i in images],
            "key": [k for k in keys if k],
            "role": [args["RoleArn"]] if "RoleArn" in args else [],
            "group": [args["ModelPackageGroupName"]] if "ModelPackageGroupName" in args else [],
        }


def _walk(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        arguments = step.get("Arguments", {})
        if step["Type"] == "Condition":
            yield from _walk(arguments.get("IfSteps", []))
            yield from _walk(arguments.get("ElseSteps", []))


def job_name(step: str) -> str:
    """How SageMaker Pipelines names a step's job: `pipelines-<execution id>-<step>-<random>`."""
    return f"pipelines-{EXECUTION_ID}-{step}-a1b2c3d4e5"


def s3_object(uri: str, *, under: bool) -> str:
    """The ARN of an object at `uri`, or (under=True, `uri` a prefix) of one object below it."""
    path = uri.removeprefix("s3://")
    return f"arn:aws:s3:::{path.rstrip('/')}/part-00000" if under else f"arn:aws:s3:::{path}"


def repository_arn(image_uri: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>` -> the repository's ARN."""
    host, _, rest = image_uri.partition("/")
    account, _, _, region, *_ = host.split(".")
    return f"arn:aws:ecr:{region}:{account}:repository/{rest.split(':')[0].split('@')[0]}"


def role_documents(plan: PlanResult, role: str) -> list[str]:
    documents = [r.inputs["policy"] for r in plan.resources
                 if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs.get("role") == role]
    assert documents, f"{plan.stack}: no inline policy on {role}"
    return documents


# -- checking needs -----------------------------------------------------------------------------------------------
def check(documents: list[str], entry: TypeNeeds, targets: dict[str, list[tuple[str, dict]]],
          region: str = "us-east-1") -> list[str]:
    """Every action of `entry` on every ARN its slot resolves to; the lines that the documents refuse."""
    missing = []
    for need in entry.needs:
        assert targets.get(need.on), f"nothing resolved for {need.on!r}: the test would check nothing"
        for arn, context in targets[need.on]:
            full = {"aws:RequestedRegion": region, **context, **_context(need)}
            missing += [f"{action} on {arn}" for action in need.actions if not is_allowed(documents, action, arn,
                                                                                          full)]
    return missing


def _context(need: Need) -> dict[str, str]:
    values = {}
    for kind in need.context:
        if kind.startswith("passed-to:"):
            values["iam:PassedToService"] = kind.removeprefix("passed-to:")
        elif kind == "aws-resource-grant":
            values["kms:GrantIsForAWSResource"] = "true"
    return values


def pipeline_targets(facts: StackFacts, definition: Definition, step: dict[str, Any]) -> dict[str, list]:
    slots = definition.slots(step)
    kind = {"Processing": "ProcessingJobs", "Training": "TrainingJobs"}.get(step["Type"], "")
    job = f"{step['Type'].lower()}-job/{job_name(step['Name'])}".lower()
    group = slots["group"][0] if slots["group"] else None
    logs = facts.arn("logs", f"log-group:/aws/sagemaker/{kind}")
    buckets = []
    for uri in slots["input"]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        prefix = key if key.endswith("/") or "." not in key.rsplit("/", 1)[-1] else key.rsplit("/", 1)[0] + "/"
        buckets.append((f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}))
    return {
        "job": [(facts.arn("sagemaker", job), {})],
        "input-object": [(s3_object(u, under=not u.endswith((".gz", ".json"))), {}) for u in slots["input"]],
        "input-bucket": buckets,
        "output-object": [(s3_object(u, under=True), {}) for u in slots["output"]],
        "key": [(k, {}) for k in slots["key"]],
        "image": [(repository_arn(i), {}) for i in slots["image"]],
        "*": [("*", {"cloudwatch:namespace": f"/aws/sagemaker/{kind}"})],
        f"log-group:{kind}": [(logs, {}), (f"{logs}:log-stream:{job_name(step['Name'])}/algo-1-1700000000", {})],
        "package": [(facts.arn("sagemaker", f"model-package/{group}/1"), {})] if group else [],
        "package-group": [(facts.arn("sagemaker", f"model-package-group/{group}"), {})] if group else [],
    }


Pipeline = tuple[str, list[str], Definition, StackFacts, str]


def pipelines_of(plan: PlanResult) -> list[Pipeline]:
    """(model, pipeline role documents, definition, facts, role ARN the pipeline runs as) per planned pipeline."""
    facts, naming = StackFacts.of(plan), Naming(plan.project, plan.stack)
    found = []
    for pipeline in (r for r in plan.resources if r.type == "aws:sagemaker/pipeline:Pipeline"):
        model = pipeline.name
        definition = Definition(json.loads(pipeline.inputs["pipelineDefinition"]))
        found.append((model, role_documents(plan, naming.pipeline_role(model)), definition, facts,
                      pipeline.inputs["roleArn"]))
    assert {p[0] for p in found} == {"churn", "fraud"}
    return found


@pytest.fixture(scope="module")
def pipelines(plans: dict[str, PlanResult]) -> list[Pipeline]:
    return pipelines_of(plans["shared"])


def in_vpc(definition: Definition) -> bool:
    return any("VpcConfig" in s.get("Arguments", {}) or "VpcConfig" in s.get("Arguments", {}).get("NetworkConfig", {})
               for s in definition.steps)


def pipeline_denials(pipelines: list[Pipeline]) -> list[str]:
    missing = []
    for model, documents, definition, facts, role_arn in pipelines:
        missing = check(documents, PIPELINE_JOB_NEEDS["pipeline"],
                        {"role": [(role_arn, {})] + [(r, {}) for s in definition.steps
                                                     for r in definition.slots(s).get("role", [])]})
        kinds = set()
        for step in definition.steps:
            if step["Type"] not in PIPELINE_JOB_NEEDS:
                continue
            kinds.add(step["Type"])
            missing += [f"{model} {step['Name']}: {line}" for line in check(
                documents, PIPELINE_JOB_NEEDS[step["Type"]], pipeline_targets(facts, definition, step), facts.region)]
        assert kinds == {"Processing", "Training", "RegisterModel"}, kinds
        if in_vpc(definition):
            missing += [f"{model} vpc: {line}" for line in check(documents, VPC_NEEDS, {"*": [("*", {})]},
                                                                 facts.region)]
    return missing


def pipeline_extras(pipelines: list[Pipeline]) -> dict[str, set[str]]:
    extras = {}
    for model, documents, definition, _, _ in pipelines:
        kinds = {"pipeline"} | {s["Type"] for s in definition.steps if s["Type"] in PIPELINE_JOB_NEEDS}
        entries = [PIPELINE_JOB_NEEDS[k] for k in kinds] + ([VPC_NEEDS] if in_vpc(definition) else [])
        needed = {a.lower() for entry in entries for need in entry.needs for a in need.actions}
        extras[model] = granted_actions(documents) - needed
    return extras


def test_pipeline_role_may_run_every_step_of_its_pipeline(pipelines) -> None:
    assert pipeline_denials(pipelines) == []


def test_pipeline_role_reads_the_serving_image_manifest_but_pulls_only_training_layers(pipelines) -> None:
    for model, documents, _, facts, _ in pipelines:
        serving = facts.arn("ecr", f"repository/mlops-shared-{model}-serving")
        training = facts.arn("ecr", f"repository/mlops-shared-{model}-training")
        assert is_allowed(documents, "ecr:BatchGetImage", serving)
        assert is_allowed(documents, "ecr:DescribeImages", serving)
        assert not is_allowed(documents, "ecr:GetDownloadUrlForLayer", serving)
        assert is_allowed(documents, "ecr:GetDownloadUrlForLayer", training)
        other = "fraud" if model == "churn" else "churn"
        other_serving = facts.arn("ecr", f"repository/mlops-shared-{other}-serving")
        assert not is_allowed(documents, "ecr:BatchGetImage", other_serving)


def test_pipeline_role_grants_nothing_its_steps_do_not_need(pipelines) -> None:
    assert pipeline_extras(pipelines) == {"churn": set(), "fraud": set()}


# -- serving ------------------------------------------------------------------------------------------------------
Case = tuple[str, list[str], TypeNeeds, dict, str]


def serving_cases(shared_plan: PlanResult, environments: list[PlanResult], pipelines) -> Iterator[Case]:
    """(label, serving role documents, needs, targets, region) for every SageMaker model of every environment."""
    shared = shared_plan.outputs
    artifacts = {model: definition.values["Steps.Train.ModelArtifacts.S3ModelArtifacts"]
                 for model, _, definition, _, _ in pipelines}
    for plan in environments:
        stack = plan.stack
        facts = StackFacts.of(plan)
        for model_resource in (r for r in plan.resources if r.type == "aws:sagemaker/model:Model"):
            model = model_resource.inputs["tags"]["model"]
            role = model_resource.inputs["executionRoleArn"].rsplit("/", 1)[-1]
            endpoint = Naming(plan.project, stack).endpoint(model)
            logs = facts.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{endpoint}")
            targets = {
                "image": [(shared["models"][model]["servingRepositoryArn"], {})],
                "*": [("*", {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"})],
                "artifact-object": [(s3_object(artifacts[model], under=False), {})],
                "shared-key": [(shared["kmsKeyArn"], {})],
                "log-group:Endpoints": [(logs, {}), (f"{logs}:log-stream:AllTraffic/i-0123456789abcdef0", {})],
            }
            label = f"{stack} {model_resource.name}"
            yield label, role_documents(plan, role), SERVING_NEEDS, targets, facts.region
            if model_resource.inputs.get("vpcConfig"):
                yield f"{label} (vpc)", role_documents(plan, role), VPC_NEEDS, {"*": [("*", {})]}, facts.region
            config = next(r for r in plan.resources
                          if r.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
                          and r.inputs["tags"]["model"] == model)
            capture = config.inputs.get("dataCaptureConfig")
            if capture:
                destination = capture["destinationS3Uri"].rstrip("/")
                captured = f"{destination}/{endpoint}/AllTraffic/2026/12/01/06/capture-0001.jsonl"
                targets = {**targets, "capture-object": [(s3_object(captured, under=False), {})]}
                yield f"{label} (capture)", role_documents(plan, role), SERVING_CAPTURE_NEEDS, targets, facts.region


def serving_denials(cases: list[Case]) -> list[str]:
    return [f"{label}: {line}" for label, documents, needs, targets, region in cases
            for line in check(documents, needs, targets, region)]


def serving_extras(cases: list[Case]) -> dict[str, set[str]]:
    """Per serving role: the granted actions that none of its cases needs."""
    by_role: dict[str, tuple[list[str], set[str]]] = {}
    for label, documents, needs, _, _ in cases:
        key = label.split()[0] + " " + documents[0]
        needed = by_role.setdefault(key, (documents, set()))[1]
        needed.update(a.lower() for need in needs.needs for a in need.actions)
    return {key: granted_actions(documents) - needed for key, (documents, needed) in by_role.items()}


@pytest.fixture(scope="module")
def serving(pushed_plans: dict[str, PlanResult], pipelines) -> list[Case]:
    # dev's churn by push: the same serving role as by pull, with the endpoint configuration that shows its use.
    plans = pushed_plans
    return list(serving_cases(plans["shared"], [plans[s] for s in ENVIRONMENTS], pipelines))


def test_serving_role_may_do_what_sagemaker_does_for_the_endpoint(serving) -> None:
    assert {c[0] for c in serving} >= {"dev churn", "dev churn (capture)", "staging churn-shadow", "prod churn"}
    assert serving_denials(serving) == []


def test_serving_role_grants_nothing_the_endpoint_does_not_need(serving) -> None:
    extras = serving_extras(serving)
    assert extras and all(extra == set() for extra in extras.values()), extras


def test_in_a_private_network_the_roles_may_attach_to_it_and_still_grant_nothing_more(plan_with) -> None:
    network = {"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}
    shared = plan_with("shared", network=network)
    pipelines = pipelines_of(shared)
    assert all(in_vpc(definition) for _, _, definition, _, _ in pipelines)
    assert pipeline_denials(pipelines) == []
    assert all(extra == set() for extra in pipeline_extras(pipelines).values())
    cases = list(serving_cases(shared, [plan_with("prod", network=network)], pipelines))
    assert "prod churn (vpc)" in {c[0] for c in cases}
    assert serving_denials(cases) == []
    assert all(extra == set() for extra in serving_extras(cases).values())


def test_serving_role_writes_only_its_own_capture_prefix(plans) -> None:
    plan = plans["dev"]
    documents = role_documents(plan, Naming(plan.project, "dev").serving_role("churn"))
    bucket = plans["shared"].outputs["captureBucket"]
    assert is_allowed(documents, "s3:PutObject", f"arn:aws:s3:::{bucket}/dev/churn/x/AllTraffic/f.jsonl")
    assert not is_allowed(documents, "s3:PutObject", f"arn:aws:s3:::{bucket}/prod/churn/x/AllTraffic/f.jsonl")
    assert not is_allowed(documents, "s3:GetObject", f"arn:aws:s3:::{bucket}/dev/churn/x/AllTraffic/f.jsonl")


def test_schedule_role_may_start_its_own_pipeline_and_nothing_else(plans: dict[str, PlanResult]) -> None:
    plan = plans["shared"]
    facts, naming = StackFacts.of(plan), Naming(plan.project, plan.stack)
    for model in ("churn", "fraud"):
        documents = role_documents(plan, naming.schedule_role(model))
        pipeline = facts.arn("sagemaker", f"pipeline/{naming.pipeline(model)}")
        assert check(documents, SCHEDULE_NEEDS, {"pipeline": [(pipeline, {})]}) == []
        assert granted_actions(documents) == {"sagemaker:startpipelineexecution"}
        other = facts.arn("sagemaker", f"pipeline/{naming.pipeline('fraud' if model == 'churn' else 'churn')}")
        assert not is_allowed(documents, "sagemaker:StartPipelineExecution", other)


def test_the_pipeline_role_reads_a_pinned_run_s_copy_and_cannot_change_it(pipelines: list[Pipeline]) -> None:
    """`start-training` passes `RawDataUri` = the run's copy under `<model>/runs/<run id>/raw/` (the definition's
    default is the raw prefix, checked above): Preprocess must be able to list and read it, and the pipeline must
    not be able to overwrite what its own lineage records."""
    for model, documents, definition, facts, _ in pipelines:
        data_bucket = definition.values["Parameters.RawDataUri"].removeprefix("s3://").split("/", 1)[0]
        run_copy = f"s3://{data_bucket}/{model}/runs/0f8e2c1a-7b9d-4e3f-a2c4-5d6e7f8a9b0c/raw/"
        definition.values["Parameters.RawDataUri"] = run_copy
        try:
            [preprocess] = [s for s in definition.steps if s["Name"] == "Preprocess"]
            assert definition.slots(preprocess)["input"] == [run_copy]
            assert check(documents, PIPELINE_JOB_NEEDS["Processing"], pipeline_targets(facts, definition, preprocess),
                         facts.region) == []
        finally:
            definition.values["Parameters.RawDataUri"] = f"s3://{data_bucket}/{model}/raw/"
        copy_arn = f"arn:aws:s3:::{run_copy.removeprefix('s3://')}raw.csv"
        assert not is_allowed(documents, "s3:PutObject", copy_arn, {"aws:RequestedRegion": facts.region})
