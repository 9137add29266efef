"""SageMaker by pull, drift monitor (issue 18, gap 2): the overlay of a pulled model with `monitoring` renders its
DataQualityJobDefinition and MonitoringSchedule as ACK objects, valid against the pinned controller's CRDs; the
baseline follows the promotion line; the job means what the push path's job means; and a hand-edited monitor is
refused, by the overlay comparison and by the pack (through the one adapter)."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from crd_schemas import validate as validate_custom_resource

from infra.config import parse_stack_config
from infra.core import ack
from infra.core.monitoring import monitor_job
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests import judge as manifests_judge
from infra.manifests import overlays as manifests_overlays
from infra.manifests import pull_overlays
from infra.manifests.sagemaker_view import sagemaker_view
from infra.plan.model import PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import plan_program, plan_stack

CHURN = PROJECT_ROOT / "gitops" / "dev" / "churn"
DRIFT_RULE = "drift-monitoring-and-retrain-guards"


def _config():  # noqa: ANN202
    return parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)


def _deploy():  # noqa: ANN202
    return _config().pulled_sagemaker_models()["churn"]


def _rendered(path: Path = CHURN) -> dict[str, dict]:
    return {m["kind"]: m for m in manifests_overlays.render(path)}


def _disagreements(manifests: list[dict], path: Path = CHURN, version: int = 3) -> list[str]:
    config = parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
    return pull_overlays.disagreements("dev/churn", manifests, Naming("mlops", "dev"), "churn",
                                       config.pulled_sagemaker_models()["churn"],
                                       pull_overlays.facts(config, path), version)


def test_the_overlay_renders_both_monitor_objects_valid_against_the_vendored_crds() -> None:
    rendered = _rendered()
    job, schedule = rendered["DataQualityJobDefinition"], rendered["MonitoringSchedule"]
    assert validate_custom_resource(job) == validate_custom_resource(schedule) == []
    assert schedule["spec"]["monitoringScheduleConfig"]["monitoringJobDefinitionName"] == \
        job["spec"]["jobDefinitionName"] == job["metadata"]["name"]
    assert job["metadata"]["name"].startswith("mlops-dev-churn-monitor-") and job["metadata"]["name"].endswith("-v3")
    assert schedule["metadata"]["name"] == schedule["spec"]["monitoringScheduleName"] == "mlops-dev-churn-monitor"
    baseline = job["spec"]["dataQualityBaselineConfig"]
    assert baseline["statisticsResource"]["s3URI"] == \
        "s3://mlops-shared-artifacts-111111111111/churn/baselines/v3/statistics.json"
    assert baseline["constraintsResource"]["s3URI"] == \
        "s3://mlops-shared-artifacts-111111111111/churn/baselines/v3/constraints.json"
    assert job["spec"]["dataQualityJobInput"]["endpointInput"]["endpointName"] == \
        rendered["Endpoint"]["spec"]["endpointName"]
    # The replaced definition goes only after the schedule switched away from it.
    assert job["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "PruneLast=true"
    assert all(m["metadata"]["namespace"] == "mlops-dev-churn" for m in (job, schedule))


@pytest.mark.parametrize("kind, path, wrong", [
    ("DataQualityJobDefinition", ("jobResources", "clusterConfig"), "volumeKmsKeyId"),  # ACK: volumeKMSKeyID
    ("DataQualityJobDefinition", (), "roleArn"),  # ACK: roleARN
    ("DataQualityJobDefinition", ("dataQualityJobInput",), "batchTransformInput"),  # not in ACK 1.9.1's CRD
    ("MonitoringSchedule", ("monitoringScheduleConfig",), "scheduleExpression"),  # belongs in scheduleConfig
])
def test_crd_validation_catches_fields_the_controller_would_prune(kind: str, path: tuple[str, ...],
                                                                  wrong: str) -> None:
    obj = copy.deepcopy(_rendered()[kind])
    node = obj["spec"]
    for key in path:
        node = node[key]
    node[wrong] = "x"
    assert any(f"'{wrong}' was unexpected" in e for e in validate_custom_resource(obj))


# -- one home: the same `monitoring` block means the same job on both SageMaker paths ---------------------------
@pytest.fixture(scope="module")
def dev_pushed() -> PlanResult:
    """The dev stack planned with churn delivered by push (its stack file delivers it by pull)."""
    stack = load_stack(PROJECT_ROOT, "dev")
    config = dict(stack.config)
    models = json.loads(config["mlops:models"])
    models["churn"]["deploy"]["delivery"] = "push"
    config["mlops:models"] = json.dumps(models)
    return plan_program(stack.program_dir, stack.project, "dev", config, stack.secret_keys,
                        {config["mlops:sharedStack"]: plan_stack("shared").outputs})


def test_the_pulled_monitor_means_what_the_pushed_monitor_declares(dev_pushed: PlanResult) -> None:
    rendered = _rendered()
    _, pulled_job = sagemaker_view(rendered["DataQualityJobDefinition"])  # type: ignore[misc]
    _, pulled_schedule = sagemaker_view(rendered["MonitoringSchedule"])  # type: ignore[misc]
    churn = Naming("mlops", "dev").monitoring_schedule("churn")  # dev also monitors fraud (Kubernetes) in Pulumi
    [pushed_job] = [r.inputs for r in dev_pushed.resources if r.inputs.get("name") == churn
                    and r.type == "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"]
    [pushed_schedule] = [r.inputs for r in dev_pushed.resources if r.inputs.get("name") == churn
                         and r.type == "aws:sagemaker/monitoringSchedule:MonitoringSchedule"]
    for key in ("networkConfig", "stoppingCondition", "dataQualityJobInput"):
        assert pulled_job[key] == pushed_job[key], key
    cluster, pushed_cluster = pulled_job["jobResources"]["clusterConfig"], pushed_job["jobResources"]["clusterConfig"]
    for key in ("instanceCount", "instanceType", "volumeSizeInGb"):
        assert cluster[key] == pushed_cluster[key], key
    assert pulled_job["dataQualityAppSpecification"]["environment"] == \
        pushed_job["dataQualityAppSpecification"]["environment"]
    assert pulled_job["dataQualityAppSpecification"]["imageUri"].endswith("/mlops-shared-churn-serving:1.4.0")
    assert pushed_job["dataQualityAppSpecification"]["imageUri"].endswith("/mlops-shared-churn-serving:1.4.0")
    output, pushed_output = (j["dataQualityJobOutputConfig"]["monitoringOutputs"]["s3Output"]
                             for j in (pulled_job, pushed_job))
    assert output["localPath"] == pushed_output["localPath"] and output["s3UploadMode"] == pushed_output["s3UploadMode"]
    assert output["s3Uri"].endswith("/monitoring/dev/churn/") and pushed_output["s3Uri"].endswith(
        "/monitoring/dev/churn/")
    # The role the jobs run as is the one Pulumi declares on both paths (by name; its ARN follows from it).
    [role] = [r for r in dev_pushed.resources if r.type == "aws:iam/role:Role"
              and r.inputs.get("name") == Naming("mlops", "dev").monitor_role("churn")]
    assert pulled_job["roleArn"].endswith(":role/" + role.inputs["name"])
    assert pulled_job["name"] != pushed_job["name"] == pulled_schedule["name"] == pushed_schedule["name"]
    assert pulled_schedule["monitoringScheduleConfig"]["scheduleConfig"] == \
        pushed_schedule["monitoringScheduleConfig"]["scheduleConfig"]
    assert pulled_schedule["monitoringScheduleConfig"]["monitoringType"] == \
        pushed_schedule["monitoringScheduleConfig"]["monitoringType"]


def test_both_paths_read_the_job_from_one_home() -> None:
    """Every setting of the monitoring block reaches the ACK objects through `monitor_job` (and so also the
    push component, which reads the same function)."""
    config = parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
    deploy = config.pulled_sagemaker_models()["churn"]
    changed = deploy.monitoring.model_copy(update={"schedule": "hourly", "max_runtime_seconds": 900,  # type: ignore
                                                   "instance_type": "ml.c5.xlarge", "instance_count": 2,
                                                   "volume_size_gb": 50, "psi_threshold": 0.3})
    facts = pull_overlays.facts(config, CHURN)
    objects = ack.expected_objects(Naming("mlops", "dev"), "churn", deploy.model_copy(update={"monitoring": changed}),
                                   facts)
    job, schedule = objects["DataQualityJobDefinition"]["spec"], objects["MonitoringSchedule"]["spec"]
    expected = monitor_job("churn", changed)
    assert schedule["monitoringScheduleConfig"]["scheduleConfig"]["scheduleExpression"] == \
        expected.schedule_expression == "cron(0 * ? * * *)"
    assert job["stoppingCondition"]["maxRuntimeInSeconds"] == expected.max_runtime_seconds == 900
    assert job["jobResources"]["clusterConfig"] | {"volumeKMSKeyID": None} == {
        "instanceCount": 2, "instanceType": "ml.c5.xlarge", "volumeSizeInGB": 50, "volumeKMSKeyID": None}
    assert job["dataQualityAppSpecification"]["environment"] == {"MODEL_NAME": "churn", "PSI_THRESHOLD": "0.3"}
    # A changed job is a new job definition (SageMaker cannot update one); the schedule keeps its name.
    original = ack.expected_objects(Naming("mlops", "dev"), "churn", deploy, facts)
    assert objects["DataQualityJobDefinition"]["name"] != original["DataQualityJobDefinition"]["name"]
    assert objects["MonitoringSchedule"]["name"] == original["MonitoringSchedule"]["name"]


def test_without_monitoring_the_overlay_has_no_monitor_and_the_replacements_do_not_name_one() -> None:
    config = parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
    deploy = config.pulled_sagemaker_models()["churn"]
    off = deploy.model_copy(update={"monitoring": deploy.monitoring.model_copy(update={"enabled": False})})  # type: ignore
    objects = ack.expected_objects(Naming("mlops", "dev"), "churn", off, pull_overlays.facts(config, CHURN))
    assert sorted(objects) == sorted(ack.ENDPOINT_KINDS)
    assert "DataQualityJobDefinition" not in json.dumps(ack.version_replacements(objects))


# -- hostile edits ------------------------------------------------------------------------------------------------
def _edit(kind: str, change: Callable[[dict], None]) -> Callable[[dict[str, dict]], None]:
    def apply(rendered: dict[str, dict]) -> None:
        change(rendered[kind]["spec"])
    return apply


def _set(*path_and_value: object) -> Callable[[dict], None]:
    *path, value = path_and_value

    def change(spec: dict) -> None:
        node = spec
        for key in path[:-1]:
            node = node[key]  # type: ignore[index]
        if value is _DROP:
            del node[path[-1]]  # type: ignore[index]
        else:
            node[path[-1]] = value  # type: ignore[index]
    return change


_DROP = object()
JOB, SCHEDULE = "DataQualityJobDefinition", "MonitoringSchedule"
HOSTILE: dict[str, dict[str, Callable[[dict[str, dict]], None]]] = {
    "wrong target": {
        "schedule points at another model's job definition": _edit(SCHEDULE, _set(
            "monitoringScheduleConfig", "monitoringJobDefinitionName", "mlops-dev-fraud-monitor-0123456789-v3")),
        "job judges another endpoint": _edit(JOB, _set("dataQualityJobInput", "endpointInput", "endpointName",
                                                       "mlops-dev-fraud")),
        "schedule renamed (the drift alarm watches its name)": _edit(SCHEDULE, _set("monitoringScheduleName",
                                                                                    "mlops-dev-churn-quiet")),
        "monitoring type switched": _edit(SCHEDULE, _set("monitoringScheduleConfig", "monitoringType",
                                                         "ModelQuality")),
    },
    "isolation": {
        "network isolation off": _edit(JOB, _set("networkConfig", "enableNetworkIsolation", False)),
        "network isolation missing": _edit(JOB, _set("networkConfig", "enableNetworkIsolation", _DROP)),
        "inter-container encryption off": _edit(JOB, _set("networkConfig", "enableInterContainerTrafficEncryption",
                                                          False)),
    },
    "encryption": {
        "no volume key": _edit(JOB, _set("jobResources", "clusterConfig", "volumeKMSKeyID", _DROP)),
        "no output key": _edit(JOB, _set("dataQualityJobOutputConfig", "kmsKeyID", _DROP)),
        "output key of another account": _edit(JOB, _set(
            "dataQualityJobOutputConfig", "kmsKeyID", "arn:aws:kms:us-east-1:999999999999:key/0d6c2a1e-4b7f-4e8a-9c3d-"
            "5f2b1a7e9c40")),
    },
    "bounds": {
        "runtime unbounded": _edit(JOB, _set("stoppingCondition", _DROP)),
        "runtime a day": _edit(JOB, _set("stoppingCondition", "maxRuntimeInSeconds", 86400)),
        "bigger fleet": _edit(JOB, _set("jobResources", "clusterConfig", "instanceCount", 4)),
        "hourly instead of daily": _edit(SCHEDULE, _set("monitoringScheduleConfig", "scheduleConfig",
                                                        "scheduleExpression", "cron(0 * ? * * *)")),
    },
    "identity and data": {
        "another role": _edit(JOB, _set("roleARN", "arn:aws:iam::222222222222:role/mlops-dev-churn-serving")),
        "another image": _edit(JOB, _set("dataQualityAppSpecification", "imageURI",
                                         "public.ecr.aws/someone/monitor:latest")),
        "baseline of another version": _edit(JOB, _set(
            "dataQualityBaselineConfig", "statisticsResource", "s3URI",
            "s3://mlops-shared-artifacts-111111111111/churn/baselines/v1/statistics.json")),
        "baseline of another model": _edit(JOB, _set(
            "dataQualityBaselineConfig", "constraintsResource", "s3URI",
            "s3://mlops-shared-artifacts-111111111111/fraud/baselines/v3/constraints.json")),
        "no baseline": _edit(JOB, _set("dataQualityBaselineConfig", _DROP)),
        "reports into the capture prefix": _edit(JOB, lambda spec: spec["dataQualityJobOutputConfig"][
            "monitoringOutputs"][0]["s3Output"].update(s3URI="s3://mlops-shared-capture-111111111111/dev/churn/")),
        "threshold raised in the job's environment": _edit(JOB, _set("dataQualityAppSpecification", "environment",
                                                                     "PSI_THRESHOLD", "5")),
    },
    "presence": {
        "job definition removed": lambda rendered: rendered.pop(JOB),
        "schedule removed": lambda rendered: rendered.pop(SCHEDULE),
        "both removed": lambda rendered: [rendered.pop(JOB), rendered.pop(SCHEDULE)],
        "second schedule": lambda rendered: rendered.update(extra={**copy.deepcopy(rendered[SCHEDULE])}),
    },
}
CASES = [(family, name, edit) for family, edits in HOSTILE.items() for name, edit in edits.items()]


@pytest.mark.parametrize("family, name, edit", CASES, ids=[f"{f}: {n}" for f, n, _ in CASES])
def test_a_hand_edited_monitor_is_refused(family: str, name: str, edit: Callable[[dict[str, dict]], None]) -> None:
    rendered = copy.deepcopy(_rendered())
    edit(rendered)
    problems = _disagreements(list(rendered.values()))
    assert problems, f"{family}: {name} passed the overlay comparison"


def test_the_untouched_overlay_agrees_so_the_refusals_are_the_edits() -> None:
    assert _disagreements(list(_rendered().values())) == []


PACK_CASES = {  # the pack judges these on its own, without the stack config (staging: mandatory)
    "no isolation": (_edit(JOB, _set("networkConfig", "enableNetworkIsolation", False)),
                     "does not enable network isolation"),
    "no inter-container encryption": (_edit(JOB, _set("networkConfig", "enableInterContainerTrafficEncryption",
                                                      False)), "does not encrypt inter-container traffic"),
    "no volume key": (_edit(JOB, _set("jobResources", "clusterConfig", "volumeKMSKeyID", _DROP)),
                      "no customer-managed KMS key for its volume"),
    "no output key": (_edit(JOB, _set("dataQualityJobOutputConfig", "kmsKeyID", _DROP)),
                      "no customer-managed KMS key for its output"),
    "unbounded": (_edit(JOB, _set("stoppingCondition", _DROP)), "has no stoppingCondition.maxRuntimeInSeconds"),
    "too long": (_edit(JOB, _set("stoppingCondition", "maxRuntimeInSeconds", 86400)), "may run 86400 s"),
    "schedule points at another model's job definition": (_edit(SCHEDULE, _set(
        "monitoringScheduleConfig", "monitoringJobDefinitionName", "mlops-dev-fraud-monitor-0123456789-v3")),
        "captures data but no data-quality monitoring schedule judges it"),
    "job judges another endpoint": (_edit(JOB, _set("dataQualityJobInput", "endpointInput", "endpointName",
                                                    "mlops-dev-fraud")),
                                    "captures data but no data-quality monitoring schedule judges it"),
    "no monitor at all": (lambda r: [r.pop(JOB), r.pop(SCHEDULE)],
                          "captures data but no data-quality monitoring schedule judges it"),
    "schedule without job definition": (lambda r: r.pop(JOB),
                                        "captures data but no data-quality monitoring schedule judges it"),
}


@pytest.mark.parametrize("name", sorted(PACK_CASES))
@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_pack_refuses_an_unmonitored_or_unsafe_pulled_endpoint(name: str, environment: str) -> None:
    edit, message = PACK_CASES[name]
    rendered = copy.deepcopy(_rendered())
    edit(rendered)
    violations = [v for v in manifests_judge.judge(list(rendered.values()), environment, "churn")
                  if v.policy_name == DRIFT_RULE]
    assert [v.enforcement for v in violations] == ["mandatory"], violations
    assert message in violations[0].message


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_pack_accepts_the_overlays_monitor(environment: str) -> None:
    assert [v for v in manifests_judge.judge(manifests_overlays.render(CHURN), environment, "churn")
            if v.policy_name == DRIFT_RULE] == []


def test_dev_does_not_require_a_monitor_but_still_judges_one() -> None:
    rendered = _rendered()
    unmonitored = [m for k, m in rendered.items() if k not in ack.MONITOR_KINDS]
    assert [v for v in manifests_judge.judge(unmonitored, "dev", "churn") if v.policy_name == DRIFT_RULE] == []
    unsafe = copy.deepcopy(rendered)
    unsafe[JOB]["spec"]["networkConfig"]["enableNetworkIsolation"] = False
    assert [v.enforcement for v in manifests_judge.judge(list(unsafe.values()), "dev", "churn")
            if v.policy_name == DRIFT_RULE] == ["advisory"]


def test_an_overlay_that_drops_the_monitor_base_fails_the_check(tmp_path: Path) -> None:
    """By file, as a reviewer would see it: the resource line removed from the kustomization."""
    shutil.copytree(PROJECT_ROOT / "gitops", tmp_path / "gitops")
    overlay = tmp_path / "gitops" / "dev" / "churn"
    kustomization = overlay / "kustomization.yaml"
    text = kustomization.read_text()
    lines = [line for line in text.splitlines(keepends=True) if "base/sagemaker-monitor" not in line
             and "dataqualityjobdefinition-patch" not in line and "monitoringschedule-patch" not in line
             and "{kind: DataQualityJobDefinition}" not in line and "{kind: MonitoringSchedule}" not in line]
    kustomization.write_text("".join(lines))
    # The generated replacements still read the job definition's name: rendering itself fails, naming it.
    with pytest.raises(manifests_overlays.ManifestError, match="nothing selected by DataQualityJobDefinition"):
        manifests_overlays.render(overlay)
    (overlay / "release-replacements.yaml").write_text(yaml.safe_dump(ack.version_replacements(
        {k: v for k, v in ack.expected_objects(Naming("mlops", "dev"), "churn", _deploy(), pull_overlays.facts(
            _config(), overlay)).items() if k in ack.ENDPOINT_KINDS})))
    problems = _disagreements(manifests_overlays.render(overlay), overlay)
    assert problems == ["dev/churn: expected exactly one Model, EndpointConfig and Endpoint and, with monitoring, "
                        "DataQualityJobDefinition and MonitoringSchedule (resource ../../base/sagemaker-monitor); "
                        "rendered ['Endpoint', 'EndpointConfig', 'Model']"]
