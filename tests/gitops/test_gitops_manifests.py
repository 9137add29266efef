"""What Git delivers to Argo CD: every overlay renders, validates offline against the Kubernetes and the pinned
Argo CRD schemas, passes checkov and the policy pack's Kubernetes rules, and says what the stack config says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from crd_schemas import CRD_DIR
from crd_schemas import validate as validate_custom_resource

from infra.components import argo_rollouts, argocd
from infra.config import KubernetesDeploy, Rollout, parse_stack_config
from infra.core.arns import Arns
from infra.core.canary import canary_steps, traffic_weights
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests import cli as manifests_cli
from infra.manifests import judge as manifests_judge
from infra.manifests import model_server as manifests_model_server
from infra.manifests import overlays as manifests_overlays
from infra.manifests import pull_overlays
from infra.plan.project import load_stack

OVERLAYS = [o for o in manifests_overlays.overlays() if not pull_overlays.is_pull_overlay(o.path)]
"""The model-server overlays; those of SageMaker by pull are tested in test_pull_overlays.py."""
IDS = [f"{o.environment}/{o.model}" for o in OVERLAYS]
KUBERNETES_VERSION = "1.33.0"
"""The EKS version of the stacks (cluster.eks.version); core kinds are validated against its schemas."""
CARELESS = PROJECT_ROOT / "tests" / "fixtures" / "gitops" / "prod" / "careless"
CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"


def test_every_environment_serves_fraud_from_an_overlay() -> None:
    assert IDS == ["dev/fraud", "prod/fraud", "staging/fraud"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_overlay_renders_the_whole_model_server(overlay: manifests_overlays.Overlay) -> None:
    kinds = sorted(m["kind"] for m in manifests_overlays.render(overlay.path))
    assert kinds == ["AnalysisTemplate", "ConfigMap", "HorizontalPodAutoscaler", "NetworkPolicy", "NetworkPolicy",
                     "PodDisruptionBudget", "Rollout", "Service", "Service", "Service", "ServiceAccount"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_core_kinds_validate_strictly_against_the_kubernetes_schemas(overlay: manifests_overlays.Overlay) -> None:
    for manifest in manifests_overlays.render(overlay.path):
        if manifest["apiVersion"].startswith("argoproj.io/"):
            continue
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_argo_custom_resources_validate_against_the_pinned_crds(overlay: manifests_overlays.Overlay) -> None:
    custom = [m for m in manifests_overlays.render(overlay.path) if m["apiVersion"].startswith("argoproj.io/")]
    assert {m["kind"] for m in custom} == {"Rollout", "AnalysisTemplate"}
    assert [e for m in custom for e in validate_custom_resource(m)] == []


def test_crd_validation_catches_a_misspelt_field() -> None:
    rollout = next(m for m in manifests_overlays.render(OVERLAYS[0].path) if m["kind"] == "Rollout")
    rollout["spec"]["strategy"]["canary"]["stepz"] = rollout["spec"]["strategy"]["canary"].pop("steps")
    rollout["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    errors = validate_custom_resource(rollout)
    assert any("'stepz' was unexpected" in e for e in errors)
    assert any("'imagePullPolicyy' was unexpected" in e for e in errors)


def test_vendored_crds_are_those_of_the_pinned_charts() -> None:
    readme = (CRD_DIR / "README.md").read_text()
    assert f"argo-cd {argocd.CHART_VERSION} (v3.4.4)" in readme
    assert f"argo-rollouts {argo_rollouts.CHART_VERSION} (v1.9.0)" in readme
    listed = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert listed == {p.name for p in CRD_DIR.glob("*.yaml")}


# -- the pod ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_model_server_pod_is_hardened_probed_and_pinned(overlay: manifests_overlays.Overlay) -> None:
    rendered = manifests_overlays.render(overlay.path)
    pod = next(m for m in rendered if m["kind"] == "Rollout")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 10000
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "model-server"
    for container in pod["containers"] + pod["initContainers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}
        assert "@sha256:" in container["image"], container["image"]
    (server,) = pod["containers"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/ping"
    assert server["livenessProbe"]["httpGet"]["path"] == "/ping"
    assert server["lifecycle"]["preStop"]["sleep"]["seconds"] < pod["terminationGracePeriodSeconds"]
    account = next(m for m in rendered if m["kind"] == "ServiceAccount")
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(f":role/mlops-{overlay.environment}-{overlay.model}-k8s-serving")


@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_the_release_configmap_reaches_every_reader_under_its_hashed_name(overlay: manifests_overlays.Overlay) -> None:
    rendered = manifests_overlays.render(overlay.path)
    (config_map,) = [m for m in rendered if m["kind"] == "ConfigMap"]
    assert config_map["metadata"]["name"].startswith("model-release-")
    text = json.dumps([m for m in rendered if m["kind"] in ("Rollout", "AnalysisTemplate")])
    assert text.count('"configMapRef": {"name": "model-release"}') == 0
    readers = 3 + ("CAPTURE_KMS_KEY_ARN" in config_map["data"])  # fetch-model, model-server, smoke Job, shipper
    assert text.count(config_map["metadata"]["name"]) == readers


# -- promotion -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_each_overlay_has_exactly_one_promotion_line(overlay: manifests_overlays.Overlay) -> None:
    version = manifests_overlays.promoted_version(overlay)
    (config_map,) = [m for m in manifests_overlays.render(overlay.path) if m["kind"] == "ConfigMap"]
    assert config_map["data"]["MODEL_PACKAGE_VERSION"] == str(version)


def test_promotion_is_one_line_and_starts_a_new_rollout(tmp_path: Path) -> None:
    shutil.copytree(PROJECT_ROOT / "gitops", tmp_path / "gitops")
    overlay = manifests_overlays.overlay_of(tmp_path / "gitops" / "staging" / "fraud")
    before = manifests_overlays.render(overlay.path)
    path = overlay.path / "kustomization.yaml"
    old = path.read_text()
    version = manifests_overlays.promoted_version(overlay)
    new = old.replace(f"- MODEL_PACKAGE_VERSION={version} #", f"- MODEL_PACKAGE_VERSION={version + 1} #")
    assert sum(a != b for a, b in zip(old.splitlines(), new.splitlines(), strict=True)) == 1
    path.write_text(new)
    after = manifests_overlays.render(overlay.path)
    assert manifests_overlays.promoted_version(overlay) == version + 1

    def pod_template(docs: list[dict]) -> dict:
        return next(m for m in docs if m["kind"] == "Rollout")["spec"]["template"]

    # The ConfigMap gets a new name, so the Rollout's pod template changes: Argo Rollouts starts a canary.
    assert pod_template(before) != pod_template(after)
    changed = {m["kind"] for m in after if m not in before}
    assert changed == {"ConfigMap", "Rollout", "AnalysisTemplate"}


# -- progressive delivery ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rollout", "weights"),
    [
        (Rollout(strategy="canary", step_percent=10), [10, 100]),
        (Rollout(strategy="linear", step_percent=25), [25, 50, 75, 100]),
        (Rollout(strategy="linear", step_percent=30), [30, 60, 90, 100]),
        (Rollout(strategy="all-at-once"), [100]),
    ],
)
def test_traffic_weights_follow_the_rollout_config(rollout: Rollout, weights: list[int]) -> None:
    assert traffic_weights(rollout) == weights


@pytest.mark.parametrize("strategy", ["all-at-once", "canary", "linear"])
def test_a_version_that_fails_its_smoke_check_never_takes_all_traffic(strategy: str) -> None:
    rollout = Rollout(strategy=strategy, step_percent=None if strategy == "all-at-once" else 20, wait_seconds=120)
    steps = canary_steps(rollout)
    # The first weight is small (all-at-once: none, the smoke gate's pod takes no client traffic), and a passed
    # smoke check gates every increase of traffic.
    if strategy == "all-at-once":
        assert "experiment" in steps[0] and steps[1] == {"setWeight": 100}
    else:
        assert steps[0]["setWeight"] < 100 and "analysis" in steps[1]
    weights_seen = []
    for before, step in zip(steps, steps[1:], strict=False):
        if "setWeight" in step:
            checked = "analysis" in before or before.get("experiment", {}).get("analyses")
            assert checked, f"traffic raised to {step['setWeight']} % without a passed analysis"
            weights_seen.append(step["setWeight"])
    assert weights_seen[-1] == 100
    assert {"pause": {"duration": "120s"}} in steps
    assert "analysis" in steps[-1]  # the bake at full traffic ends with a check too, before the old version goes


def _selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels / matchExpressions with In, or a Service's plain map) selects labels."""
    plain = {k: v for k, v in selector.items() if k not in ("matchLabels", "matchExpressions")}
    match = {**plain, **selector.get("matchLabels", {})}
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if (o.path / "rollout-patch.yaml").is_file()],
                         ids=lambda o: f"{o.environment}/{o.model}")
