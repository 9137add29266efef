"""How Argo CD judges the ACK objects of a pulled endpoint: the health script and the fields the controller writes
back. The program puts them into Argo CD's values (`infra.components.argocd`); `infra.release verify` relies on
what they mean (Healthy = the endpoint is InService on the wanted configuration).
"""

from __future__ import annotations

from infra.core.ack import GROUP, KINDS

HEALTH_LUA = """\
hs = {status = "Progressing", message = "waiting for the ACK controller (ACK.ResourceSynced)"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "ACK.Terminal" and c.status == "True" then
      return {status = "Degraded", message = c.message}
    end
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "ACK.Recoverable" and c.status == "True" then
      hs = {status = "Degraded", message = c.message}
    end
    if c.type == "ACK.ResourceSynced" then
      if c.status == "True" then
        return {status = "Healthy", message = c.message}
      end
      hs.message = c.message or hs.message
    end
  end
end
return hs
"""
"""Healthy once ACK says the AWS resource matches the spec (`ACK.ResourceSynced` True; for an Endpoint that
means InService on the wanted configuration); Degraded on a terminal error, e.g. `EndpointUpdateError` after
SageMaker rolled a release back; Progressing while the controller works (an Endpoint is Updating)."""

IGNORED_FIELDS = {
    # Late-initialized by the controller (generator.yaml of sagemaker-controller v1.9.1: `late_initialize`).
    "Model": ["/spec/enableNetworkIsolation"],
    "EndpointConfig": ["/spec/enableNetworkIsolation"],
    # The controller records the configuration of its last update attempt (pkg/resource/endpoint/hooks.go).
    "Endpoint": ["/metadata/annotations/sagemaker.services.k8s.aws~1last-endpoint-config-for-update"],
}
"""Fields the controller writes back; Argo CD must not call them drift (nor undo them on self-heal)."""


def argocd_resource_customizations() -> dict[str, str]:
    """`argocd-cm` keys (chart values `configs.cm`) for the three ACK kinds: health and ignored differences."""
    cm = {}
    for kind in KINDS:
        cm[f"resource.customizations.health.{GROUP}_{kind}"] = HEALTH_LUA
        cm[f"resource.customizations.ignoreDifferences.{GROUP}_{kind}"] = (
            "jsonPointers:\n" + "".join(f"- {p}\n" for p in IGNORED_FIELDS[kind]))
    return cm
