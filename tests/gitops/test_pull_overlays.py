"""SageMaker by pull: every pull overlay renders the three ACK objects, validates against the pinned controller's
CRDs, says what the stack config says, passes the pack's SageMaker rules through the one adapter, and promotes
with one line; a careless overlay fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from crd_schemas import validate as validate_custom_resource

from infra.config import parse_stack_config
from infra.core import ack
from infra.core.ack_controller import CHART_VERSION
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests import cli as manifests_cli
from infra.manifests import expectations as gitops_expectations
from infra.manifests import judge as manifests_judge
from infra.manifests import overlays as manifests_overlays
from infra.manifests import pull_overlays
from infra.manifests.sagemaker_view import sagemaker_view
from infra.plan.model import PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import plan_program, plan_stack

PULL = [o for o in manifests_overlays.overlays() if pull_overlays.is_pull_overlay(o.path)]
IDS = [f"{o.environment}/{o.model}" for o in PULL]
CARELESS = PROJECT_ROOT / "tests" / "fixtures" / "gitops" / "prod" / "careless-pull"


def test_dev_delivers_churn_by_pull_and_every_pulled_model_has_an_overlay() -> None:
    assert IDS == ["dev/churn"]
    for env in ("dev", "staging", "prod"):
        config = parse_stack_config(load_stack(PROJECT_ROOT, env).config)
        assert sorted(o.model for o in PULL if o.environment == env) == sorted(config.pulled_sagemaker_models())


@pytest.mark.parametrize("overlay", PULL, ids=IDS)
def test_overlay_renders_exactly_the_ack_objects_and_not_the_release_config_map(
        overlay: manifests_overlays.Overlay) -> None:
    rendered = manifests_overlays.render(overlay.path)
    assert sorted((m["apiVersion"], m["kind"]) for m in rendered) == sorted((ack.API_VERSION, k) for k in ack.KINDS)
    waves = {m["kind"]: m["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for m in rendered}
    # Created in dependency order: the monitor judges the endpoint's capture, the schedule names the definition.
    assert waves == {"Model": "0", "EndpointConfig": "1", "Endpoint": "2", "DataQualityJobDefinition": "3",
                     "MonitoringSchedule": "4"}
    retained = {m["kind"] for m in rendered
                if m["metadata"]["annotations"].get("services.k8s.aws/deletion-policy") == "retain"}
    assert retained == {"Model", "EndpointConfig"}  # as the push path's retain_on_delete


@pytest.mark.parametrize("overlay", PULL, ids=IDS)
def test_ack_objects_validate_against_the_pinned_controller_crds(overlay: manifests_overlays.Overlay) -> None:
    assert [e for m in manifests_overlays.render(overlay.path) for e in validate_custom_resource(m)] == []


def test_crd_validation_catches_a_field_spelt_the_provider_way() -> None:
    config = next(m for m in manifests_overlays.render(PULL[0].path) if m["kind"] == "EndpointConfig")
    config["spec"]["kmsKeyId"] = config["spec"].pop("kmsKeyID")  # ACK spells it kmsKeyID
    assert any("'kmsKeyId' was unexpected" in e for e in validate_custom_resource(config))


@pytest.mark.parametrize("overlay", PULL, ids=IDS)
def test_overlay_agrees_with_the_stack_config_and_passes_the_pack(overlay: manifests_overlays.Overlay) -> None:
    violations, problems = manifests_cli.check(overlay)
    assert problems == []
    assert violations == []


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


def test_ack_objects_mean_what_the_push_path_declares(dev_pushed: PlanResult) -> None:
    """The same stack config, pushed and pulled: the adapted ACK objects carry the push path's values."""
    churn = PROJECT_ROOT / "gitops" / "dev" / "churn"
    rendered = {m["kind"]: sagemaker_view(m) for m in manifests_overlays.render(churn)}
    pushed = dev_pushed

    def push(type_: str) -> dict:
        (resource,) = [r for r in pushed.resources if r.type == type_ and r.name == "churn"]
        return resource.inputs

    config_type, config = rendered["EndpointConfig"]
    push_config = push(config_type)
    keys = ("variantName", "instanceType", "initialInstanceCount", "initialVariantWeight")
    assert [{k: v[k] for k in keys} for v in config["productionVariants"]] == \
        [{k: v[k] for k in keys} for v in push_config["productionVariants"]]
    capture_keys = ("enableCapture", "initialSamplingPercentage", "destinationS3Uri", "captureOptions",
                    "captureContentTypeHeader")
    assert {k: config["dataCaptureConfig"][k] for k in capture_keys} == \
        {k: push_config["dataCaptureConfig"][k] for k in capture_keys}
    endpoint_type, endpoint = rendered["Endpoint"]
    assert endpoint["deploymentConfig"] == push(endpoint_type)["deploymentConfig"]
    assert endpoint["name"] == push(endpoint_type)["name"] == "mlops-dev-churn"
    model_type, model = rendered["Model"]
    assert model["primaryContainer"] == push(model_type)["primaryContainer"]
    assert model["enableNetworkIsolation"] is push(model_type)["enableNetworkIsolation"] is True


