"""The one merge of policy config layers, as the Pulumi CLI reconciles `--policy-pack-config`.

Used by the offline verdict (infra/plan/policy_config.py, after it has validated each layer) and by the docs
generator (policies/tools/docs.py), so the docs show exactly the levels and knob values that are enforced.
Standard library only, and not imported by the pack itself (policies/__main__.py).

A layer is `(level_for_all, {rule: {"enforcementLevel": level, knob: value, ...}})`. Layers apply in order:
a layer's "all" level first, then its per-rule settings; a later layer overrides an earlier one key by key.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

Settings = dict[str, Any]
Layer = tuple[str | None, Mapping[str, Mapping[str, Any]]]


def merge(defaults: Mapping[str, Mapping[str, Any]], layers: Iterable[Layer]) -> dict[str, Settings]:
    """Every rule's settings after applying `layers` over `defaults` (rule -> level and knob defaults).

    Rules a layer does not name keep what the layers below gave them; names not in `defaults` are ignored.
    """
    result = {name: copy.deepcopy(dict(settings)) for name, settings in defaults.items()}
    for level_for_all, settings_by_rule in layers:
        if level_for_all is not None:
            for settings in result.values():
                settings["enforcementLevel"] = level_for_all
        for name, settings in settings_by_rule.items():
            if name in result:
                result[name].update(copy.deepcopy(dict(settings)))
    return result


def file_layer(raw: Mapping[str, Any]) -> Layer:
    """A `--policy-pack-config` object as a layer: `"all"` as the level for all rules, the rest per rule.

    It does not validate (the offline verdict does, before calling this): a string value is a level, an
    object is settings.
    """
    level_for_all = raw.get("all")
    if isinstance(level_for_all, Mapping):
        level_for_all = level_for_all.get("enforcementLevel")
    by_rule = {
        name: ({"enforcementLevel": value} if isinstance(value, str) else dict(value))
        for name, value in raw.items()
        if name != "all" and isinstance(value, str | Mapping)
    }
    return (level_for_all if isinstance(level_for_all, str) else None), by_rule
