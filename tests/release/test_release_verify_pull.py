"""`verify`, `promote` and `smoke-test` for a SageMaker endpoint delivered by pull (Argo CD + the ACK controller):
dev's churn, from the project's own overlay gitops/dev/churn. The Argo CD Application is read from a JSON file
(`--argocd-app-json`) or from a `kubectl` on PATH; the endpoint itself is checked in the emulator as on the push
path, against the configuration the overlay renders."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading

import pytest
import release_seed as seed
from release_cli import release, release_text

from infra.manifests import overlays as manifests_overlays
from infra.manifests.expectations import expected_endpoint_configs

ENDPOINT = APPLICATION = "mlops-dev-churn"
COMMIT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
OLDER = "1111111111111111111111111111111111111111"


def _application(revision: str, *, sync: str = "Synced", health: str = "Healthy", phase: str = "Succeeded",
                 message: str = "") -> dict:
    """What `kubectl -n argocd get application mlops-dev-churn -o json` shows (the fields verify reads)."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": APPLICATION, "namespace": "argocd"},
            "status": {"sync": {"status": sync, "revision": revision},
                       "health": {"status": health, **({"message": message} if message else {})},
                       "operationState": {"phase": phase}}}


def _write(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def _pulled_config(project, version: int) -> str:
    """Create in the emulator the model and endpoint configuration the overlay names for `version` (as the ACK
    controller would) and return the configuration's name."""
    rendered = manifests_overlays.render(project / "gitops" / "dev" / "churn")
    [config] = [m["spec"] for m in rendered if m["kind"] == "EndpointConfig"]
    [variant] = config["productionVariants"]
    current = config["endpointConfigName"].rsplit("-v", 1)[1]
    name = config["endpointConfigName"].removesuffix(f"-v{current}") + f"-v{version}"
    model = variant["modelName"].removesuffix(f"-v{current}") + f"-v{version}"
    sm = seed.client("sagemaker")
    sm.create_model(ModelName=model, ExecutionRoleArn=seed.ROLE, PrimaryContainer={
        "ModelPackageName": f"arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-shared-churn/{version}"})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model, "InstanceType": variant["instanceType"],
        "InitialInstanceCount": variant["initialInstanceCount"], "InitialVariantWeight": 1.0}])
    return name


def _verify(capsys, project, app_file: str, *extra: str):
    return release(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT, "--argocd-app-json", app_file,
                   *extra)


def test_the_overlay_renders_the_expected_configuration(project):
    """The fixture's overlay pins v3; the expected name ends in -v3 (the pulled naming: version last)."""
    [(endpoint, config)] = expected_endpoint_configs("dev", project / "gitops").items()
    assert endpoint == ENDPOINT and config.startswith("mlops-dev-churn-config-") and config.endswith("-v3")


def test_synced_and_on_the_overlays_configuration_is_ok(emulator, project, capsys, tmp_path):
    declared = _pulled_config(project, 3)
    assert declared == expected_endpoint_configs("dev", project / "gitops")[ENDPOINT]
    seed.endpoint("dev", "churn", declared)
    app = _write(tmp_path / "app.json", _application(COMMIT))
    # The stack outputs of an environment whose only SageMaker model is pulled list no endpoint for it.
    outputs = seed.outputs_file(tmp_path / "outputs.json", "dev", {})
    code, doc, err = _verify(capsys, project, app, "--outputs", str(outputs))
    assert (code, err) == (0, "")
    [finding] = doc["endpoints"]
    assert finding["verdict"] == "ok" and finding["delivery"] == "pull" and doc["commit"] == COMMIT
    assert (finding["endpointConfigName"], finding["declaredConfigName"]) == (declared, declared)
    code, text, err = release_text(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT[:12],
                                   "--argocd-app-json", app)
    assert (code, err) == (0, "")
    assert f"ok   {ENDPOINT} (churn): ok: InService on the declared configuration {declared}" in text
    assert "without --outputs" not in text  # the pulled configuration is always checked by its exact name


