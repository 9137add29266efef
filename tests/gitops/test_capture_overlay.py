"""The rendered model-server overlays (`kubectl kustomize`) carry what shipping the data capture needs: the IRSA
annotation, a bounded writable emptyDir, the server's capture settings, the capture-shipper native sidecar under
the same hardening, and a termination grace period that lets the shipper flush after the server drained. And the
manifests check refuses an overlay that drifts from any of it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import parse_stack_config
from infra.core import capture_sidecar
from infra.core.arns import Arns
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests import model_server
from infra.manifests import overlays as manifests_overlays
from infra.plan.project import load_stack

CAPTURING = ["dev", "staging", "prod"]


def _rendered(path: Path) -> list[dict[str, Any]]:
    return manifests_overlays.render(path)


def _pod(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    (rollout,) = [m for m in rendered if m["kind"] == "Rollout"]
    return rollout["spec"]["template"]["spec"]


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [i for i in items if i["name"] == name]
    return found


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


@pytest.mark.parametrize("env", CAPTURING)
def test_the_rendered_overlay_ships_capture_with_its_irsa_role(env: str) -> None:
    config = parse_stack_config(load_stack(PROJECT_ROOT, env).config)
    rendered = _rendered(PROJECT_ROOT / "gitops" / env / "fraud")
    (account,) = [m for m in rendered if m["kind"] == "ServiceAccount"]
    role = Arns.for_region(config.region, config.account_id).role(Naming("mlops", env).k8s_serving_role("fraud"))
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
    pod = _pod(rendered)
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    volume = _named(pod["volumes"], "capture")
    assert volume == {"name": "capture", "emptyDir": {"sizeLimit": "512Mi"}}
    server = _named(pod["containers"], "model-server")
    settings = _env(server)
    assert settings["MODEL_SERVER_CAPTURE_PERCENT"] == str(config.kubernetes_models()["fraud"].data_capture_percent)
    mount = settings["MODEL_SERVER_CAPTURE_DIR"]
    assert {"name": "capture", "mountPath": mount} in server["volumeMounts"]
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    # The shipper: a native sidecar (started after the artifact is unpacked, stopped after the server), same image.
    init = pod["initContainers"]
    assert [c["name"] for c in init] == ["fetch-model", "unpack-model", "capture-shipper"]
    shipper = init[-1]
    assert shipper["restartPolicy"] == "Always" and shipper["image"] == server["image"]
    assert shipper["command"] == ["python3", "-m", "model_code.capture_shipper"]
    assert _env(shipper)["CAPTURE_DIR"] == mount and {"name": "capture", "mountPath": mount} in shipper["volumeMounts"]
    assert _env(shipper)["CAPTURE_S3_URI"].startswith("s3://mlops-shared-capture-111111111111/")
    assert shipper["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                          "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert shipper["resources"]["limits"]["memory"]
    (config_map,) = [m for m in rendered if m["kind"] == "ConfigMap"]
    assert shipper["envFrom"] == [{"configMapRef": {"name": config_map["metadata"]["name"]}}]
    assert config_map["data"]["CAPTURE_KMS_KEY_ARN"].startswith("arn:aws:kms:us-east-1:111111111111:key/")


@pytest.mark.parametrize("env", CAPTURING)
def test_the_shipper_budget_fits_the_volume_and_its_flush_fits_the_grace_period(env: str) -> None:
    """Read from the rendered pod: preStop + the server's drain (its grace + the master's 5 s) + the shipper's
    flush must end before the kubelet's SIGKILL; the shipper's budget leaves half the emptyDir as headroom."""
    pod = _pod(_rendered(PROJECT_ROOT / "gitops" / env / "fraud"))
    server, shipper = _named(pod["containers"], "model-server"), _named(pod["initContainers"], "capture-shipper")
    pre_stop = server["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(_env(server).get("MODEL_SERVER_GRACEFUL_TIMEOUT", 20)) + 5
    flush = float(_env(shipper)["CAPTURE_FLUSH_SECONDS"])
    assert pre_stop + drain + flush < pod["terminationGracePeriodSeconds"]
    limit_mib = int(_named(pod["volumes"], "capture")["emptyDir"]["sizeLimit"].removesuffix("Mi"))
    assert 2 * int(_env(shipper)["CAPTURE_MAX_MB"]) <= limit_mib
    assert capture_sidecar.termination_budget_ok()


# -- the check refuses an overlay that drifts ----------------------------------------------------------------------
def _mutated(tmp_path: Path, change: Callable[[list[dict[str, Any]]], None], kustomization: Callable[[str], str]
             = lambda text: text) -> list[str]:
    """Copy the gitops tree, edit staging/fraud's generated Rollout patch (and kustomization), run the check."""
    shutil.copytree(PROJECT_ROOT / "gitops", tmp_path / "gitops")
    overlay = manifests_overlays.overlay_of(tmp_path / "gitops" / "staging" / "fraud")
    patch = overlay.path / "rollout-patch.yaml"
    ops = yaml.safe_load(patch.read_text())
    change(ops)
    patch.write_text(yaml.safe_dump(ops, sort_keys=False))
    (overlay.path / "kustomization.yaml").write_text(kustomization((overlay.path / "kustomization.yaml").read_text()))
    config = parse_stack_config(load_stack(PROJECT_ROOT, "staging").config)
    capture = model_server.capture_facts(config, "fraud", overlay.path)
    return model_server.disagreements(overlay, _rendered(overlay.path), config.kubernetes_models()["fraud"],
                                      Naming("mlops", "staging"), Arns("aws", "us-east-1", "333333333333"),
                                      config.region, capture)


