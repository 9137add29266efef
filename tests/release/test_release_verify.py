"""`verify` against the emulator. moto has no UpdateEndpoint and no deployment or rollback state, and its
endpoints are InService at once; the states a real blue/green update ends in are injected into the running
emulator (`/_inject/sagemaker/endpoint`, see emulator.py) where the API cannot produce them.

These are the push path: the project's dev stack delivers churn by pull, so the copy here switches it to push
(the pull path is in test_release_verify_pull.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import release_seed as seed
from release_cli import release, release_text

DEV_ENDPOINT = "mlops-dev-churn"
PULL_LINE = "        delivery: pull\n"


@pytest.fixture
def project(project):
    """The project copy with dev's churn delivered by push (Pulumi), as staging and prod deliver it."""
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    assert text.count(PULL_LINE) == 1
    stack_file.write_text(text.replace(PULL_LINE, ""))
    return project


def _inject(emulator, **values) -> None:
    emulator.post("/_inject/sagemaker/endpoint", {"name": DEV_ENDPOINT, "set": values})


def _old_and_declared(emulator, tmp_path):
    """The endpoint serves the old configuration (v2); the stack declares a new one (v3)."""
    old = seed.endpoint_config("dev", "churn", 2, "0ld0ld0ld0")
    seed.endpoint("dev", "churn", old)
    declared = seed.endpoint_config("dev", "churn", 3, "d3c1a4ed00")
    return old, declared, seed.outputs_file(tmp_path / "outputs.json", "dev", {"churn": declared})


def test_in_service_on_the_declared_configuration(emulator, project, capsys, tmp_path):
    declared = seed.endpoint_config("dev", "churn", 3, "abcdef0123")
    seed.endpoint("dev", "churn", declared)
    outputs = seed.outputs_file(tmp_path / "outputs.json", "dev", {"churn": declared})
    code, text, err = release_text(capsys, project, "verify", "--stack", "dev", "--outputs", str(outputs))
    assert (code, err) == (0, "")
    assert f"ok   {DEV_ENDPOINT} (churn): ok: InService on the declared configuration {declared}" in text
    assert "skip fraud: not served on SageMaker in dev" in text


def test_rolled_back_with_the_reason_aws_gives(emulator, project, capsys, tmp_path):
    old, declared, outputs = _old_and_declared(emulator, tmp_path)
    reason = "Deployment was rolled back: alarm mlops-dev-churn-latency-p99 fired during the baking period"
    _inject(emulator, failure_reason=reason)  # injected: moto never sets FailureReason on an InService endpoint
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(outputs))
    assert code == 1
    [finding] = doc["endpoints"]
    assert finding["verdict"] == "rolled-back" and reason in finding["detail"]
    assert (finding["endpointConfigName"], finding["declaredConfigName"]) == (old, declared)


def test_rolled_back_named_by_the_alarm_in_alarm(emulator, project, capsys, tmp_path):
    _old_and_declared(emulator, tmp_path)
    seed.alarm("dev", "churn", "5xx-errors", "OK")
    seed.alarm("dev", "churn", "latency-p99", "ALARM")
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(tmp_path / "outputs.json"))
    assert code == 1
    assert doc["endpoints"][0]["verdict"] == "rolled-back"
    assert "alarm mlops-dev-churn-latency-p99 in ALARM" in doc["endpoints"][0]["detail"]


def test_rolled_back_told_by_the_timeline(emulator, project, capsys, tmp_path):
    _old_and_declared(emulator, tmp_path)
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    _inject(emulator, last_modified_time=later)  # injected: moto has no UpdateEndpoint to touch the endpoint
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(tmp_path / "outputs.json"))
    assert code == 1 and doc["endpoints"][0]["verdict"] == "rolled-back"
    assert "after the declared configuration was created, and went back" in doc["endpoints"][0]["detail"]


def test_never_updated(emulator, project, capsys, tmp_path):
    old, declared, outputs = _old_and_declared(emulator, tmp_path)
    code, text, _ = release_text(capsys, project, "verify", "--stack", "dev", "--outputs", str(outputs))
    assert code == 1
    assert f"FAIL {DEV_ENDPOINT} (churn): never-updated: InService on {old}, not on the declared {declared}" in text
    assert "has not changed since before the declared configuration was created" in text
    missing = seed.outputs_file(tmp_path / "o2.json", "dev", {"churn": "mlops-dev-churn-notcreated"})
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(missing))
    assert code == 1 and "the declared configuration does not exist" in doc["endpoints"][0]["detail"]


