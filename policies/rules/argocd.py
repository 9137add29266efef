"""Argo CD rule: the installation that can change everything in the cluster is hardened in what it does.

The chart is known by its identity (its name however it is referenced, or values that configure Argo CD), and each
setting is read for its effect: a flag in any spelling the server's flag parser accepts, an ingress whose
listeners actually speak TLS, a setting in a ConfigMap the chart really creates, a default role as `policy.csv`
finally defines it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import bool_knob, strings_knob
from .kubernetes import HELM_TYPES, chart_identity, chart_reference
from .values import as_list, dig, is_false, is_true, is_unknown, iter_strings

# Argo CD's chart (argoproj/argo-helm charts/argo-cd, README): configs.cm / configs.rbac / configs.params become
# the argocd-cm, argocd-rbac-cm and argocd-cmd-params-cm ConfigMaps, each only when its `create` is true (default).
_ARGOCD_CONFIGS = ("cm", "rbac", "params")
# argocd-server parses its flags with cobra/pflag: a boolean flag is `--insecure` (true) or `--insecure=<bool>` with
# Go's strconv.ParseBool spellings (1, t, T, TRUE, true, True are true); the last occurrence wins.
_TRUE = ("1", "t", "true")
_ALB = "alb.ingress.kubernetes.io/"


def is_argocd(resource: ResourceView, values: Any) -> bool:
    chart = chart_reference(resource.props)
    if chart is not None and chart_identity(chart)[0] in resource.config["chartNames"]:
        return True
    configs = dig(values, "configs")
    return isinstance(configs, dict) and any(isinstance(configs.get(k), dict) for k in _ARGOCD_CONFIGS)


def _flag(args: list[str], name: str) -> bool | None:
    """The value a boolean pflag ends with (the last occurrence wins), None when the flag is absent."""
    found = None
    for arg in args:
        match = re.match(rf"^--{re.escape(name)}(?:=(?P<value>.*))?$", arg.strip())
        if match:
            value = match["value"]
            found = True if value is None else value.strip().lower() in _TRUE
    return found


def _insecure(values: dict[str, Any]) -> bool:
    args = list(iter_strings(dig(values, "server", "extraArgs")))
    flag = _flag(args, "insecure")
    if flag is not None:
        return flag
    for env in as_list(dig(values, "server", "env")):
        if dig(env, "name") == "ARGOCD_SERVER_INSECURE":
            return str(dig(env, "value", default="")).strip().lower() in _TRUE
    params_created = not is_false(dig(values, "configs", "params", "create", default=True))
    return params_created and is_true(dig(values, "configs", "params", "server.insecure"))


def _listeners(annotations: dict[str, Any]) -> set[str] | None:
    """The protocols an AWS Load Balancer Controller ingress listens with; None when they cannot be read."""
    raw = annotations.get(f"{_ALB}listen-ports")
    if raw is None:
        # "You need to explicitly specify to use HTTPS listener with listen-ports annotation" (AWS Load Balancer
        # Controller docs, Certificate Discovery): without it the ALB listens on HTTP.
        return {"HTTP"}
    try:
        ports = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    protocols = {str(k).upper() for entry in as_list(ports) if isinstance(entry, dict) for k in entry}
    return protocols or None


def tls_in_front(values: dict[str, Any]) -> bool:
    """Whether every way into the API server through the chart's ingress is TLS: an ALB whose listeners are all
    HTTPS (or whose HTTP listeners redirect to HTTPS), or another ingress controller given TLS for its hosts."""
    ingress = dig(values, "server", "ingress")
    if not isinstance(ingress, dict) or not is_true(ingress.get("enabled")):
        return False
    annotations = ingress.get("annotations") if isinstance(ingress.get("annotations"), dict) else {}
    if ingress.get("ingressClassName") == "alb" or ingress.get("controller") == "aws" or any(
        str(k).startswith(_ALB) for k in annotations
    ):
        protocols = _listeners(annotations)
        if not protocols or "HTTPS" not in protocols:
            return False
        return protocols == {"HTTPS"} or bool(annotations.get(f"{_ALB}ssl-redirect"))
    return is_true(ingress.get("tls")) or bool(as_list(ingress.get("extraTls")))


def _policy_lines(csv: str) -> list[list[str]]:
    return [[f.strip() for f in line.split(",")] for line in csv.splitlines() if line.strip()
            and not line.strip().startswith("#")]


def _role_writes(role: str, csv: Any) -> str | None:
    """What policy.csv lets `role` do beyond reading: an allow of any action but get, or inheriting another role."""
    if not isinstance(csv, str) or not role:
        return None
    for fields in _policy_lines(csv):
        if fields[0] == "p" and len(fields) >= 5 and fields[1] == role:
            action, effect = fields[3].lower(), (fields[5].lower() if len(fields) > 5 else "allow")
            if effect == "allow" and action != "get":
                return f"'{', '.join(fields)}'"
        if fields[0] == "g" and len(fields) >= 3 and fields[1] == role:
            return f"'{', '.join(fields)}' (it inherits {fields[2]})"
    return None


def _argocd(resource: ResourceView) -> Iterator[str]:
    values = resource.props.get("values")
    if is_unknown(values):
        return
    values = values if isinstance(values, dict) else {}
    if not is_argocd(resource, values):
        return
    name = resource.name
    if _insecure(values) and not tls_in_front(values):
        yield (
            f"Argo CD '{name}' runs the API server insecure (server.insecure, --insecure or ARGOCD_SERVER_INSECURE) "
            "without an ingress whose listeners all speak TLS in front of it"
        )
    if resource.config["requireAdminDisabled"]:
        admin = dig(values, "configs", "cm", "admin.enabled")
        if is_false(dig(values, "configs", "cm", "create", default=True)):
            yield (f"Argo CD '{name}' sets configs.cm.create: false, so the chart creates no argocd-cm and "
                   "admin.enabled (default true) is not set by it; let the chart create argocd-cm")
        elif not is_unknown(admin) and (admin is None or not is_false(admin)):
            yield (
                f"Argo CD '{name}' keeps the built-in admin account enabled (set "
                "configs.cm['admin.enabled']: false)"
            )
    rbac = dig(values, "configs", "rbac")
    default_role = dig(rbac, "policy.default", default="")
    allowed = resource.config["allowedDefaultRoles"]
    if isinstance(default_role, str) and default_role not in allowed:
        yield (
            f"Argo CD '{name}' grants every user the default role {default_role!r} "
            f"(configs.rbac['policy.default']); allowed: {', '.join(repr(r) for r in allowed)}"
        )
    elif isinstance(default_role, str):
        widened = _role_writes(default_role, dig(rbac, "policy.csv"))
        if widened:
            yield (f"Argo CD '{name}' gives every user the default role {default_role!r}, which "
                   f"configs.rbac['policy.csv'] lets write: {widened}")


RULES = [
    resource_rule(
        name="argocd-hardened",
        description=(
            "The Argo CD installation serves its API only behind TLS, disables the built-in admin account "
            "(where required) and gives users no default role wider than read-only."
        ),
        rationale=(
            "Argo CD can change everything in the cluster: its API must not be exposed in clear text, the "
            "shared admin password must not be usable in production, and users must not get write access by "
            "default."
        ),
        severity=Severity.HIGH,
        remediation=(
            "In the argo-cd chart values: keep configs.params['server.insecure'] false unless "
            "server.ingress terminates TLS; set configs.cm['admin.enabled']: false and use SSO; set "
            "configs.rbac['policy.default'] to '' or 'role:readonly'."
        ),
        resource_types=HELM_TYPES,
        check=_argocd,
        knobs={
            "chartNames": strings_knob(
                "Chart names that install Argo CD (whatever the reference: repo/name, OCI, archive URL); a chart "
                "whose values carry Argo CD's configs is judged too.",
                ["argo-cd"],
            ),
            "requireAdminDisabled": bool_knob("Require configs.cm['admin.enabled'] to be false.", True),
            "allowedDefaultRoles": strings_knob(
                "Values allowed for configs.rbac['policy.default'] ('' means no default role).",
                ["", "role:readonly"],
            ),
        },
        tags=["kubernetes", "gitops", "access-control"],
    ),
]
