"""Issue 17, section 1, the CI judge of rendered manifests: every object is judged (every HPA, the ACK region
annotation of every object), and every bad overlay ends in a verdict (exit 1) or a clear input error (exit 2),
never a traceback. Overlays are copied to a temporary gitops tree and changed there, as a careless commit would.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config import parse_stack_config
from infra.core.arns import Arns
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests import cli as manifests_cli
from infra.manifests import model_server
from infra.manifests import overlays as manifests_overlays
from infra.manifests.judge import judge
from infra.plan.project import load_stack


def _copy(tmp_path: Path, environment: str, model: str) -> Path:
    shutil.copytree(PROJECT_ROOT / "gitops", tmp_path / "gitops")
    return tmp_path / "gitops" / environment / model


def _add_resource(overlay: Path, name: str, text: str) -> None:
    (overlay / name).write_text(text)
    kustomization = overlay / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("resources:\n", f"resources:\n  - {name}\n", 1))


_BURST_HPA = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: model-server-burst
spec:
  scaleTargetRef: {apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: model-server}
  minReplicas: %(min)s
  maxReplicas: %(max)s
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: %(cpu)s}}
"""


def _prod_fraud() -> Any:
    return parse_stack_config(load_stack(PROJECT_ROOT, "prod").config).kubernetes_models()["fraud"]


def test_a_second_hpa_beyond_the_stack_bounds_is_a_verdict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    overlay = _copy(tmp_path, "prod", "fraud")
    deploy = _prod_fraud()
    _add_resource(overlay, "burst-hpa.yaml", _BURST_HPA % {"min": deploy.replicas, "max": deploy.max_replicas * 10,
                                                          "cpu": deploy.target_cpu_percent})
    assert manifests_cli.main([str(overlay)]) == 1
    out = capsys.readouterr().out
    assert "HorizontalPodAutoscaler 'model-server-burst' maxReplicas differs" in out


def test_a_second_hpa_within_the_stack_bounds_agrees(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    overlay = _copy(tmp_path, "prod", "fraud")
    deploy = _prod_fraud()
    _add_resource(overlay, "burst-hpa.yaml", _BURST_HPA % {"min": deploy.replicas, "max": deploy.max_replicas,
                                                          "cpu": deploy.target_cpu_percent})
    assert manifests_cli.main([str(overlay)]) == 0, capsys.readouterr().out


def _patch(overlay: Path, kind: str, path: str, value: str) -> None:
    """Add an inline JSON patch to the overlay's (existing) patches list."""
    kustomization = overlay / "kustomization.yaml"
    patch = (f"  - target: {{kind: {kind}}}\n    patch: |-\n      - op: add\n        path: {path}\n"
             f"        value: {value}\n")
    kustomization.write_text(kustomization.read_text().replace("patches:\n", f"patches:\n{patch}", 1))


def _region_patch(overlay: Path, kind: str, region: str) -> None:
    _patch(overlay, kind, "/metadata/annotations/services.k8s.aws~1region", region)


@pytest.mark.parametrize("kind", ["Model", "EndpointConfig"])
def test_an_ack_object_sent_to_another_region_is_a_verdict(tmp_path: Path, kind: str,
                                                          capsys: pytest.CaptureFixture) -> None:
    overlay = _copy(tmp_path, "dev", "churn")
    _region_patch(overlay, kind, "ap-southeast-2")
    assert manifests_cli.main([str(overlay)]) == 1
    assert "sets services.k8s.aws/region='ap-southeast-2'; the stack's region is 'us-east-1'" in (
        capsys.readouterr().out)


def test_an_ack_object_annotated_with_the_stacks_own_region_agrees(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    overlay = _copy(tmp_path, "dev", "churn")
    _region_patch(overlay, "Endpoint", "us-east-1")
    assert manifests_cli.main([str(overlay)]) == 0, capsys.readouterr().out


_FOREIGN = """apiVersion: v1
kind: ConfigMap
metadata: {name: sneaky, namespace: kube-system}
data: {a: b}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: sneaky}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
"""


def test_objects_in_two_foreign_namespaces_one_cluster_scoped_end_in_a_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    overlay = _copy(tmp_path, "staging", "fraud")
    kustomization = overlay / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("namespace: mlops-staging-fraud\n", ""))
    _add_resource(overlay, "extra.yaml", _FOREIGN)
    assert manifests_cli.main([str(overlay)]) == 1
    out = capsys.readouterr().out
    assert "ConfigMap 'sneaky' in kube-system" in out and "ClusterRole 'sneaky' in <no namespace" in out


def test_a_document_that_is_not_an_object_is_a_clear_input_error(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    overlay = _copy(tmp_path, "staging", "fraud")
    _add_resource(overlay, "list.yaml", "- just\n- a list\n")
    assert manifests_cli.main([str(overlay)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


# --- no traceback, whatever the rendered objects say (property) ------------------------------------------------

_ODD = st.sampled_from([None, [], {}, "x", 0, -1, [None], {"a": None}, True])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


_RENDERED = manifests_overlays.render(PROJECT_ROOT / "gitops" / "prod" / "fraud")
_PATHS = _paths(_RENDERED)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(_PATHS), _ODD), min_size=1, max_size=4))
def test_odd_values_anywhere_give_findings_never_a_crash(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    manifests = copy.deepcopy(_RENDERED)
    for path, value in changes:
        target: Any = manifests
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the path
    manifests = [m for m in manifests if isinstance(m, dict)]
    overlay = manifests_overlays.Overlay(path=PROJECT_ROOT / "gitops" / "prod" / "fraud", environment="prod",
                                         model="fraud")
    problems = model_server.disagreements(overlay, manifests, _prod_fraud(), Naming("mlops", "prod"),
                                          Arns("aws", "us-east-1", "444444444444"), "us-east-1")
    assert all(isinstance(p, str) for p in problems)
    judge(manifests, "prod", "fraud")  # raises if a rule crashes