def test_without_outputs_the_pinned_version_is_checked(emulator, project, capsys):
    old = seed.endpoint_config("dev", "churn", 2, "0ld0ld0ld0")
    seed.endpoint("dev", "churn", old)
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev")
    assert code == 1 and doc["exactConfig"] is False
    assert doc["endpoints"][0]["verdict"] == "never-updated"
    assert "not v3 as the stack pins" in doc["endpoints"][0]["detail"]


def test_without_outputs_a_matching_configuration_passes_with_a_note(emulator, project, capsys):
    seed.endpoint("dev", "churn", seed.endpoint_config("dev", "churn", 3, "abcdef0123"))
    code, text, _ = release_text(capsys, project, "verify", "--stack", "dev")
    assert code == 0 and "serving v3 as declared" in text
    assert "without --outputs the exact endpoint configuration name is not checked" in text


def test_wrong_instance_type_without_outputs(emulator, project, capsys):
    seed.endpoint("dev", "churn", seed.endpoint_config("dev", "churn", 3, "abcdef0123", instance_type="ml.c5.xlarge"))
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev")
    assert code == 1 and "instance type is ml.c5.xlarge, not ml.m5.large" in doc["endpoints"][0]["detail"]


def test_still_updating_waits_until_the_deadline(emulator, project, capsys, tmp_path):
    _, declared, outputs = _old_and_declared(emulator, tmp_path)
    _inject(emulator, endpoint_status="Updating")  # injected: moto endpoints never leave InService
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(outputs), "--wait",
                           "--timeout", "0.6", "--interval", "0.1")
    assert code == 1 and doc["endpoints"][0]["verdict"] == "updating"
    assert f"still Updating towards {declared}" in doc["endpoints"][0]["detail"]
    assert doc["endpoints"][0]["detail"].endswith("; gave up after 0.6 s")


def test_wait_follows_an_update_to_its_end(emulator, project, capsys, tmp_path):
    _, declared, outputs = _old_and_declared(emulator, tmp_path)
    _inject(emulator, endpoint_status="Updating")
    finish = threading.Timer(0.5, _inject, (emulator,), {"endpoint_status": "InService",
                                                           "endpoint_config_name": declared})
    finish.start()
    try:
        code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(outputs), "--wait",
                               "--timeout", "20", "--interval", "0.1")
    finally:
        finish.join()
    assert code == 0 and doc["endpoints"][0]["verdict"] == "ok"


def test_failed_and_missing_endpoints(emulator, project, capsys, tmp_path):
    _, _, outputs = _old_and_declared(emulator, tmp_path)
    reason = "The primary container did not pass the ping health check"
    _inject(emulator, endpoint_status="Failed", failure_reason=reason)
    code, doc, _ = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(outputs))
    assert code == 1 and doc["endpoints"][0]["verdict"] == "failed"
    assert doc["endpoints"][0]["detail"] == "Failed: The primary container did not pass the ping health check"
    code, doc, _ = release(capsys, project, "verify", "--stack", "staging")
    assert code == 1 and doc["endpoints"][0]["detail"] == "the endpoint does not exist (never created, or deleted)"


def test_bad_outputs_and_stacks_are_usage_errors(emulator, project, capsys, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(tmp_path / "bad.json"))
    assert code == 2 and f"--outputs {tmp_path / 'bad.json'}: not valid JSON" in err
    other = seed.outputs_file(tmp_path / "other.json", "dev", {"fraud": "x"})
    code, _, err = release(capsys, project, "verify", "--stack", "dev", "--outputs", str(other))
    assert code == 2 and "no endpoint of model 'churn'" in err
    code, _, err = release(capsys, project, "verify", "--stack", "shared")
    assert code == 2 and "verify an environment stack" in err
    code, _, err = release(capsys, project, "verify", "--stack", "qa")
    assert code == 2 and "unknown stack 'qa'" in err