def test_canary_and_linear_steps_are_sent_as_instance_counts_with_every_rollback_alarm() -> None:
    """The same arithmetic as the push path (infra.core.rollout): prod's canary, staging's linear, if pulled."""
    for env, routing_type, size_key in (("prod", "CANARY", "canarySize"), ("staging", "LINEAR", "linearStepSize")):
        config = parse_stack_config(load_stack(PROJECT_ROOT, env).config)
        deploy = config.sagemaker_models()["churn"].model_copy(update={"shadow": None, "delivery": "pull"})
        facts = ack.PullFacts(environment=env, region="us-east-1", account_id="444444444444",
                              shared_account_id="111111111111", shared_region="us-east-1",
                              capture_kms_key_arn="arn:aws:kms:us-east-1:111111111111:key/k",
                              shared_stack=config.shared_stack, monitor_image_tag="1.4.0")
        endpoint = ack.expected_objects(Naming("mlops", env), "churn", deploy, facts)["Endpoint"]["spec"]
        routing = endpoint["deploymentConfig"]["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
        assert routing["type_"] == routing_type
        assert routing[size_key] == {"type_": "INSTANCE_COUNT", "value": deploy.traffic_steps()[0].instances}
        assert routing["waitIntervalInSeconds"] == deploy.rollout.wait_seconds
        alarms = endpoint["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]
        assert alarms == [{"alarmName": f"mlops-{env}-churn-{s}"} for s in ("5xx-errors", "model-errors",
                                                                              "latency-p99")]


def _copy(tmp_path: Path) -> manifests_overlays.Overlay:
    shutil.copytree(PROJECT_ROOT / "gitops", tmp_path / "gitops")
    return manifests_overlays.overlay_of(tmp_path / "gitops" / "dev" / "churn")


def test_promotion_is_one_line_and_makes_new_immutable_objects(tmp_path: Path) -> None:
    overlay = _copy(tmp_path)
    before = {m["kind"]: m for m in manifests_overlays.render(overlay.path)}
    kustomization = overlay.path / "kustomization.yaml"
    text = kustomization.read_text()
    kustomization.write_text(text.replace("- MODEL_PACKAGE_VERSION=3 #", "- MODEL_PACKAGE_VERSION=4 #"))
    assert sum(a != b for a, b in zip(text.splitlines(), kustomization.read_text().splitlines(), strict=True)) == 1
    after = {m["kind"]: m for m in manifests_overlays.render(overlay.path)}
    assert manifests_overlays.promoted_version(overlay) == 4
    model, config, endpoint = after["Model"], after["EndpointConfig"], after["Endpoint"]
    assert model["spec"]["primaryContainer"]["modelPackageName"].endswith("model-package/mlops-shared-churn/4")
    assert model["metadata"]["name"] == model["spec"]["modelName"] == \
        before["Model"]["metadata"]["name"].removesuffix("-v3") + "-v4"
    assert config["spec"]["productionVariants"][0]["modelName"] == model["metadata"]["name"]
    assert config["metadata"]["name"] == config["spec"]["endpointConfigName"] == \
        before["EndpointConfig"]["metadata"]["name"].removesuffix("-v3") + "-v4"
    assert endpoint["spec"]["endpointConfigName"] == config["metadata"]["name"]  # the endpoint switches
    assert endpoint["metadata"]["name"] == before["Endpoint"]["metadata"]["name"]  # and stays the same endpoint
    assert gitops_expectations.expected_endpoint_configs("dev", tmp_path / "gitops") == {
        "mlops-dev-churn": config["metadata"]["name"]}


def test_a_content_change_makes_a_new_name_and_ci_fails_until_the_patches_are_regenerated(tmp_path: Path) -> None:
    overlay = _copy(tmp_path)
    stale = overlay.path / "endpointconfig-patch.yaml"
    stale.write_text(stale.read_text().replace("initialSamplingPercentage: 10", "initialSamplingPercentage: 50"))
    config = parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
    facts = pull_overlays.facts(config, overlay.path)
    problems = pull_overlays.disagreements("dev/churn", manifests_overlays.render(overlay.path), Naming("mlops", "dev"),
                                           "churn", config.pulled_sagemaker_models()["churn"], facts, 3)
    assert problems == ["dev/churn: EndpointConfig spec differs from the stack config's; run "
                        "`python -m infra.manifests --write-patches` and review the diff"]
    more = config.pulled_sagemaker_models()["churn"].model_copy(update={"data_capture_percent": 50})
    original = ack.expected_objects(Naming("mlops", "dev"), "churn", config.pulled_sagemaker_models()["churn"], facts)
    changed = ack.expected_objects(Naming("mlops", "dev"), "churn", more, facts)
    assert changed["EndpointConfig"]["name"] != original["EndpointConfig"]["name"]  # immutable: a new one
    assert changed["Model"]["name"] == original["Model"]["name"]  # the model did not change


def test_the_capture_key_line_must_be_the_shared_stacks_key(tmp_path: Path) -> None:
    overlay = _copy(tmp_path)
    kustomization = overlay.path / "kustomization.yaml"
    text = kustomization.read_text()
    kustomization.write_text(text.replace("arn:aws:kms:us-east-1:111111111111:key/",
                                          "arn:aws:kms:us-east-1:999999999999:key/"))
    config = parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
    problems = pull_overlays.disagreements("dev/churn", manifests_overlays.render(overlay.path), Naming("mlops", "dev"),
                                           "churn", config.pulled_sagemaker_models()["churn"],
                                           pull_overlays.facts(config, overlay.path), 3)
    assert problems[0].startswith("dev/churn: CAPTURE_KMS_KEY_ARN must be the shared stack's key ARN")


def test_the_committed_generated_files_are_current() -> None:
    overlay = manifests_overlays.overlay_of(PROJECT_ROOT / "gitops" / "dev" / "churn")
    config = parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
    files = pull_overlays.generated_files("dev", "churn", Naming("mlops", "dev"),
                                          config.pulled_sagemaker_models()["churn"],
                                          pull_overlays.facts(config, overlay.path))
    assert {name: (overlay.path / name).read_text() for name in files} == files  # the committed ones are current
    assert manifests_cli.write_patches(overlay) == []


def test_a_careless_pull_overlay_fails_the_pack_sagemaker_rules(capsys: pytest.CaptureFixture) -> None:
    rendered = manifests_overlays.render(CARELESS)
    mandatory = [v for v in manifests_judge.judge(rendered, "prod", "careless-pull") if v.enforcement == "mandatory"]
    assert {v.policy_name for v in mandatory} == {"sagemaker-endpoint-kms", "sagemaker-data-capture",
                                                  "sagemaker-endpoint-safe-deployment",
                                                  "sagemaker-model-pinned-package",
                                                  "sagemaker-model-network-isolation"}
    messages = "\n".join(v.message for v in mandatory)
    assert "lets its container make network calls" in messages
    assert "sets no kmsKeyArn" in messages
    assert "has no dataCaptureConfig" in messages
    assert "shifts traffic ALL_AT_ONCE" in messages and "0 auto-rollback alarm(s)" in messages
    assert "built from an image/model data URL" in messages  # the `latest` image, not an approved package
    assert manifests_cli.main([str(CARELESS)]) == 1
    assert "prod/careless-pull: FAIL" in capsys.readouterr().out


def test_the_adapter_is_the_only_translation_and_maps_ack_spelling_to_the_providers() -> None:
    view = sagemaker_view({
        "apiVersion": ack.API_VERSION, "kind": "EndpointConfig", "metadata": {"name": "c"},
        "spec": {"endpointConfigName": "c", "kmsKeyID": "k1",
                 "productionVariants": [{"variantName": "AllTraffic", "serverlessConfig": {"memorySizeInMB": 2048}}],
                 "dataCaptureConfig": {"destinationS3URI": "s3://b/p/", "kmsKeyID": "k2"},
                 "asyncInferenceConfig": {"outputConfig": {"kmsKeyID": "k3", "s3OutputPath": "s3://b/o"}}},
    })
    assert view == ("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {
        "name": "c", "kmsKeyArn": "k1",
        "productionVariants": [{"variantName": "AllTraffic", "serverlessConfig": {"memorySizeInMb": 2048}}],
        "dataCaptureConfig": {"destinationS3Uri": "s3://b/p/", "kmsKeyId": "k2"},
        "asyncInferenceConfig": {"outputConfig": {"kmsKeyId": "k3", "s3OutputPath": "s3://b/o"}},
    })
    endpoint = sagemaker_view({"apiVersion": ack.API_VERSION, "kind": "Endpoint", "spec": {
        "endpointName": "e", "deploymentConfig": {"blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {
            "type_": "CANARY", "canarySize": {"type_": "INSTANCE_COUNT", "value": 1}}}}}})
    assert endpoint is not None
    assert json.dumps(endpoint[1], sort_keys=True) == json.dumps({"name": "e", "deploymentConfig": {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {
            "type": "CANARY", "canarySize": {"type": "INSTANCE_COUNT", "value": 1}}}}}, sort_keys=True)
    assert sagemaker_view({"apiVersion": "v1", "kind": "ConfigMap"}) is None