def _op(ops: list[dict[str, Any]], path_end: str, name: str | None = None) -> dict[str, Any]:
    return next(o for o in ops if o["path"].endswith(path_end) and (name is None or o["value"].get("name") == name))


def _drop_shipper(ops):
    ops.remove(_op(ops, "/initContainers/-"))


def _other_uri(ops):
    for e in _op(ops, "/initContainers/-")["value"]["env"]:
        if e["name"] == "CAPTURE_S3_URI":
            e["value"] = "s3://mlops-shared-capture-111111111111/prod/fraud/"


def _not_native(ops):
    del _op(ops, "/initContainers/-")["value"]["restartPolicy"]


def _writable_root(ops):
    _op(ops, "/initContainers/-")["value"]["securityContext"]["readOnlyRootFilesystem"] = False


def _percent(ops):
    _op(ops, "/containers/0/env/-", "MODEL_SERVER_CAPTURE_PERCENT")["value"]["value"] = "100"


def _unbounded_volume(ops):
    _op(ops, "/volumes/-")["value"] = {"name": "capture", "emptyDir": {}}


def _short_grace(ops):
    _op(ops, "/terminationGracePeriodSeconds")["value"] = 30


def _long_pre_stop(ops):  # the server's preStop grows (a base change): the flush no longer fits in 60 s
    ops.append({"op": "replace", "path": "/spec/template/spec/containers/0/lifecycle/preStop/sleep/seconds",
                "value": 40})


def _no_flush(ops):
    for e in _op(ops, "/initContainers/-")["value"]["env"]:
        if e["name"] == "CAPTURE_FLUSH_SECONDS":
            e["value"] = "0"


HOSTILE = {
    "no shipper": (_drop_shipper, "capture-shipper"),
    "another environment's prefix": (_other_uri, "capture-shipper"),
    "a plain container, stopped with the server": (_not_native, "capture-shipper"),
    "a writable root filesystem": (_writable_root, "capture-shipper"),
    "a capture share the stack does not say": (_percent, "capture settings"),
    "a volume without sizeLimit": (_unbounded_volume, "sizeLimit"),
    "a grace period the flush does not fit in": (_short_grace, "terminationGracePeriodSeconds"),
    "no flush on SIGTERM": (_no_flush, "capture-shipper"),
    "a preStop the grace period no longer covers": (_long_pre_stop, "terminationGracePeriodSeconds"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_capture_overlay_that_drifts_is_reported(tmp_path: Path, case: str) -> None:
    change, named = HOSTILE[case]
    problems = _mutated(tmp_path, change)
    assert len(problems) == 1 and named in problems[0], problems


@pytest.mark.parametrize("line", [
    "      - CAPTURE_KMS_KEY_ARN=arn:aws:kms:us-east-1:999999999999:key/0d6c2a1e-4b7f-4e8a-9c3d-5f2b1a7e9c40\n",
    "      - CAPTURE_KMS_KEY_ARN=arn:aws:kms:eu-west-1:111111111111:key/0d6c2a1e-4b7f-4e8a-9c3d-5f2b1a7e9c40\n",
    "      - CAPTURE_KMS_KEY_ARN=alias/mlops-shared\n",
    "",
], ids=["another account", "another region", "an alias", "no line"])
def test_the_capture_key_must_be_the_shared_stacks(tmp_path: Path, line: str) -> None:
    def swap(text: str) -> str:
        kept = [t for t in text.splitlines(keepends=True) if "- CAPTURE_KMS_KEY_ARN=" not in t]
        at = next(i for i, t in enumerate(kept) if "SMOKE_PAYLOAD" in t) + 1
        return "".join(kept[:at] + [line] + kept[at:])

    problems = _mutated(tmp_path, lambda ops: None, swap)
    assert len(problems) == 1 and "CAPTURE_KMS_KEY_ARN" in problems[0], problems


def test_capture_in_an_overlay_whose_stack_captures_nothing_is_reported() -> None:
    config = parse_stack_config(load_stack(PROJECT_ROOT, "staging").config)
    deploy = config.kubernetes_models()["fraud"].model_copy(update={"data_capture_percent": 0})
    overlay = manifests_overlays.overlay_of(PROJECT_ROOT / "gitops" / "staging" / "fraud")
    problems = model_server.disagreements(overlay, _rendered(overlay.path), deploy, Naming("mlops", "staging"),
                                          Arns("aws", "us-east-1", "333333333333"), config.region, None)
    assert problems == ["staging/fraud: the overlay captures requests but the stack's dataCapturePercent is 0"]


def test_no_capture_patch_when_the_stack_captures_nothing() -> None:
    config = parse_stack_config(load_stack(PROJECT_ROOT, "staging").config)
    deploy = config.kubernetes_models()["fraud"].model_copy(update={"data_capture_percent": 0})
    assert capture_sidecar.rollout_operations(deploy, "s3://b/staging/fraud/", "us-east-1") == []
    text = model_server.patch_files("staging", "fraud", deploy, None)["rollout-patch.yaml"]
    assert "capture" not in text