def test_a_list_of_applications_is_searched_by_name(emulator, project, capsys, tmp_path):
    seed.endpoint("dev", "churn", _pulled_config(project, 3))
    other = {**_application(OLDER), "metadata": {"name": "mlops-dev-fraud"}}
    app = _write(tmp_path / "apps.json", {"kind": "List", "items": [other, _application(COMMIT)]})
    code, doc, _ = _verify(capsys, project, app)
    assert code == 0 and doc["endpoints"][0]["verdict"] == "ok"
    code, _, err = _verify(capsys, project, _write(tmp_path / "only.json", {"kind": "List", "items": [other]}))
    assert code == 2 and "no Argo CD Application named 'mlops-dev-churn' (found: mlops-dev-fraud)" in err


def test_rolled_back_to_the_previous_configuration(emulator, project, capsys, tmp_path):
    """Argo CD synced the commit, but SageMaker's blue/green update rolled back onto v2."""
    old = _pulled_config(project, 2)
    seed.endpoint("dev", "churn", old)
    declared = _pulled_config(project, 3)
    reason = "Deployment was rolled back: alarm mlops-dev-churn-latency-p99 fired during the baking period"
    emulator.post("/_inject/sagemaker/endpoint", {"name": ENDPOINT, "set": {"failure_reason": reason}})
    code, doc, _ = _verify(capsys, project, _write(tmp_path / "app.json", _application(COMMIT)))
    assert code == 1
    [finding] = doc["endpoints"]
    assert finding["verdict"] == "rolled-back" and reason in finding["detail"]
    assert (finding["endpointConfigName"], finding["declaredConfigName"]) == (old, declared)


def test_not_yet_switched_to_the_overlays_configuration(emulator, project, capsys, tmp_path):
    """The endpoint still serves v2 and the controller has not even created the v3 configuration."""
    old = _pulled_config(project, 2)
    seed.endpoint("dev", "churn", old)
    code, text, _ = release_text(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT,
                                 "--argocd-app-json", _write(tmp_path / "app.json", _application(COMMIT)))
    assert code == 1
    assert f"FAIL {ENDPOINT} (churn): never-updated: InService on {old}, not on the declared " in text
    assert "the declared configuration does not exist" in text


def test_not_yet_synced_waits_until_the_deadline(emulator, project, capsys, tmp_path):
    """Argo CD still shows the previous commit: still updating, exit 1, and the endpoint (absent here) is not
    judged before the sync."""
    app = _write(tmp_path / "app.json", _application(OLDER))
    code, doc, _ = _verify(capsys, project, app, "--wait", "--timeout", "0.6", "--interval", "0.1")
    assert code == 1
    [finding] = doc["endpoints"]
    assert finding["verdict"] == "updating" and finding["delivery"] == "pull"
    assert finding["detail"] == (f"Argo CD application {APPLICATION} has not synced {COMMIT[:12]} and turned "
                                 f"healthy: synced revision is {OLDER}, not {COMMIT}; gave up after 0.6 s")
    code, doc, _ = _verify(capsys, project, _write(tmp_path / "app2.json", _application(COMMIT, health="Progressing")))
    assert code == 1 and doc["endpoints"][0]["verdict"] == "updating"
    assert doc["endpoints"][0]["detail"].endswith("health is Progressing")  # without --wait: one look


def test_wait_follows_the_sync_then_checks_the_endpoint(emulator, project, capsys, tmp_path):
    seed.endpoint("dev", "churn", _pulled_config(project, 3))
    app_file = tmp_path / "app.json"
    _write(app_file, _application(OLDER))
    synced = threading.Timer(0.5, _write, (app_file, _application(COMMIT)))
    synced.start()
    try:
        code, doc, _ = _verify(capsys, project, str(app_file), "--wait", "--timeout", "20", "--interval", "0.1")
    finally:
        synced.join()
    assert code == 0 and doc["endpoints"][0]["verdict"] == "ok"