def test_the_all_at_once_smoke_gate_takes_no_client_traffic(overlay: manifests_overlays.Overlay) -> None:
    """Issue 16 §6: dev's gate ran 1 canary beside 1 stable pod behind the clients' Service (half the traffic).
    The gate's pod carries the gate label over the template's; no client-facing selector picks it; the smoke
    analysis reaches it through its own Service, and the NetworkPolicies let exactly that through."""
    objects = manifests_overlays.render(overlay.path)
    rollout = next(o for o in objects if o["kind"] == "Rollout")
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    gates = [s["experiment"] for s in steps if "experiment" in s]
    config = parse_stack_config(load_stack(PROJECT_ROOT, overlay.environment).config)
    if config.kubernetes_models()[overlay.model].rollout.strategy != "all-at-once":
        assert gates == []  # canary and linear rollouts take their first, small, share through setWeight
        return
    assert "experiment" in steps[0], "an all-at-once rollout must start with the smoke gate"
    (gate,) = gates
    (template,) = gate["templates"]
    pod_labels = {**rollout["spec"]["template"]["metadata"]["labels"], **template["metadata"]["labels"]}
    # Neither the Rollout (it would count the pod as its own) nor any Service of the overlay selects the gate's pod.
    selectors = [rollout["spec"]["selector"], *(o["spec"]["selector"] for o in objects if o["kind"] == "Service")]
    assert len(selectors) == 4 and not any(_selects(selector, pod_labels) for selector in selectors)
    assert template["replicas"] == 1 and template["specRef"] == "canary"
    (analysis,) = gate["analyses"]
    assert analysis["requiredForCompletion"] is True
    assert analysis["args"] == [{"name": "service", "value": template["service"]["name"]}]
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "NetworkPolicy"}
    assert _selects(policies["model-server"]["podSelector"], pod_labels)  # isolated like the server itself
    smoke_egress = [rule for rule in policies["model-server-smoke"]["egress"]
                    if any("podSelector" in peer for peer in rule.get("to", []))]
    assert any(_selects(peer["podSelector"], pod_labels) for rule in smoke_egress for peer in rule["to"])


