"""Session length, job timeouts and tool timeouts are one budget, read from the workflows and the CI roles.

A job's AWS credentials (configure-aws-credentials `role-duration-seconds`; OIDC sessions default to 1 hour,
aws-actions/configure-aws-credentials action.yml) must last as long as the job may run, within the assumed role's
`max_session_duration`; every step that may wait has its own timeout, the steps fit in the job, and a release
tool's `--timeout` fits in its step. And the automatic loop (training, promotion) runs in a GitHub environment of
its own, apart from the reviewed `shared` environment that changes shared infrastructure.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from infra.components import ci_roles

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ROLE_SESSIONS = {
    "vars.DEPLOY_ROLE_ARN": ci_roles.DEPLOY_SESSION_SECONDS,
    "vars.RELEASE_ROLE_ARN": ci_roles.RELEASE_SESSION_SECONDS,
    "matrix.role": ci_roles.PREVIEW_SESSION_SECONDS,  # preview.yml: each stack's preview role
}
UNBOUNDED_SETUP = ("actions/checkout@", "actions/setup-python@", "aws-actions/configure-aws-credentials@")
SETUP_ALLOWANCE_MINUTES = 5
"""What the setup steps without their own timeout (checkout, setup-python, credentials) may take together."""
TOOL_DEFAULT_TIMEOUTS = {"start-training": 4 * 3600, "verify": 3600}
LAST_POLL_SECONDS = 300
"""A tool's --timeout ends its waiting; one more poll (and its AWS call's own timeouts) must fit in the step."""


def _jobs() -> list[tuple[str, str, dict]]:
    found = []
    for path in WORKFLOWS:
        document = yaml.safe_load(path.read_text())
        for name, job in document["jobs"].items():
            found.append((path.name, name, job))
    return found


JOBS = _jobs()
AWS_JOBS = [j for j in JOBS if any("configure-aws-credentials@" in str(s.get("uses", "")) for s in j[2]["steps"])]


def _role_expression(value: str) -> str:
    match = re.fullmatch(r"\$\{\{\s*([\w.]+)\s*\}\}", value.strip())
    assert match, value
    return match.group(1)


@pytest.mark.parametrize(("workflow", "name", "job"), AWS_JOBS, ids=[f"{w}:{n}" for w, n, _ in AWS_JOBS])
def test_credentials_outlive_the_job_within_the_role_s_session(workflow, name, job):
    job_seconds = job["timeout-minutes"] * 60
    for step in job["steps"]:
        if "configure-aws-credentials@" not in str(step.get("uses", "")):
            continue
        inputs = step["with"]
        assert "role-duration-seconds" in inputs, f"{workflow}:{name}: the OIDC default of 1 hour is implicit"
        duration = int(inputs["role-duration-seconds"])
        role_max = ROLE_SESSIONS[_role_expression(inputs["role-to-assume"])]
        assert 900 <= duration <= 43200, "STS accepts 15 minutes to 12 hours"
        assert duration >= job_seconds, f"{workflow}:{name}: credentials expire {job_seconds - duration} s early"
        assert duration <= role_max, f"{workflow}:{name}: asks {duration} s of a role that allows {role_max} s"


@pytest.mark.parametrize(("workflow", "name", "job"), AWS_JOBS, ids=[f"{w}:{n}" for w, n, _ in AWS_JOBS])
def test_every_waiting_step_has_a_timeout_and_the_steps_fit_in_the_job(workflow, name, job):
    total = SETUP_ALLOWANCE_MINUTES
    for step in job["steps"]:
        if str(step.get("uses", "")).startswith(UNBOUNDED_SETUP):
            continue
        label = step.get("name") or step.get("uses")
        assert "timeout-minutes" in step, f"{workflow}:{name}: step {label!r} has no timeout-minutes"
        total += step["timeout-minutes"]  # a step that runs on failure runs after one that used its whole time
    assert total <= job["timeout-minutes"], f"{workflow}:{name}: steps may take {total} min of {job['timeout-minutes']}"


TOOL_STEPS = [(w, n, s) for w, n, j in JOBS for s in j["steps"] if "infra.release" in str(s.get("run", ""))]


@pytest.mark.parametrize(("workflow", "name", "step"), TOOL_STEPS, ids=[f"{w}:{n}:{s.get('name')}" for w, n, s in
                                                                        TOOL_STEPS])
def test_a_release_tool_s_wait_fits_in_its_step(workflow, name, step):
    for command in re.findall(r"infra\.release\s+([\w-]+)([^\n]*)", " ".join(str(step["run"]).split("\n"))):
        subcommand, arguments = command
        if "--wait" not in arguments:
            continue
        given = re.search(r"--timeout\s+(\d+)", arguments)
        waits = int(given.group(1)) if given else TOOL_DEFAULT_TIMEOUTS[subcommand]
        assert waits + LAST_POLL_SECONDS <= step["timeout-minutes"] * 60, (workflow, name, subcommand, waits)


def _environment(workflow: str, job: str) -> str:
    [found] = [j.get("environment") for w, n, j in JOBS if (w, n) == (workflow, job)]
    return found["name"] if isinstance(found, dict) else found


def test_the_automatic_loop_and_shared_infrastructure_run_in_separate_environments():
    release_environment = f"shared{ci_roles.RELEASE_ENVIRONMENT_SUFFIX}"
    assert _environment("train.yml", "train") == release_environment
    assert _environment("promote.yml", "promote") == release_environment
    assert _environment("deploy.yml", "shared") == "shared"
    for workflow, job in (("train.yml", "train"), ("promote.yml", "promote")):
        [step] = [s for w, n, j in JOBS if (w, n) == (workflow, job) for s in j["steps"]
                  if "configure-aws-credentials@" in str(s.get("uses", ""))]
        assert _role_expression(step["with"]["role-to-assume"]) == "vars.RELEASE_ROLE_ARN"
    docs = (ROOT / "docs" / "delivery.md").read_text()
    assert f"`{release_environment}`" in docs and "no required reviewer" in docs


def _job(workflow: str, name: str) -> dict:
    [job] = [j for w, n, j in JOBS if (w, n) == (workflow, name)]
    return job


def test_a_failed_preview_still_posts_its_verdict():
    """pulumi/actions comments only after a preview that succeeded (src/run.ts); a step on failure posts it."""
    steps = _job("preview.yml", "preview")["steps"]
    [preview] = [s for s in steps if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert preview["with"]["comment-on-pr"] is True and preview.get("id")
    on_failure = [s for s in steps if f"steps.{preview['id']}.outcome == 'failure'" in str(s.get("if", ""))
                  and "failure()" in str(s.get("if", ""))]
    assert len(on_failure) == 1
    script = on_failure[0]["run"]
    assert "pulumi preview" in script and "--policy-pack policies" in script
    assert '--policy-pack-config "policies/config/$STACK.json"' in script
    assert "gh pr comment" in script and on_failure[0]["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert _job("preview.yml", "preview")["permissions"]["pull-requests"] == "write"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_environment_release_starts_at_the_live_capacity(stack):
    steps = _job("deploy.yml", stack)["steps"]
    names = [s.get("id") or s.get("name") or s.get("uses") for s in steps]
    live = next(i for i, s in enumerate(steps) if s.get("id") == "live")
    up = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert live < up, names
    assert f"infra.release live-capacity --stack {stack} --format json" in steps[live]["run"]
    assert steps[up]["with"]["config-map"] == "${{ steps.live.outputs.config-map }}"