def test_verify_expectations_come_from_the_rendered_overlays() -> None:
    rendered = {m["kind"]: m for m in manifests_overlays.render(PROJECT_ROOT / "gitops" / "dev" / "churn")}
    assert gitops_expectations.expected_endpoint_configs("dev") == {
        "mlops-dev-churn": rendered["EndpointConfig"]["metadata"]["name"]}
    assert gitops_expectations.expected_endpoint_configs("prod") == {}
    assert gitops_expectations.expected_package_versions("dev") == {"churn": 3}


def test_the_release_tool_finds_the_same_promotion_line(tmp_path: Path) -> None:
    """`infra.release promote` finds its pull-path pin by the `# mlops:approvedVersion` marker; it must be the
    line `infra.manifests` reads the version from, and rewriting it promotes."""
    from infra.release.promote import gitops_pin, write_pin

    overlay = _copy(tmp_path)
    pin = gitops_pin(tmp_path, "dev", "churn")
    assert pin.file.name == "kustomization.yaml" and pin.version == manifests_overlays.promoted_version(overlay) == 3
    write_pin(pin, 5)
    assert manifests_overlays.promoted_version(overlay) == 5
    endpoint = next(m for m in manifests_overlays.render(overlay.path) if m["kind"] == "Endpoint")
    assert endpoint["spec"]["endpointConfigName"].endswith("-v5")