TRAFFIC_ROUTING_ONLY = ("abortScaleDownDelaySeconds", "scaleDownDelaySeconds", "scaleDownDelayRevisionLimit",
                        "dynamicStableScale")
"""Canary fields the Argo Rollouts spec says act only with `trafficRouting` (for a basic canary, abort is a
rolling update back to stable: https://argoproj.github.io/argo-rollouts/features/scaledown-aborted-rs/, where
abortScaleDownDelaySeconds is "N/A" for "basic canary")."""


@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if (o.path / "rollout-patch.yaml").is_file()],
                         ids=lambda o: f"{o.environment}/{o.model}")
def test_a_basic_canary_sets_nothing_that_needs_a_traffic_router(overlay: manifests_overlays.Overlay) -> None:
    rollout = next(o for o in manifests_overlays.render(overlay.path) if o["kind"] == "Rollout")
    canary = rollout["spec"]["strategy"]["canary"]
    if "trafficRouting" not in canary:
        assert [f for f in TRAFFIC_ROUTING_ONLY if f in canary] == []
        assert not [s for s in canary["steps"] if "setCanaryScale" in s]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_overlay_agrees_with_the_stack_config_and_passes_the_pack(overlay: manifests_overlays.Overlay) -> None:
    violations, problems = manifests_cli.check(overlay)
    assert problems == []
    assert [v.as_dict() for v in violations] == []


def test_a_stack_config_change_the_overlay_does_not_follow_is_reported() -> None:
    overlay = next(o for o in OVERLAYS if o.environment == "prod")
    rendered = manifests_overlays.render(overlay.path)
    deploy = KubernetesDeploy(target="kubernetes", approved_version=1, replicas=10, max_replicas=20,
                              rollout=Rollout(strategy="canary", step_percent=20, wait_seconds=600),
                              resources={"cpuRequest": "500m", "memoryRequest": "1Gi", "cpuLimit": "2",
                                         "memoryLimit": "2Gi"}, data_capture_percent=20)
    capture = manifests_model_server.capture_facts(parse_stack_config(load_stack(PROJECT_ROOT, "prod").config),
                                                   "fraud", overlay.path)
    problems = manifests_model_server.disagreements(overlay, rendered, deploy, Naming("mlops", "prod"),
                                                    Arns("aws", "us-east-1", "444444444444"), capture=capture)
    assert problems == ["prod/fraud: Rollout 'model-server' steps differ from those of the stack's rollout config "
                        "(canary, step 20, wait 600s)"]
    wrong_account = manifests_model_server.disagreements(
        overlay, rendered, deploy.model_copy(update={"rollout": Rollout(strategy="canary", step_percent=10,
                                                                        wait_seconds=600)}),
        Naming("mlops", "prod"), Arns("aws", "us-east-1", "999999999999"), capture=capture)
    assert len(wrong_account) == 1 and "IRSA role" in wrong_account[0]


