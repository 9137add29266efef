"""What `pulumi preview` judges, the offline plan judges: objects inside provider-side components, and a loud
verdict when it judged nothing (no pack) or could not see inside a component (a Helm v4 chart)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from infra.plan.__main__ import main
from infra.plan.expand import ExpansionError, expand
from infra.plan.runner import PROJECT_ROOT, plan_program

PROGRAMS = PROJECT_ROOT / "tests" / "fixtures" / "programs"


def test_config_file_and_config_group_register_their_objects_as_the_provider_names_them() -> None:
    plan = plan_program(PROGRAMS / "k8s_yaml", "mlops", "dev", {"aws:region": "eu-west-1"})
    children = {r.name: r for r in plan.resources if r.parent and ":yaml/v2:" in r.parent.split("::")[2]}
    assert sorted((r.type, n) for n, r in children.items()) == [
        ("kubernetes:apps/v1:Deployment", "web-apps/web"),  # from web.yaml, prefix = the component's name
        ("kubernetes:batch/v1:CronJob", "extras-apps/nightly"),  # a v1 List in a globbed file, flattened
        ("kubernetes:core/v1:Service", "extras-apps/web"),  # from objs
    ]
    assert children["web-apps/web"].inputs["spec"]["template"]["spec"]["hostNetwork"] is True
    assert [(n.type, n.urn.rsplit("::", 1)[-1]) for n in plan.not_expanded] == [
        ("kubernetes:helm.sh/v4:Chart", "monitoring")]


def test_the_verdict_names_what_it_could_not_see_in_json_text_and_stderr(capsys: pytest.CaptureFixture) -> None:
    main(["--stack", "dev", "--program", str(PROGRAMS / "k8s_yaml"), "--format", "json"])
    captured = capsys.readouterr()
    not_judged = json.loads(captured.out)["policy"]["notJudged"]
    assert [n["type"] for n in not_judged] == ["kubernetes:helm.sh/v4:Chart"]
    assert "NOT judged" in not_judged[0]["reason"]
    assert "WARNING: NOT JUDGED: kubernetes:helm.sh/v4:Chart monitoring" in captured.err
    main(["--stack", "dev", "--program", str(PROGRAMS / "k8s_yaml")])
    assert "NOT JUDGED: kubernetes:helm.sh/v4:Chart monitoring" in capsys.readouterr().out


@pytest.mark.parametrize(("inputs", "reason"), [
    ({"yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}, "does not have a .metadata.name"),
    ({"yaml": "kind: ConfigMap\nmetadata: {name: a}\n"}, "require a kind and apiVersion"),
    ({"files": ["https://example.com/app.yaml"]}, "network"),
    ({"files": ["missing.yaml"]}, "reading YAML file missing.yaml"),
    ({"yaml": "a: [unclosed"}, "decoding YAML"),
])
def test_a_group_that_cannot_be_read_offline_is_not_expanded_and_says_why(
        inputs: dict, reason: str, tmp_path: Path) -> None:
    with pytest.raises(ExpansionError, match=reason):
        expand("kubernetes:yaml/v2:ConfigGroup", "g", inputs, tmp_path)


def test_an_empty_prefix_keeps_the_object_name_and_secret_data_stays_secret(tmp_path: Path) -> None:
    objects = expand("kubernetes:yaml/v2:ConfigGroup", "g", {"resourcePrefix": "", "yaml": [textwrap.dedent("""\
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: token, namespace: ml}
        stringData: {token: s3cr3t}
        ---
        """)]}, tmp_path)
    assert [(o.name, o.secret_keys) for o in objects] == [("ml/token", frozenset({"stringData"}))]


def test_the_v1_yaml_component_is_expanded_through_the_decode_function(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text(textwrap.dedent("""\
        import pulumi_kubernetes as k8s
        k8s.yaml.ConfigGroup("legacy", yaml=["apiVersion: v1\\nkind: Namespace\\nmetadata: {name: ml}\\n"])
        """))
    plan = plan_program(tmp_path, "demo", "dev", {})
    assert "kubernetes:core/v1:Namespace" in {r.type for r in plan.resources}


# Family: a plan that judged nothing.
def _project_without_pack(tmp_path: Path) -> Path:
    (tmp_path / "__main__.py").write_text((PROGRAMS / "minimal" / "__main__.py").read_text())
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    return tmp_path


def _cli(*args: str, ci: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "infra.plan", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


def test_a_project_without_a_pack_says_loudly_that_nothing_was_judged(tmp_path: Path) -> None:
    result = _cli("--stack", "dev", "--project-dir", str(_project_without_pack(tmp_path)), "--format", "json")
    assert result.returncode == 0
    policy = json.loads(result.stdout)["policy"]
    assert policy["judged"] is False and "no policy pack" in policy["reason"]
    assert "WARNING: NO POLICY JUDGED THIS PLAN: no policy pack at" in result.stderr


@pytest.mark.parametrize(("args", "ci"), [(["--require-policy"], None), ([], "true"), ([], "TRUE")])
def test_require_policy_explicit_or_by_ci_default_makes_judging_nothing_exit_2(
        args: list[str], ci: str | None, tmp_path: Path) -> None:
    result = _cli("--stack", "dev", "--project-dir", str(_project_without_pack(tmp_path)), *args, ci=ci)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("error: --require-policy: no policy judged this plan")


def test_outside_ci_or_with_no_require_policy_the_plan_still_exits_0(tmp_path: Path) -> None:
    project = str(_project_without_pack(tmp_path))
    assert _cli("--stack", "dev", "--project-dir", project, ci="false").returncode == 0
    assert _cli("--stack", "dev", "--project-dir", project, "--no-require-policy", ci="true").returncode == 0


def test_no_policy_is_loud_too_and_contradicts_require_policy() -> None:
    result = _cli("--stack", "dev", "--no-policy", "--format", "json", ci="true")
    assert result.returncode == 0 and json.loads(result.stdout)["policy"]["judged"] is False
    assert "WARNING: NO POLICY JUDGED THIS PLAN: --no-policy" in result.stderr
    contradiction = _cli("--stack", "dev", "--no-policy", "--require-policy")
    assert contradiction.returncode == 2 and "--no-policy contradicts --require-policy" in contradiction.stderr
