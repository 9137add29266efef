"""The health script Argo CD runs on ACK objects, run for real in a Lua 5.1 interpreter (Argo CD evaluates health
scripts with gopher-lua, a Lua 5.1 VM; `lupa.lua51` embeds the reference one), on the condition sets the
sagemaker-controller v1.9.1 writes, copied from its own unit-test data under
`pkg/resource/endpoint/testdata/v1alpha1/` (file named in each case), plus the `ACK.Recoverable` condition that
`updateConditions` in `pkg/resource/endpoint/sdk.go` adds for the error the scenario expects (test_suite.yaml).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lupa.lua51 import LuaRuntime

from infra.core.argocd_health import HEALTH_LUA

UPDATE_ERROR = ("EndpointUpdateError: unable to update endpoint. check FailureReason. latest EndpointConfigName is "
                "xgboost-endpoint-single-variant-config")
DOWNLOAD_FAILED = " Failed to download model data for container from URL, blah"
UPDATING_REQUEUE = "Endpoint in Updating state cannot be modified or deleted."
"""The error scenario "Update=StatusUpdating" expects while the endpoint is Updating (the whole bake)."""


def health(obj: dict[str, Any]) -> tuple[str, str | None]:
    """(status, message) as Argo CD would compute them: `obj` is a global, the script returns a table."""
    lua = LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH_LUA)
    return result["status"], result["message"]


def cond(type_: str, status: str, message: str | None = None) -> dict[str, str]:
    c = {"type": type_, "status": status}
    if message is not None:
        c["message"] = message
    return c


CASES = {
    # readone/observed/creating_after_describe.yaml
    "creating": ({"endpointStatus": "Creating",
                  "conditions": [cond("ACK.ResourceSynced", "False", "Endpoint is in Creating status.")]},
                 ("Progressing", "Endpoint is in Creating status.")),
    # update/desired/latest_updating.yaml + the Recoverable condition of the requeue it leads to: every
    # reconcile of a healthy blue/green update, for the whole bake.
    "updating": ({"endpointStatus": "Updating",
                  "conditions": [cond("ACK.ResourceSynced", "False", "Endpoint is in Updating status."),
                                 cond("ACK.Recoverable", "True", UPDATING_REQUEUE)]},
                 ("Progressing", UPDATING_REQUEUE)),
    # update/observed/update_attempted_success.yaml: right after UpdateEndpoint returned.
    "update started": ({"endpointStatus": "Updating",
                        "conditions": [cond("ACK.ResourceSynced", "False", "Endpoint is in Updating status.")]},
                       ("Progressing", "Endpoint is in Updating status.")),
    # readone/observed/inservice_no_failure_after_describe.yaml
    "updated": ({"endpointStatus": "InService",
                 "conditions": [cond("ACK.ResourceSynced", "True", "Endpoint is in InService status.")]},
                ("Healthy", "Endpoint is in InService status.")),
    # update/observed/no_retry_on_failed_update.yaml: SageMaker rolled the release back; the controller refuses
    # to retry the same configuration.
    "failed update": ({"endpointStatus": "InService",
                       "failureReason": DOWNLOAD_FAILED,
                       "conditions": [cond("ACK.ResourceSynced", "False", UPDATE_ERROR),
                                      cond("ACK.Terminal", "True", UPDATE_ERROR)]},
                      ("Degraded", UPDATE_ERROR)),
    # create/observed/invalid_create_attempted.yaml
    "terminal": ({"conditions": [cond("ACK.Terminal", "True", "InvalidParameterValue: The endpoint name must not "
                                      "include a special character.\n\tstatus code: 0, request id: ")]},
                 ("Degraded", "InvalidParameterValue: The endpoint name must not include a special character.\n"
                  "\tstatus code: 0, request id: ")),
    # readone/observed/failed_status_on_describe.yaml: SageMaker reports Failed (ResourceSynced True beside it).
    "failed": ({"endpointStatus": "Failed", "failureReason": DOWNLOAD_FAILED,
                "conditions": [cond("ACK.ResourceSynced", "True", "Endpoint is in Failed status."),
                               cond("ACK.Terminal", "True", "Endpoint status reached terminal state: Failed. "
                                    "Check the FailureReason.")]},
               ("Degraded", DOWNLOAD_FAILED)),
    # readone/observed/error_on_describe.yaml: describe failed, so nothing says the endpoint is still as wanted.
    "describe failed": ({"conditions": [cond("ACK.ResourceSynced", "True"),
                                        cond("ACK.Recoverable", "True", "ServiceUnavailable: Server is down\n\t"
                                             "status code: 0, request id: ")]},
                        ("Progressing", "ServiceUnavailable: Server is down\n\tstatus code: 0, request id: ")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_health_of_the_controllers_own_condition_sets(case: str) -> None:
    status, expected = CASES[case]
    assert health({"status": status}) == expected


def test_an_object_the_controller_has_not_seen_is_progressing() -> None:
    assert health({}) == ("Progressing", "waiting for the ACK controller (ACK.ResourceSynced)")
    assert health({"status": {}})[0] == "Progressing"


CONDITION = st.fixed_dictionaries(
    {"type": st.sampled_from(["ACK.ResourceSynced", "ACK.Terminal", "ACK.Recoverable", "ACK.Advisory",
                              "ACK.LateInitialized", "ACK.ReferencesResolved"]),
     "status": st.sampled_from(["True", "False", "Unknown"])},
    optional={"message": st.text(max_size=40)},
)
STATUS = st.fixed_dictionaries(
    {"conditions": st.lists(CONDITION, max_size=6)},
    optional={"endpointStatus": st.sampled_from(["Creating", "Updating", "SystemUpdating", "RollingBack",
                                                 "InService", "Deleting"])},
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(STATUS)
def test_only_terminal_is_degraded_and_recoverable_never_is(status: dict[str, Any]) -> None:
    """For every condition set (SageMaker not reporting a failed endpoint): Degraded exactly when ACK.Terminal is
    True; Healthy exactly when ResourceSynced is True and neither Terminal nor Recoverable is; else Progressing."""
    conditions = status["conditions"]

    def true(type_: str) -> bool:
        return any(c["type"] == type_ and c["status"] == "True" for c in conditions)

    # The script reads the last ResourceSynced condition (the controller writes one of each type).
    synced = [c for c in conditions if c["type"] == "ACK.ResourceSynced"]
    if true("ACK.Terminal"):
        expected = "Degraded"
    elif not true("ACK.Recoverable") and synced and synced[-1]["status"] == "True":
        expected = "Healthy"
    else:
        expected = "Progressing"
    assert health({"status": status})[0] == expected


@pytest.mark.parametrize("endpoint_status", ["Failed", "UpdateRollbackFailed"])
def test_sagemaker_reporting_a_failed_endpoint_is_degraded_whatever_the_conditions(endpoint_status: str) -> None:
    obj = {"status": {"endpointStatus": endpoint_status, "failureReason": "model container crashed",
                      "conditions": [cond("ACK.ResourceSynced", "True")]}}
    assert health(obj) == ("Degraded", "model container crashed")


# The drift monitor's schedule, from pkg/resource/monitoring_schedule/testdata/v1alpha1/ (v1.9.1).
SCHEDULE_CASES = {
    # readone/observed/scheduled.yaml
    "scheduled": ({"monitoringScheduleStatus": "Scheduled",
                   "conditions": [cond("ACK.ResourceSynced", "True", "MonitoringSchedule is in Scheduled status.")]},
                  ("Healthy", "MonitoringSchedule is in Scheduled status.")),
    # update/observed/updated_successfully_schedule_pending.yaml: a release switched the job definition.
    "pending after update": ({"conditions": [cond("ACK.ResourceSynced", "False",
                                                  "MonitoringSchedule is in Pending status.")]},
                             ("Progressing", "MonitoringSchedule is in Pending status.")),
    # custom_update_conditions.go: Failed sets ACK.Terminal beside Synced.
    "failed": ({"monitoringScheduleStatus": "Failed", "failureReason": "endpoint has no data capture",
                "conditions": [cond("ACK.ResourceSynced", "True", "MonitoringSchedule is in Failed status."),
                               cond("ACK.Terminal", "True", "MonitoringSchedule status reached terminal state: "
                                    "Failed. Check the FailureReason.")]},
               ("Degraded", "endpoint has no data capture")),
    # Stopped (someone called StopMonitoringSchedule): Synced to the controller, but nothing judges the endpoint.
    "stopped": ({"monitoringScheduleStatus": "Stopped",
                 "conditions": [cond("ACK.ResourceSynced", "True", "MonitoringSchedule is in Stopped status.")]},
                ("Degraded", "monitoring schedule Stopped")),
}


@pytest.mark.parametrize("case", list(SCHEDULE_CASES))
def test_health_of_a_monitoring_schedule(case: str) -> None:
    status, expected = SCHEDULE_CASES[case]
    assert health({"status": status}) == expected