def test_degraded_or_failed_sync_is_a_failure(emulator, project, capsys, tmp_path):
    degraded = _application(COMMIT, health="Degraded", message="EndpointStatus is Failed")
    code, doc, _ = _verify(capsys, project, _write(tmp_path / "app.json", degraded))
    assert code == 1 and doc["endpoints"][0]["verdict"] == "failed"
    assert doc["endpoints"][0]["detail"].endswith("health is Degraded: EndpointStatus is Failed")
    failed = _application(COMMIT, sync="OutOfSync", phase="Failed")
    code, doc, _ = _verify(capsys, project, _write(tmp_path / "app2.json", failed))
    assert code == 1 and doc["endpoints"][0]["verdict"] == "updating"  # OutOfSync: Argo CD may still retry


def test_commit_and_application_file_are_checked_input(emulator, project, capsys, tmp_path):
    code, _, err = release(capsys, project, "verify", "--stack", "dev")
    assert code == 2 and "--commit: required to verify the pull-delivered churn" in err
    code, _, err = release(capsys, project, "verify", "--stack", "dev", "--commit", "main")
    assert code == 2 and "--commit main: expected a Git commit SHA" in err
    code, _, err = _verify(capsys, project, str(tmp_path / "missing.json"))
    assert code == 2 and f"--argocd-app-json {tmp_path / 'missing.json'}: cannot read" in err
    (tmp_path / "bad.json").write_text("{")
    code, _, err = _verify(capsys, project, str(tmp_path / "bad.json"))
    assert code == 2 and "not valid JSON" in err and err.count("\n") == 1


def test_github_sha_is_the_default_commit(emulator, project, capsys, tmp_path, monkeypatch):
    seed.endpoint("dev", "churn", _pulled_config(project, 3))
    monkeypatch.setenv("GITHUB_SHA", COMMIT)
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--argocd-app-json",
                           _write(tmp_path / "app.json", _application(COMMIT)))
    assert code == 0 and doc["commit"] == COMMIT