def test_vendored_ack_crds_are_those_of_the_pinned_controller() -> None:
    from crd_schemas import CRD_DIR

    readme = (CRD_DIR / "README.md").read_text()
    assert f"sagemaker-chart {CHART_VERSION} ({CHART_VERSION}, ACK runtime v0.62.0)" in readme
    assert "`v1.9.1` | `dc4970704d3bbd86772bbb22d39b42ee12c22876`" in readme
    for name in ("models", "endpointconfigs", "endpoints"):
        crd = (CRD_DIR / f"ack-sagemaker-{name}.yaml").read_text()
        assert f"name: {name}.sagemaker.services.k8s.aws" in crd


def test_sync_verdict_waits_for_the_commit_to_be_synced_and_healthy() -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"

    def app(revision: str, sync: str = "Synced", health: str = "Healthy", phase: str = "Succeeded",
            message: str = "") -> dict:
        return {"status": {"sync": {"status": sync, "revision": revision},
                           "health": {"status": health, **({"message": message} if message else {})},
                           "operationState": {"phase": phase}}}

    assert gitops_expectations.sync_verdict(app(commit), commit) is None
    assert gitops_expectations.sync_verdict(app(commit), commit[:12]) is None  # a short SHA names the same commit
    assert gitops_expectations.sync_verdict(app("fedcba9876543210"), commit).startswith("synced revision is fedcba")
    assert gitops_expectations.sync_verdict(app(commit, sync="OutOfSync"), commit) == "sync status is OutOfSync"
    assert gitops_expectations.sync_verdict(app(commit, phase="Running"), commit) == "last sync operation is Running"
    assert gitops_expectations.sync_verdict(
        app(commit, health="Degraded", message="unable to update endpoint. check FailureReason"), commit) == \
        "health is Degraded: unable to update endpoint. check FailureReason"
    assert gitops_expectations.sync_verdict({}, commit) == f"synced revision is none, not {commit}"
    assert gitops_expectations.sync_verdict(app(commit), "") is not None