# -- guardrails on what Git delivers -------------------------------------------------------------------------------
def test_a_careless_overlay_fails_the_packs_kubernetes_rules() -> None:
    violations = manifests_judge.judge(manifests_overlays.render(CARELESS), "prod", "careless")
    mandatory = [v for v in violations if v.enforcement == "mandatory"]
    assert {v.policy_name for v in mandatory} == {"k8s-model-server-hardened", "k8s-pod-security-restricted"}
    messages = "\n".join(v.message for v in mandatory)
    assert "container 'model-server' does not set allowPrivilegeEscalation: false" in messages
    assert "container 'model-server' of 'model-server' may run as root" in messages
    assert "sets no resource limit for cpu, memory" in messages
    assert "uses the moving tag 'latest'" in messages


def test_the_ci_command_fails_the_careless_overlay_and_passes_the_real_ones(capsys: pytest.CaptureFixture) -> None:
    assert manifests_cli.main([str(CARELESS)]) == 1
    assert "prod/careless: FAIL" in capsys.readouterr().out
    assert manifests_cli.main([]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "dev/churn: ok", "dev/fraud: ok", "prod/fraud: ok", "staging/fraud: ok"]
    assert manifests_cli.main(["--format", "json", str(OVERLAYS[0].path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"dev/fraud": {"violations": [], "problems": []}}


def test_the_ci_command_refuses_a_directory_that_is_not_an_overlay(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    assert manifests_cli.main([str(tmp_path)]) == 2
    assert "no kustomization.yaml" in capsys.readouterr().err


def test_checkov_passes_the_rendered_overlays_with_only_explained_skips(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        message = f"{CHECKOV} is absent: run .ci/setup (it builds .venv-checkov from requirements-checkov.txt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"in CI this check may not be skipped: {message}")
        pytest.skip(message)
    skips = yaml.safe_load((PROJECT_ROOT / "gitops" / "checkov-skips.yaml").read_text())["skips"]
    assert all(isinstance(s.get("reason"), str) and len(s["reason"]) > 20 for s in skips), skips
    for overlay in OVERLAYS:
        docs = manifests_judge.as_core_workloads(manifests_overlays.render(overlay.path))
        (tmp_path / f"{overlay.environment}-{overlay.model}.yaml").write_text(yaml.safe_dump_all(docs))
    command = [str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "--quiet",
               "-o", "json"]
    if skips:
        command += ["--skip-check", ",".join(s["id"] for s in skips)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"]["failed_checks"]]
    assert failed == []
    assert sum(r["summary"]["passed"] for r in reports) > 100


@pytest.mark.parametrize("overlay", OVERLAYS, ids=IDS)
def test_committed_patches_are_the_ones_generated_from_the_stack_config(overlay: manifests_overlays.Overlay) -> None:
    config = parse_stack_config(load_stack(PROJECT_ROOT, overlay.environment).config)
    expected = manifests_model_server.patch_files(
        overlay.environment, overlay.model, config.kubernetes_models()[overlay.model],
        manifests_model_server.capture_facts(config, overlay.model, overlay.path))
    assert {name: (overlay.path / name).read_text() for name in expected} == expected


def test_write_patches_rewrites_a_stale_patch_atomically(tmp_path: Path) -> None:
    shutil.copytree(PROJECT_ROOT / "gitops", tmp_path / "gitops")
    overlay = manifests_overlays.overlay_of(tmp_path / "gitops" / "dev" / "fraud")
    stale = overlay.path / "rollout-patch.yaml"
    stale.write_text(stale.read_text().replace("duration: 180s", "duration: 5s"))
    assert manifests_model_server.disagreements(overlay, manifests_overlays.render(overlay.path),
                                   parse_stack_config(load_stack(PROJECT_ROOT, "dev").config)
                                   .kubernetes_models()["fraud"], Naming("mlops", "dev"),
                                   Arns("aws", "us-east-1", "222222222222"))
    assert manifests_cli.write_patches(overlay) == [stale]
    assert manifests_cli.write_patches(overlay) == []
    assert not list(overlay.path.glob(".*.tmp"))
