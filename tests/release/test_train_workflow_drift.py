"""train.yml can be started by the drift event, asks the retraining guards first, and records the drift."""

from __future__ import annotations

from test_release_workflows import _workflow


def test_a_drift_dispatch_starts_train_after_the_guards_agree() -> None:
    workflow = _workflow("train.yml")
    on = workflow.get("on", workflow.get(True))
    assert on["repository_dispatch"] == {"types": ["model-drift"]}
    job = workflow["jobs"]["train"]
    models = workflow["jobs"]["models"]["steps"][-1]
    assert "github.event.client_payload.model" in models["env"]["INPUT_MODEL"]
    names = [s.get("name", "") for s in job["steps"]]
    guard, start = names.index("ask the retraining guards (drift events only)"), names.index(
        "start training and follow it")
    assert guard < start
    assert "retrain-status" in job["steps"][guard]["run"] and "jq -e '.wouldStartNow.start'" in \
        job["steps"][guard]["run"]
    step = job["steps"][start]
    # The event's free text reaches the script through the environment only (no ${{ }} inside `run`).
    assert step["env"]["DRIFT_REASON"] == "${{ github.event.client_payload.reason }}"
    assert "${{" not in step["run"] and '--trigger-reason "$reason"' in step["run"]
