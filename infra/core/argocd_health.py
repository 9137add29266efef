"""How Argo CD judges the ACK objects of a pulled endpoint: the health script and the fields the controller writes
back. The program puts them into Argo CD's values (`infra.components.argocd`); `infra.release verify` relies on
what they mean (Healthy = the endpoint is InService on the wanted configuration).
"""

from __future__ import annotations

from infra.core.ack import GROUP, KINDS

HEALTH_LUA = """\
local hs = {status = "Progressing", message = "waiting for the ACK controller (ACK.ResourceSynced)"}
if obj.status == nil then
  return hs
end
if obj.status.endpointStatus == "Failed" or obj.status.endpointStatus == "UpdateRollbackFailed" then
  return {status = "Degraded", message = obj.status.failureReason or obj.status.endpointStatus}
end
if obj.status.monitoringScheduleStatus == "Failed" or obj.status.monitoringScheduleStatus == "Stopped" then
  return {status = "Degraded",
          message = obj.status.failureReason or ("monitoring schedule " .. obj.status.monitoringScheduleStatus)}
end
local synced, recoverable = nil, nil
for _, c in ipairs(obj.status.conditions or {}) do
  if c.type == "ACK.Terminal" and c.status == "True" then
    return {status = "Degraded", message = c.message}
  end
  if c.type == "ACK.ResourceSynced" then
    synced = c
  end
  if c.type == "ACK.Recoverable" and c.status == "True" then
    recoverable = c
  end
end
if recoverable ~= nil then
  hs.message = recoverable.message
  return hs
end
if synced ~= nil and synced.status == "True" then
  return {status = "Healthy", message = synced.message}
end
if synced ~= nil and synced.message ~= nil then
  hs.message = synced.message
end
return hs
"""
"""How Argo CD reads an ACK object (sagemaker-controller v1.9.1, ACK runtime v0.62.0):

* Healthy once `ACK.ResourceSynced` is True and no error is pending (`ACK.Recoverable` not True): the AWS
  resource matches the spec (an Endpoint: InService on the wanted configuration).
* Degraded on `ACK.Terminal` True: the controller gives up until the spec changes, e.g. `EndpointUpdateError`
  after SageMaker rolled a release back (`customUpdateEndpointPreChecks` in pkg/resource/endpoint/hooks.go, a
  terminal code in `terminalAWSError` of sdk.go); also when SageMaker itself reports the endpoint `Failed` or
  `UpdateRollbackFailed` (`status.endpointStatus`, with `status.failureReason`).
* Progressing otherwise, with the controller's message. `ACK.Recoverable` is NOT Degraded: `updateConditions`
  in pkg/resource/endpoint/sdk.go sets it True for every non-terminal error, including the requeue
  "Endpoint in Updating state cannot be modified or deleted." that `requeueUntilCanModify` returns for the whole
  bake of a healthy blue/green update (test data `update/desired/latest_updating.yaml`, scenario
  "Update=StatusUpdating" of pkg/resource/endpoint/testdata/test_suite.yaml). A Recoverable error also keeps a
  synced object Progressing (scenario "ReadOne=Fail": the controller cannot read the endpoint, so nothing says it
  is still on the wanted configuration); the runtime sets it False again on the next clean reconcile.
  A MonitoringSchedule reports `status.monitoringScheduleStatus` (Pending, Scheduled, Failed, Stopped; CRD
  v1.9.1): Pending is a modifying status, so `ACK.ResourceSynced` False (Progressing), Scheduled Synced True
  (Healthy) (`customSetOutput` in pkg/resource/monitoring_schedule/hooks.go); Failed sets `ACK.Terminal`
  (`CustomUpdateConditions`, custom_update_conditions.go) and Degraded; Stopped is Synced to the controller but
  means nothing judges the endpoint any more, so Degraded here too. A DataQualityJobDefinition has no status of
  its own: Healthy once created (Synced), Degraded on a terminal error (e.g. InvalidParameterValue).
  `tests/infra/test_argocd_health.py` runs this script in a Lua interpreter on condition sets taken from that test data.
"""

IGNORED_FIELDS = {
    # Late-initialized by the controller (generator.yaml of sagemaker-controller v1.9.1: `late_initialize`).
    "Model": ["/spec/enableNetworkIsolation"],
    "EndpointConfig": ["/spec/enableNetworkIsolation"],
    # The controller records the configuration of its last update attempt (pkg/resource/endpoint/hooks.go).
    "Endpoint": ["/metadata/annotations/sagemaker.services.k8s.aws~1last-endpoint-config-for-update"],
    # No late-initialized or written-back spec fields for these kinds (generator.yaml v1.9.1).
    "DataQualityJobDefinition": [],
    "MonitoringSchedule": [],
}
"""Fields the controller writes back; Argo CD must not call them drift (nor undo them on self-heal)."""


def argocd_resource_customizations() -> dict[str, str]:
    """`argocd-cm` keys (chart values `configs.cm`) for the ACK kinds: health and ignored differences."""
    cm = {}
    for kind in KINDS:
        cm[f"resource.customizations.health.{GROUP}_{kind}"] = HEALTH_LUA
        if IGNORED_FIELDS[kind]:
            cm[f"resource.customizations.ignoreDifferences.{GROUP}_{kind}"] = (
                "jsonPointers:\n" + "".join(f"- {p}\n" for p in IGNORED_FIELDS[kind]))
    return cm