@pytest.fixture
def fake_kubectl(tmp_path, monkeypatch):
    """A `kubectl` first on PATH: `kustomize` goes to the real one, `get` answers from files the test writes."""
    real = shutil.which("kubectl")
    assert real, "kubectl is needed to render overlays"
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "kubectl"
    script.write_text(f"""#!/bin/sh
if [ "$1" = kustomize ]; then exec {real} "$@"; fi
echo "$*" >> {folder}/calls
if [ -f {folder}/answer.json ]; then cat {folder}/answer.json; exit 0; fi
echo 'Error from server (NotFound): applications.argoproj.io "mlops-dev-churn" not found' >&2
exit 1
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def test_by_default_the_application_comes_from_kubectl(emulator, project, capsys, fake_kubectl):
    seed.endpoint("dev", "churn", _pulled_config(project, 3))
    code, out, err = release(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err  # kubectl failed: no verdict
    assert err == ("infra.release verify: error: kubectl -n argocd get application mlops-dev-churn -o json failed: "
                   "Error from server (NotFound): applications.argoproj.io \"mlops-dev-churn\" not found\n")
    _write(fake_kubectl / "answer.json", _application(COMMIT))
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT)
    assert code == 0 and doc["endpoints"][0]["verdict"] == "ok"
    assert (fake_kubectl / "calls").read_text().splitlines()[-1] == \
        "-n argocd get application mlops-dev-churn -o json"


def test_without_kubectl_is_one_clear_usage_error(emulator, project, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = release(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT)
    assert code == 2 and err.count("\n") == 1 and "kubectl is not installed" in err


def test_promote_edits_only_the_overlays_promotion_line(emulator, project, capsys):
    for _ in range(5):
        seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.9))
    kustomization = project / "gitops" / "dev" / "churn" / "kustomization.yaml"
    before = kustomization.read_text()
    others = {p: p.read_bytes() for p in (project / "gitops" / "dev" / "churn").iterdir() if p != kustomization}
    stack_before = (project / "stacks" / "Pulumi.dev.yaml").read_text()
    code, doc, _ = release(capsys, project, "promote", "--model", "churn", "--to", "dev")
    assert code == 0 and (doc["target"], doc["delivery"]) == ("sagemaker", "pull")
    assert (doc["from"], doc["to"]) == (3, 5)
    assert doc["file"].endswith("gitops/dev/churn/kustomization.yaml")
    marker = " # mlops:approvedVersion"
    assert kustomization.read_text() == before.replace(f"MODEL_PACKAGE_VERSION=3{marker}",
                                                       f"MODEL_PACKAGE_VERSION=5{marker}")
    assert (project / "stacks" / "Pulumi.dev.yaml").read_text() == stack_before  # Pulumi does not serve it
    assert {p: p.read_bytes() for p in others} == others
    assert expected_endpoint_configs("dev", project / "gitops")[ENDPOINT].endswith("-v5")  # what Argo CD will serve


def test_smoke_test_invokes_the_pulled_endpoint(emulator, project, capsys):
    """The pulled endpoint has the same name as a pushed one (Naming.endpoint), so smoke-test needs nothing else."""
    seed.endpoint("dev", "churn", _pulled_config(project, 3))
    emulator.post("/moto-api/static/sagemaker/endpoint-results", {"results": [{
        "Body": '{"predictions": [{"predicted_label": 0, "score": 0.1}, {"predicted_label": 1, "score": 0.7}, '
                '{"predicted_label": 0, "score": 0.2}]}', "ContentType": "application/json"}]})
    code, text, err = release_text(capsys, project, "smoke-test", "--stack", "dev")
    assert (code, err) == (0, "")
    assert text.startswith(f"ok   {ENDPOINT} (churn): 3 predictions in [0, 1], ")


def test_promote_moves_the_monitors_baseline_with_the_one_line(emulator, project, capsys):
    """Issue 18 gap 2: the real `promote` edits one line; the drift monitor's job definition (name, schedule's
    reference, both baseline URIs) follows to the promoted version's baseline, and nothing else of it changes."""
    for _ in range(5):
        seed.register("churn", status="Approved", report=seed.evaluation_report("auc", 0.9))
    overlay = project / "gitops" / "dev" / "churn"
    kustomization = overlay / "kustomization.yaml"
    before_text = kustomization.read_text()
    before = {m["kind"]: m for m in manifests_overlays.render(overlay)}
    code, doc, _ = release(capsys, project, "promote", "--model", "churn", "--to", "dev")
    assert code == 0 and (doc["from"], doc["to"]) == (3, 5)
    changed = [(a, b) for a, b in zip(before_text.splitlines(), kustomization.read_text().splitlines(), strict=True)
               if a != b]
    assert len(changed) == 1 and "# mlops:approvedVersion" in changed[0][1]
    after = {m["kind"]: m for m in manifests_overlays.render(overlay)}
    job, old_job = after["DataQualityJobDefinition"], before["DataQualityJobDefinition"]
    baseline = job["spec"]["dataQualityBaselineConfig"]
    artifacts = "s3://mlops-shared-artifacts-111111111111/churn/baselines"
    assert baseline == {"statisticsResource": {"s3URI": f"{artifacts}/v5/statistics.json"},
                        "constraintsResource": {"s3URI": f"{artifacts}/v5/constraints.json"}}
    assert job["metadata"]["name"] == job["spec"]["jobDefinitionName"] == \
        old_job["metadata"]["name"].removesuffix("-v3") + "-v5"
    schedule = after["MonitoringSchedule"]
    assert schedule["spec"]["monitoringScheduleConfig"]["monitoringJobDefinitionName"] == job["metadata"]["name"]
    assert schedule["metadata"]["name"] == before["MonitoringSchedule"]["metadata"]["name"]  # the alarm's schedule
    unchanged = {k: v for k, v in job["spec"].items() if k not in ("jobDefinitionName", "dataQualityBaselineConfig")}
    assert unchanged == {k: v for k, v in old_job["spec"].items()
                         if k not in ("jobDefinitionName", "dataQualityBaselineConfig")}
