"""`verify` cannot be fooled: the outputs must be the stack's own, every input file goes through the strict reader
(bad files, wrong types, empty or `[secret]` values are bad input, exit 2), and an endpoint on its declared
configuration still fails when a live variant carries another weight or no instance."""

from __future__ import annotations

import json

import pytest
import release_seed as seed
from release_cli import release

PULL_LINE = "        delivery: pull\n"
COMMIT = "ab" * 20


@pytest.fixture
def push_project(project):
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace(PULL_LINE, ""))
    return project


def _declared_and_serving() -> str:
    declared = seed.endpoint_config("dev", "churn", 3, "abcdef0123")
    seed.endpoint("dev", "churn", declared)
    return declared


def _outputs(tmp_path, declared: str) -> dict:
    return json.loads(seed.outputs_file(tmp_path / "good.json", "dev", {"churn": declared}).read_text())


def _verify(capsys, project, path):
    return release(capsys, project, "verify", "--stack", "dev", "--outputs", str(path))


def test_the_stack_s_own_outputs_pass(emulator, push_project, capsys, tmp_path):
    declared = _declared_and_serving()
    code, doc, err = _verify(capsys, push_project, seed.outputs_file(tmp_path / "o.json", "dev", {"churn": declared}))
    assert (code, err) == (0, "") and doc["endpoints"][0]["verdict"] == "ok"


def test_another_stack_s_outputs_are_bad_input(emulator, push_project, capsys, tmp_path):
    """staging's outputs name staging's endpoint: the file must not redirect dev's check to it."""
    staging = seed.endpoint_config("staging", "churn", 3, "abcdef0123")
    seed.endpoint("staging", "churn", staging)
    _declared_and_serving()
    other = seed.outputs_file(tmp_path / "staging.json", "dev", {"churn": staging})
    document = json.loads(other.read_text())
    document["endpoints"]["churn"]["endpointName"] = "mlops-staging-churn"
    other.write_text(json.dumps(document))
    code, _, err = _verify(capsys, push_project, other)
    assert code == 2 and "outputs of another stack" in err and err.count("\n") == 1


def test_a_configuration_of_another_stack_is_bad_input(emulator, push_project, capsys, tmp_path):
    _declared_and_serving()
    staging = seed.endpoint_config("staging", "churn", 3, "abcdef0123")
    code, _, err = _verify(capsys, push_project, seed.outputs_file(tmp_path / "o.json", "dev", {"churn": staging}))
    assert code == 2 and "is not a configuration of stack dev" in err


@pytest.mark.parametrize(("name", "mutate", "expected"), [
    ("endpoints a list", lambda d: d.update(endpoints=[]), "not the outputs"),
    ("endpoint name a number", lambda d: d["endpoints"]["churn"].update(endpointName=3), "endpointName"),
    ("config name null", lambda d: d["endpoints"]["churn"].update(endpointConfigName=None), "endpointConfigName"),
    ("config name empty", lambda d: d["endpoints"]["churn"].update(endpointConfigName=""), "endpointConfigName"),
    ("config name secret", lambda d: d["endpoints"]["churn"].update(endpointConfigName="[secret]"), "--show-secrets"),
    ("role ARN secret", lambda d: d.update(ciDeployRoleArn="[secret]"), "ciDeployRoleArn"),
    ("pinned version text", lambda d: d["pinnedVersions"].update(churn="3"), "pinnedVersions.churn"),
    ("pinned version boolean", lambda d: d["pinnedVersions"].update(churn=True), "pinnedVersions.churn"),
    ("pinned version zero", lambda d: d["pinnedVersions"].update(churn=0), "pinnedVersions.churn"),
    ("document a list", lambda d: d.clear() or None, None),
])
def test_wrong_types_empty_and_secret_values_are_bad_input(emulator, push_project, capsys, tmp_path, name, mutate,
                                                           expected):
    declared = _declared_and_serving()
    document = _outputs(tmp_path, declared)
    mutate(document)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document if document else []))
    code, _, err = _verify(capsys, push_project, path)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (name, err)
    assert expected is None or expected in err, (name, err)


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("duplicate key", b'{"endpoints": {}, "endpoints": {}}', "duplicate"),
    ("NaN", b'{"endpoints": {}, "pinnedVersions": {"churn": NaN}}', "NaN"),
    ("deeply nested", b'{"a": ' * 200 + b"1" + b"}" * 200, "nested"),
    ("binary", b"\x00\x01\x02", "binary"),
    ("not UTF-8", '{"endpoints": {}}'.encode("utf-16"), "UTF-8"),
    ("too large", b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}', "larger than"),
    ("empty", b"", "not valid JSON"),
])
def test_malformed_outputs_files_are_one_line_bad_input(emulator, push_project, capsys, tmp_path, name, data,
                                                        expected):
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    code, _, err = _verify(capsys, push_project, path)
    assert code == 2 and err.count("\n") == 1 and expected in err, (name, err)


@pytest.mark.parametrize(("name", "status", "expected"), [
    ("status text", "Synced", "status is str"),
    ("sync a list", {"sync": []}, "status.sync is list"),
    ("revision a number", {"sync": {"revision": 42, "status": "Synced"}}, "status.sync.revision"),
    ("health status a number", {"health": {"status": 1}}, "status.health.status"),
])
def test_argocd_application_of_the_wrong_shape_is_bad_input(emulator, project, capsys, tmp_path, name, status,
                                                            expected):
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"metadata": {"name": "mlops-dev-churn"}, "status": status}))
    code, _, err = release(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT, "--argocd-app-json",
                           str(path))
    assert code == 2 and expected in err and err.count("\n") == 1, (name, err)


def test_argocd_application_file_with_duplicate_keys_is_bad_input(emulator, project, capsys, tmp_path):
    path = tmp_path / "app.json"
    path.write_text('{"metadata": {"name": "mlops-dev-churn"}, "metadata": {"name": "other"}}')
    code, _, err = release(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT, "--argocd-app-json",
                           str(path))
    assert code == 2 and "duplicate" in err


@pytest.mark.parametrize(("name", "update", "expected"), [
    ("weight 0", {"DesiredWeight": 0.0, "DesiredInstanceCount": 1}, "carries weight 0"),
    ("0 instances", {"DesiredWeight": 1.0, "DesiredInstanceCount": 0}, "no serving capacity"),
    ("half weight", {"DesiredWeight": 0.5, "DesiredInstanceCount": 1}, "carries weight 0.5"),
])
def test_live_variants_must_carry_the_declared_weight_and_capacity(emulator, push_project, capsys, tmp_path, name,
                                                                   update, expected):
    declared = _declared_and_serving()
    seed.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName="mlops-dev-churn", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", **update}])
    outputs = seed.outputs_file(tmp_path / "o.json", "dev", {"churn": declared})
    code, doc, _ = _verify(capsys, push_project, outputs)
    assert code == 1 and doc["endpoints"][0]["verdict"] == "failed" and expected in doc["endpoints"][0]["detail"]
    code, doc, _ = release(capsys, push_project, "verify", "--stack", "dev")  # without --outputs as well
    assert code == 1 and expected in doc["endpoints"][0]["detail"], name


@pytest.mark.parametrize(("name", "damage"), [
    ("missing base", lambda k: k.write_text(k.read_text().replace("../../base/", "../../nowhere/"))),
    ("binary kustomization", lambda k: k.write_bytes(b"\x00\x01binary\xff")),
    ("invalid YAML", lambda k: k.write_text("resources: [\n  - a\n  b: c\n")),
    ("binary file beside it", lambda k: (k.parent / "zz.yaml").write_bytes(b"\x00\xff")),
])
def test_a_broken_pull_overlay_is_one_line(emulator, project, capsys, tmp_path, name, damage):
    damage(project / "gitops" / "dev" / "churn" / "kustomization.yaml")
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"metadata": {"name": "mlops-dev-churn"}}))
    code, _, err = release(capsys, project, "verify", "--stack", "dev", "--commit", COMMIT, "--argocd-app-json",
                           str(path))
    assert "Traceback" not in err and err.count("\n") <= 1, (name, err)
    if name != "binary file beside it":  # kustomize reads only the files the overlay names
        assert code == 2 and "gitops/dev/churn" in err, (name, err)
